package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bounded"
)

// JMXSnapshot is what the sidecar learnt from the latest scrape of the
// worker's JMX exporter. When Up is false the numbers are not to be used.
type JMXSnapshot struct {
	// LeaderURL is Connect's rebalance leader-name: the leader's REST URL.
	LeaderURL string
	// BacklogRecords is this worker's replication backlog: the sum of
	// records-lag over the consumers of the MM2 source tasks it runs.
	BacklogRecords float64
	// MaxRecordAgeMs is the largest record age, in milliseconds, over this
	// worker's MM2 source task partitions; NaN when none reported a number.
	MaxRecordAgeMs float64
	// MaxReplicationLatencyMs is the largest replication latency, in
	// milliseconds, over the same partitions; NaN when none reported a
	// number.
	MaxReplicationLatencyMs float64
	// At is when the scrape ended, whether it succeeded or not; zero before
	// the first scrape.
	At time.Time
	// Up is true when the scrape succeeded; false before the first scrape
	// and after a failed one.
	Up bool
}

// JMXStatusError is returned when the JMX exporter answers with a non-200 status.
type JMXStatusError struct {
	// URL is the exporter's address that was scraped.
	URL string
	// Status is the HTTP status code it answered.
	Status int
}

func (e *JMXStatusError) Error() string {
	return fmt.Sprintf("jmx exporter %s: http status %d", e.URL, e.Status)
}

// JMX scrapes the worker's JMX exporter, streams the exposition through a
// Processor, and keeps the latest JMXSnapshot. It is safe for concurrent use.
type JMX struct {
	url      string
	timeout  time.Duration
	maxBytes int64
	maxAge   time.Duration
	client   *http.Client
	reg      *Registry
	procs    sync.Pool

	mu   sync.Mutex
	snap JMXSnapshot
}

// JMXOptions configure NewJMX.
type JMXOptions struct {
	// URL is the exporter's /metrics; empty turns the passthrough off (every
	// scrape fails and jmx_up is 0).
	URL string
	// Timeout bounds one scrape, body included; 0 or less is 10s.
	Timeout time.Duration
	// Labels are added to every passed-through sample.
	Labels TaskLabels
	// PerTopic reduces series with both a topic and a partition label to
	// one per topic; false passes every partition's series.
	PerTopic bool
	// Client makes the requests; nil is a client with no timeout of its
	// own (Timeout applies per scrape).
	Client *http.Client
	// MaxBytes is the most read of one answer (default 256 MiB); a longer
	// one ends the passthrough there and counts as a failed scrape.
	MaxBytes int64
	// MaxAge is how old a snapshot may be for LeaderURL to trust it
	// (default 2 minutes).
	MaxAge time.Duration
}

// NewJMX returns a scraper reporting jmx_up and scrape duration to reg.
func NewJMX(opts JMXOptions, reg *Registry) *JMX {
	client := opts.Client
	if client == nil {
		client = &http.Client{}
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 2 * time.Minute
	}
	if opts.Timeout <= 0 {
		// /metrics renderings are shared and not bound to one scraper's
		// request: a scrape must end by itself.
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 256 << 20
	}
	j := &JMX{url: opts.URL, timeout: opts.Timeout, maxBytes: opts.MaxBytes, maxAge: opts.MaxAge, client: client, reg: reg}
	j.procs.New = func() any { return NewProcessor(opts.Labels, opts.PerTopic) }
	j.snap = JMXSnapshot{MaxRecordAgeMs: math.NaN(), MaxReplicationLatencyMs: math.NaN()}
	return j
}

// Snapshot returns the latest snapshot.
func (j *JMX) Snapshot() JMXSnapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.snap
}

// LeaderURL returns the Connect group leader's REST URL from a fresh,
// successful scrape; ok is false otherwise. It fits
// worker.NewLeader.
func (j *JMX) LeaderURL() (string, bool) {
	s := j.Snapshot()
	if !s.Up || s.LeaderURL == "" || time.Since(s.At) > j.maxAge {
		return "", false
	}
	return s.LeaderURL, true
}

// Scrape fetches the exposition once, writes the rewritten series to w and
// refreshes the snapshot. Whatever fails, the snapshot and jmx_up record it;
// the error says what failed.
func (j *JMX) Scrape(ctx context.Context, w io.Writer) (ProcessResult, error) {
	start := time.Now()
	res, err := j.scrape(ctx, w)
	snap := JMXSnapshot{At: time.Now(), Up: err == nil,
		MaxRecordAgeMs: math.NaN(), MaxReplicationLatencyMs: math.NaN()}
	if err == nil {
		snap.LeaderURL = res.LeaderURL
		snap.BacklogRecords = res.BacklogRecords
		snap.MaxRecordAgeMs = res.MaxRecordAgeMs
		snap.MaxReplicationLatencyMs = res.MaxReplicationLatencyMs
	}
	j.mu.Lock()
	j.snap = snap
	j.mu.Unlock()
	if j.reg != nil {
		j.reg.observeJMX(err == nil, time.Since(start), res.Malformed)
	}
	return res, err
}

func (j *JMX) scrape(ctx context.Context, w io.Writer) (ProcessResult, error) {
	if j.url == "" {
		return ProcessResult{}, fmt.Errorf("jmx exporter: no SIDECAR_JMX_URL")
	}
	if j.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
	if err != nil {
		return ProcessResult{}, fmt.Errorf("jmx exporter %s: %w", j.url, err)
	}
	// The classic text format: the processor does not read OpenMetrics.
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	resp, err := j.client.Do(req)
	if err != nil {
		return ProcessResult{}, fmt.Errorf("jmx exporter %s: %w", j.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return ProcessResult{}, &JMXStatusError{URL: j.url, Status: resp.StatusCode}
	}
	p := j.procs.Get().(*Processor)
	defer j.procs.Put(p)
	res, err := p.Process(bounded.Reader(resp.Body, j.maxBytes, ErrExpositionTooLarge), w)
	if errors.Is(err, ErrExpositionTooLarge) {
		return res, fmt.Errorf("jmx exporter %s: %w: over %d bytes (SIDECAR_JMX_MAX_BYTES)", j.url, ErrExpositionTooLarge, j.maxBytes)
	}
	if err != nil {
		return res, fmt.Errorf("jmx exporter %s: %w", j.url, err)
	}
	return res, nil
}

// ErrExpositionTooLarge is a JMX exporter answer longer than
// SIDECAR_JMX_MAX_BYTES.
var ErrExpositionTooLarge = errors.New("exposition too large")

// Run refreshes the snapshot every interval when nothing else scraped in the
// meantime (the /metrics handler scrapes too), until ctx ends.
func (j *JMX) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		// Ticks and ctx.Done() may be ready together; select picks either.
		if ctx.Err() != nil {
			return
		}
		if time.Since(j.Snapshot().At) >= interval/2 {
			_, _ = j.Scrape(ctx, io.Discard)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
