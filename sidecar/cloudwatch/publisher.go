// Package cloudwatch owns the scaling metrics the sidecar publishes to
// Amazon CloudWatch: which datums, with which dimensions, how they are
// batched, retried and buffered (mode api), or printed as Embedded Metric
// Format lines (mode emf). It does not measure anything itself: the JMX
// snapshot, task counts and leader-only values come from other packages.
package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsretry "github.com/aws/aws-sdk-go-v2/aws/retry"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/mm2-fargate/mm2-ecs/sidecar/metrics"
	"github.com/mm2-fargate/mm2-ecs/sidecar/retry"
)

// Metric names and dimensions: a public interface (scaling policy, alarms).
const (
	MetricBacklog         = "ReplicationBacklogRecords"
	MetricMaxRecordAge    = "MaxRecordAge"
	MetricMaxLatency      = "MaxReplicationLatency"
	MetricRunningTasks    = "RunningTasks"
	MetricFailedTasks     = "FailedTasks"
	MetricTotalBacklog    = "TotalBacklogRecords"
	MetricGroupsNotReady  = "GroupsNotReady"
	DimensionClusterName  = "ClusterName"
	DimensionServiceName  = "ServiceName"
	maxDatumsPerRequest   = 1000
	maxBytesPerRequest    = 1 << 20
	requestOverheadBytes  = 4 << 10 // namespace, envelope, headroom
	datumOverheadBytes    = 160     // CBOR keys, unit, value, timestamp, resolution
	defaultRetryBase      = 500 * time.Millisecond
	defaultMaxPutAttempts = 5
)

// Modes of SIDECAR_CLOUDWATCH_MODE.
const (
	ModeAPI = "api"
	ModeEMF = "emf"
	ModeOff = "off"
)

// Datum is one value of one metric at one time, with the publisher's dimensions.
type Datum struct {
	// Name is one of the Metric* names.
	Name string
	// Unit is Count for record and task counts, Milliseconds for ages and
	// latencies.
	Unit types.StandardUnit
	// Value is never NaN or infinite: such a value is left out, not sent.
	Value float64
	// Time is the interval's tick, sent as the datum's timestamp.
	Time time.Time
}

// API is the part of the CloudWatch client the publisher uses.
type API interface {
	PutMetricData(ctx context.Context, in *cw.PutMetricDataInput, optFns ...func(*cw.Options)) (*cw.PutMetricDataOutput, error)
}

// JMXSource supplies this worker's replication figures.
type JMXSource interface {
	Snapshot() metrics.JMXSnapshot
}

// TaskCounter supplies the number of tasks running and failed on this worker.
type TaskCounter interface {
	LocalTaskCounts() (running, failed int, ok bool)
}

// Recorder counts what happened to datums and requests (metrics.Registry).
type Recorder interface {
	CountCloudWatchDropped(n int)
	CountCloudWatchPut(outcome string)
}

// Options configure New. Mode, Namespace, Interval, Buffer and Resolution
// come from Config; the rest are the publisher's collaborators.
type Options struct {
	// Mode is ModeAPI, ModeEMF or ModeOff; anything else is an error, and
	// off publishes nothing.
	Mode string
	// Namespace is the CloudWatch namespace; empty is "MM2/Connect".
	Namespace string
	// Interval is the time between two publications; it must be positive
	// (except in mode off). It also caps the retry backoff, and a JMX
	// snapshot older than twice it is left out.
	Interval time.Duration
	// Buffer is how many datums are kept while CloudWatch is unreachable,
	// the oldest dropped first; 0 or less is 10000.
	Buffer int
	// Resolution is the storage resolution in seconds: 1, or 60 for any
	// other value.
	Resolution int
	// ClusterName is the ClusterName dimension of every datum, the ECS
	// cluster; required unless mode is off.
	ClusterName string
	// ServiceName is the ServiceName dimension of every datum, the ECS
	// service; required unless mode is off.
	ServiceName string

	// API sends the datums in mode api, where it is required.
	API API
	// EMF receives one Embedded Metric Format line per interval in mode
	// emf, where it is required; usually os.Stdout.
	EMF io.Writer
	// JMX supplies the backlog, record age and latency datums; nil leaves
	// them out.
	JMX JMXSource
	// Tasks supplies the running and failed task datums; nil leaves them
	// out.
	Tasks TaskCounter
	// Recorder counts dropped datums and request outcomes; nil counts
	// nothing.
	Recorder Recorder
	// Log receives failures to publish; nil discards.
	Log *slog.Logger
	// Leader, when set, is asked at every interval for the leader-only
	// datums; ok is false when this sidecar is not the leader or has no
	// fresh measurement, and then they are left out.
	Leader func() (totalBacklogRecords float64, groupsNotReady int, ok bool)

	// RetryBase is the first backoff after throttling; it doubles per
	// attempt, up to Interval. 0 or less is 500ms.
	RetryBase time.Duration
	// MaxPutAttempts bounds the attempts of one request within an interval;
	// what is left stays buffered for the next interval. 0 or less is 5.
	MaxPutAttempts int
}

// Publisher publishes the scaling datums every interval. Its methods never
// block on CloudWatch: only Run talks to it.
type Publisher struct {
	o Options

	mu  sync.Mutex
	buf []types.MetricDatum // oldest first, at most o.Buffer
}

// New validates opts and returns a publisher; Run starts it.
func New(opts Options) (*Publisher, error) {
	switch opts.Mode {
	case ModeAPI:
		if opts.API == nil {
			return nil, errors.New("cloudwatch: mode api needs a CloudWatch client")
		}
	case ModeEMF:
		if opts.EMF == nil {
			return nil, errors.New("cloudwatch: mode emf needs an output")
		}
	case ModeOff:
		return &Publisher{o: opts}, nil
	default:
		return nil, fmt.Errorf("cloudwatch: mode %q: must be api, emf or off", opts.Mode)
	}
	if opts.ClusterName == "" || opts.ServiceName == "" {
		return nil, fmt.Errorf("cloudwatch: dimensions ClusterName=%q ServiceName=%q: both must be set (from ECS task metadata)", opts.ClusterName, opts.ServiceName)
	}
	if opts.Interval <= 0 {
		return nil, fmt.Errorf("cloudwatch: interval %s: must be positive", opts.Interval)
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 10000
	}
	if opts.Resolution != 1 {
		opts.Resolution = 60
	}
	if opts.Namespace == "" {
		opts.Namespace = "MM2/Connect"
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = defaultRetryBase
	}
	if opts.MaxPutAttempts <= 0 {
		opts.MaxPutAttempts = defaultMaxPutAttempts
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{o: opts}, nil
}

// Run publishes every interval until ctx ends. In mode off it returns at once.
func (p *Publisher) Run(ctx context.Context) {
	if p.o.Mode == ModeOff {
		return
	}
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.Publish(ctx, now)
		}
	}
}

// Publish collects the datums of one interval at now and sends them (api)
// or prints them (emf), with whatever earlier intervals left buffered.
func (p *Publisher) Publish(ctx context.Context, now time.Time) {
	datums := p.Collect(now)
	switch p.o.Mode {
	case ModeEMF:
		if len(datums) == 0 {
			return
		}
		if err := writeEMF(p.o.EMF, p.o.Namespace, p.dimensions(), p.o.Resolution, now, datums); err != nil {
			p.o.Log.Warn("write embedded metric format", "err", err)
		}
	case ModeAPI:
		p.enqueue(datums)
		p.send(ctx)
	}
}

// Collect returns this interval's datums. A value that cannot be known (JMX
// down, no MM2 task has reported a number, task state not read yet) is left
// out rather than published as 0, which would read as "no backlog".
func (p *Publisher) Collect(now time.Time) []Datum {
	var out []Datum
	add := func(name string, unit types.StandardUnit, v float64) {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, Datum{Name: name, Unit: unit, Value: v, Time: now})
		}
	}
	if p.o.JMX != nil {
		if s := p.o.JMX.Snapshot(); s.Up && now.Sub(s.At) <= 2*p.o.Interval {
			add(MetricBacklog, types.StandardUnitCount, s.BacklogRecords)
			add(MetricMaxRecordAge, types.StandardUnitMilliseconds, s.MaxRecordAgeMs)
			add(MetricMaxLatency, types.StandardUnitMilliseconds, s.MaxReplicationLatencyMs)
		}
	}
	if p.o.Tasks != nil {
		if running, failed, ok := p.o.Tasks.LocalTaskCounts(); ok {
			add(MetricRunningTasks, types.StandardUnitCount, float64(running))
			add(MetricFailedTasks, types.StandardUnitCount, float64(failed))
		}
	}
	if p.o.Leader != nil {
		if total, notReady, ok := p.o.Leader(); ok {
			add(MetricTotalBacklog, types.StandardUnitCount, total)
			add(MetricGroupsNotReady, types.StandardUnitCount, float64(notReady))
		}
	}
	return out
}

func (p *Publisher) dimensions() []types.Dimension {
	return []types.Dimension{
		{Name: aws.String(DimensionClusterName), Value: aws.String(p.o.ClusterName)},
		{Name: aws.String(DimensionServiceName), Value: aws.String(p.o.ServiceName)},
	}
}

// enqueue appends datums, dropping the oldest beyond the buffer's bound.
func (p *Publisher) enqueue(datums []Datum) {
	dims := p.dimensions()
	res := int32(p.o.Resolution)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range datums {
		p.buf = append(p.buf, types.MetricDatum{
			MetricName:        aws.String(d.Name),
			Dimensions:        dims,
			Unit:              d.Unit,
			Value:             aws.Float64(d.Value),
			Timestamp:         aws.Time(d.Time),
			StorageResolution: aws.Int32(res),
		})
	}
	if over := len(p.buf) - p.o.Buffer; over > 0 {
		p.buf = append(p.buf[:0], p.buf[over:]...)
		p.drop(over)
	}
}

func (p *Publisher) drop(n int) {
	if p.o.Recorder != nil {
		p.o.Recorder.CountCloudWatchDropped(n)
	}
}

func (p *Publisher) countPut(outcome string) {
	if p.o.Recorder != nil {
		p.o.Recorder.CountCloudWatchPut(outcome)
	}
}

// Buffered returns how many datums wait for CloudWatch.
func (p *Publisher) Buffered() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buf)
}

// nextBatch returns the longest prefix of the buffer one request can carry.
func (p *Publisher) nextBatch() []types.MetricDatum {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := requestOverheadBytes + len(p.o.Namespace)
	n := 0
	for n < len(p.buf) && n < maxDatumsPerRequest {
		s := datumSize(p.buf[n])
		if n > 0 && size+s > maxBytesPerRequest {
			break
		}
		size += s
		n++
	}
	return append([]types.MetricDatum(nil), p.buf[:n]...)
}

// datumSize is an upper bound of a datum's encoded size.
func datumSize(d types.MetricDatum) int {
	s := datumOverheadBytes + len(aws.ToString(d.MetricName)) + len(d.Unit)
	for _, dim := range d.Dimensions {
		s += 16 + len(aws.ToString(dim.Name)) + len(aws.ToString(dim.Value))
	}
	return s
}

// sent removes the first n datums, which CloudWatch has accepted or rejected.
func (p *Publisher) sent(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = min(n, len(p.buf))
	p.buf = append(p.buf[:0], p.buf[n:]...)
}

// send drains the buffer in as few requests as the limits allow. Throttling
// and transient failures are retried with exponential backoff and jitter;
// when attempts run out the datums stay buffered for the next interval.
func (p *Publisher) send(ctx context.Context) {
	for {
		batch := p.nextBatch()
		if len(batch) == 0 {
			return
		}
		err := p.put(ctx, batch)
		switch {
		case err == nil:
			p.countPut("ok")
			p.sent(len(batch))
		case isPermanent(err):
			// CloudWatch will never take this batch; keeping it would block
			// every later datum.
			p.countPut("rejected")
			p.o.Log.Error("cloudwatch rejected metric data", "datums", len(batch), "err", err)
			p.sent(len(batch))
			p.drop(len(batch))
		default:
			p.o.Log.Warn("cannot publish to CloudWatch; datums stay buffered", "buffered", p.Buffered(), "err", err)
			return
		}
	}
}

func (p *Publisher) put(ctx context.Context, batch []types.MetricDatum) error {
	in := &cw.PutMetricDataInput{Namespace: aws.String(p.o.Namespace), MetricData: batch}
	// Equal jitter (half the backoff plus a random half): the sidecars of a
	// service throttled together do not retry together.
	backoff := retry.Backoff{Initial: p.o.RetryBase, Max: p.o.Interval, Jitter: retry.EqualJitter}
	for attempt := 1; ; attempt++ {
		_, err := p.o.API.PutMetricData(ctx, in)
		if err == nil || isPermanent(err) {
			return err
		}
		throttled := awsretry.IsErrorThrottles(awsretry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
		if throttled {
			p.countPut("throttled")
		} else {
			p.countPut("error")
		}
		if attempt >= p.o.MaxPutAttempts || ctx.Err() != nil {
			return err
		}
		b := backoff
		if attempt == 1 {
			// The interval caps the growth of the backoff, not its start:
			// a RetryBase longer than the interval is still waited once.
			b.Max = max(b.Max, b.Initial)
		}
		if err := retry.Wait(ctx, b.Delay(attempt)); err != nil {
			return err
		}
	}
}

// isPermanent tells an answer CloudWatch would give again (a bad datum)
// from throttling, server errors and network failures.
func isPermanent(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if awsretry.IsErrorThrottles(awsretry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return false
	}
	if awsretry.IsErrorRetryables(awsretry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
		return false
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		return code >= 400 && code < 500 && code != 429 && code != 408
	}
	return false
}
