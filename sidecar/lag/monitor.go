package lag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

// Snapshotter is what a Monitor measures with; *Measurer is one.
type Snapshotter interface {
	Measure(ctx context.Context) (*Snapshot, error)
}

// summarizer is a Snapshotter that can leave out the partitions of
// groups, which the monitor does not keep (*Measurer.MeasureSummary).
type summarizer interface {
	MeasureSummary(ctx context.Context) (*Snapshot, error)
}

// MonitorOptions tune a Monitor.
type MonitorOptions struct {
	// Config gives the Interval between measurements
	// (SIDECAR_LAG_INTERVAL); the connector names are the Measurer's.
	Config
	// PartitionDetail keeps each partition's lag in the summary, for
	// connect_sidecar_partition_lag_records
	// (SIDECAR_METRICS_PARTITION_DETAIL=partition).
	PartitionDetail bool
	// IsLeader tells whether this sidecar's worker leads the Connect
	// group; only the leader measures and exports. Nil: always.
	IsLeader func() bool
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Monitor measures in the background and keeps the latest result, so
// that a scrape never waits for Kafka. The age of the measurement keeps
// growing while a cluster is unreachable, and Status.Up says which one;
// readiness and the CloudWatch totals are given only for a fresh
// measurement, so that an old "ready" never passes for a current one.
type Monitor struct {
	measurer Snapshotter
	opts     MonitorOptions
	log      *slog.Logger

	mu      sync.Mutex
	started time.Time
	last    *Summary
	up      map[string]bool // cluster alias -> reachable in the latest attempt
	lastErr error
	// failures says, by cluster alias, why the latest attempt could not
	// use a cluster, as a whole or in part.
	failures map[string]kafka.Reason
	// durations of measurements by phase, and "total"; observed by Once.
	durations map[string]*Durations
}

// Summary is what a Monitor keeps of a measurement: what metrics and
// CloudWatch use. It is kept instead of the snapshot, whose per-partition
// group offsets (200,000 for 200 groups of 1,000 partitions) would
// otherwise stay alive beside the next measurement's. It is not modified
// once made.
type Summary struct {
	// Time is when the measurement ended.
	Time time.Time
	// Ready is Snapshot.Ready: both clusters reached, every lag known,
	// nothing left to copy and every group synced.
	Ready bool
	// LagKnown is Snapshot.LagKnown: every selected partition's lag was
	// read.
	LagKnown bool
	// TotalLag is Snapshot.TotalLag, the backlog of the partitions whose
	// lag is known.
	TotalLag int64
	// GroupsNotReady is Snapshot.GroupsNotReady.
	GroupsNotReady int
	// Requests counts the Kafka requests the measurement sent, by cluster
	// alias.
	Requests map[string]int64
	// ItemErrors counts the items it could not read, by kind and reason.
	ItemErrors []ItemError
	// Topics are the selected source topics, sorted.
	Topics []TopicSummary
	// Groups are the covered consumer groups, sorted.
	Groups []GroupSummary
}

// TopicSummary is the backlog of one source topic.
type TopicSummary struct {
	// Topic is the source topic's name.
	Topic string
	// Lag sums the partitions whose lag is known.
	Lag int64
	// LagKnown reports whether Lag counts every partition.
	LagKnown bool
	// Partitions holds each partition's lag (-1: unknown), with
	// MonitorOptions.PartitionDetail only.
	Partitions []int64
}

// GroupSummary is the cutover verdict of one consumer group.
type GroupSummary struct {
	// Group is the consumer group's name.
	Group string
	// Verdict is the group's: the worst of its partitions'.
	Verdict Verdict
	// RecordsBehind and RecordsSkipped are those of GroupReadiness.
	RecordsBehind, RecordsSkipped int64
}

func (m *Monitor) summarize(s *Snapshot) *Summary {
	e := &Summary{
		Time: s.Time, Ready: s.Ready(), LagKnown: s.LagKnown(), TotalLag: s.TotalLag(),
		GroupsNotReady: s.GroupsNotReady(), Requests: s.Requests, ItemErrors: s.ItemErrors(),
		Topics: make([]TopicSummary, len(s.Topics)), Groups: make([]GroupSummary, len(s.Groups)),
	}
	for i := range s.Topics {
		t := &s.Topics[i]
		e.Topics[i] = TopicSummary{Topic: t.Topic, Lag: t.Lag, LagKnown: t.LagKnown()}
		if m.opts.PartitionDetail {
			ps := make([]int64, len(t.Partitions))
			for j, p := range t.Partitions {
				ps[j] = p.Lag
				if p.Unknown != "" {
					ps[j] = -1
				}
			}
			e.Topics[i].Partitions = ps
		}
	}
	for i, g := range s.Groups {
		e.Groups[i] = GroupSummary{Group: g.Group, Verdict: g.Verdict, RecordsBehind: g.RecordsBehind, RecordsSkipped: g.RecordsSkipped}
	}
	return e
}

// Durations counts how long measurements took, as a Prometheus histogram
// does.
type Durations struct {
	// Count is how many measurements were timed.
	Count uint64
	// Sum is their total duration in seconds.
	Sum float64
	// Buckets counts, for each upper bound of DurationBounds (seconds),
	// the measurements that took at most that long.
	Buckets map[float64]uint64
}

// DurationBounds are the upper bounds, in seconds, of Durations.Buckets:
// from a small migration's tens of milliseconds up to a cycle cut off at
// its interval.
func DurationBounds() []float64 {
	return []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
}

func (d *Durations) observe(seconds float64) {
	bounds := DurationBounds()
	if d.Buckets == nil {
		d.Buckets = make(map[float64]uint64, len(bounds))
		for _, b := range bounds {
			d.Buckets[b] = 0
		}
	}
	d.Count++
	d.Sum += seconds
	for _, b := range bounds {
		if seconds <= b {
			d.Buckets[b]++
		}
	}
}

// Totals are the leader-only CloudWatch figures.
type Totals struct {
	// BacklogRecords is the backlog of every selected topic.
	BacklogRecords int64
	// GroupsNotReady counts the covered groups not synced.
	GroupsNotReady int
}

// NewMonitor returns a Monitor measuring with m; call Run to start.
func NewMonitor(m Snapshotter, opts MonitorOptions) *Monitor {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.IsLeader == nil {
		opts.IsLeader = func() bool { return true }
	}
	return &Monitor{measurer: m, opts: opts, log: opts.Logger, started: opts.Now(), up: map[string]bool{}, durations: map[string]*Durations{}}
}

// Run measures every Interval until ctx ends, while this sidecar leads.
func (m *Monitor) Run(ctx context.Context) {
	if m.opts.Interval <= 0 {
		return
	}
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		if m.opts.IsLeader() {
			m.Once(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// timeout bounds one measurement: the interval, at least 10s.
func (m *Monitor) timeout() time.Duration { return max(m.opts.Interval, 10*time.Second) }

// fresh reports whether the latest measurement stands for now: the latest
// attempt succeeded, no longer ago than two measurements may take.
// The caller holds m.mu.
func (m *Monitor) fresh(now time.Time) bool {
	return m.last != nil && m.lastErr == nil && now.Sub(m.last.Time) <= 2*m.timeout()
}

// observe adds one duration of phase ("total" for the whole attempt).
// The caller holds m.mu.
func (m *Monitor) observe(phase string, d time.Duration) {
	ds := m.durations[phase]
	if ds == nil {
		ds = &Durations{}
		m.durations[phase] = ds
	}
	ds.observe(d.Seconds())
}

// Once runs one measurement now, bounded by the interval (at least 10s).
func (m *Monitor) Once(ctx context.Context) {
	mctx, cancel := context.WithTimeout(ctx, m.timeout())
	defer cancel()
	start := time.Now()
	measure := m.measurer.Measure
	if sm, ok := m.measurer.(summarizer); ok {
		measure = sm.MeasureSummary
	}
	snap, err := measure(mctx)
	total := time.Since(start)
	var e *Summary
	if err == nil {
		e = m.summarize(snap)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = err
	m.observe("total", total)
	m.failures = nil
	if err != nil {
		var ce *kafka.ClusterError
		if errors.As(err, &ce) {
			m.up[ce.Alias] = false
			m.failures = map[string]kafka.Reason{ce.Alias: ce.Reason}
			m.log.Warn("lag measurement failed", "cluster", ce.Alias, "reason", string(ce.Reason), "err", err)
			return
		}
		m.log.Warn("lag measurement failed", "err", err)
		return
	}
	for _, ph := range snap.Phases {
		m.observe(ph.Name, ph.Duration)
	}
	m.last = e
	m.up = map[string]bool{snap.SourceAlias: true, snap.TargetAlias: true}
	for alias := range snap.Unreachable {
		m.up[alias] = false
	}
	// One line per cluster with a problem, whether the whole cluster or
	// only some items failed; the counts say how much is unknown.
	var unknown []string
	for _, e := range snap.ItemErrors() {
		unknown = append(unknown, fmt.Sprintf("%s %s: %d", e.Item, e.Reason, e.Count))
	}
	for _, p := range snap.Problems() {
		if m.failures == nil {
			m.failures = map[string]kafka.Reason{}
		}
		m.failures[p.Alias] = p.Reason
		m.log.Warn("lag measurement failed", "cluster", p.Alias, "reason", string(p.Reason), "err", p.Error(), "unknown", strings.Join(unknown, ", "))
	}
}

// LastError is the error of the latest attempt, nil after a success.
func (m *Monitor) LastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// Totals returns the figures for CloudWatch's TotalBacklogRecords and
// GroupsNotReady; ok is false when this sidecar is not the leader or has
// no fresh measurement (none yet, the latest attempt failed, or it is old)
// or some partition's lag is unknown: a partial backlog must not pass for
// the total.
func (m *Monitor) Totals() (t Totals, ok bool) {
	if !m.opts.IsLeader() {
		return Totals{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.fresh(m.opts.Now()) || !m.last.LagKnown {
		return Totals{}, false
	}
	return Totals{BacklogRecords: m.last.TotalLag, GroupsNotReady: m.last.GroupsNotReady}, true
}

// Status is what a Monitor knows at one moment, for export.
type Status struct {
	// Now is when the status was taken, by the Monitor's clock.
	Now time.Time
	// Interval is the configured time between measurements.
	Interval time.Duration
	// Started is when the Monitor was made: without a measurement yet,
	// the age of the latest one counts from it.
	Started time.Time
	// Latest is the latest successful measurement; nil before the first.
	Latest *Summary
	// Fresh reports whether Latest stands for Now: the latest attempt
	// succeeded, no longer ago than two measurements may take.
	Fresh bool
	// Up says, by cluster alias, whether the latest attempt reached the
	// cluster.
	Up map[string]bool
	// Failures says, by cluster alias, why the latest attempt could not
	// use a cluster, as a whole or in part; empty after a success.
	Failures map[string]kafka.Reason
	// Durations are how long the attempts since start took, by phase and
	// "total"; a failed attempt counts in "total" only.
	Durations map[string]Durations
}

// Status returns what the Monitor knows now, a copy the caller may keep;
// ok is false unless this sidecar leads, as only the leader exports.
func (m *Monitor) Status() (s Status, ok bool) {
	if !m.opts.IsLeader() {
		return Status{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	s = Status{
		Now: now, Interval: m.opts.Interval, Started: m.started, Latest: m.last, Fresh: m.fresh(now),
		Up: maps.Clone(m.up), Failures: maps.Clone(m.failures), Durations: make(map[string]Durations, len(m.durations)),
	}
	for phase, d := range m.durations {
		s.Durations[phase] = Durations{Count: d.Count, Sum: d.Sum, Buckets: maps.Clone(d.Buckets)}
	}
	return s, true
}
