package kafka

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshotter is what a Collector measures with; *Measurer is one.
type Snapshotter interface {
	Measure(ctx context.Context) (*Snapshot, error)
}

// CollectorOptions tune a Collector.
type CollectorOptions struct {
	// Interval between measurements (SIDECAR_LAG_INTERVAL).
	Interval time.Duration
	// PartitionDetail adds connect_sidecar_partition_lag_records
	// (SIDECAR_METRICS_PARTITION_DETAIL=partition).
	PartitionDetail bool
	// IsLeader tells whether this sidecar's worker leads the Connect
	// group; only the leader measures and exports. Nil: always.
	IsLeader func() bool
	Logger   *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Collector measures in the background and exports the latest result, so
// that a scrape never waits for Kafka. The age of the measurement keeps
// growing while a cluster is unreachable, and lag_up says which one; the
// ready gauge and the CloudWatch totals are given only for a fresh
// measurement, so that an old "ready" never passes for a current one.
type Collector struct {
	m    Snapshotter
	opts CollectorOptions
	log  *slog.Logger

	mu      sync.Mutex
	started time.Time
	last    *Snapshot
	up      map[string]bool // cluster alias -> reachable in the latest attempt
	lastErr error
	failure *ClusterError // why the latest attempt could not reach a cluster

	descTopic, descPartition, descVerdict, descBehind, descReady *prometheus.Desc
	descTS, descAge, descUp, descError                           *prometheus.Desc
}

// Totals are the leader-only CloudWatch figures.
type Totals struct {
	BacklogRecords int64
	GroupsNotReady int
}

// NewCollector returns a Collector; call Run to start measuring.
func NewCollector(m Snapshotter, opts CollectorOptions) *Collector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.IsLeader == nil {
		opts.IsLeader = func() bool { return true }
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("connect_sidecar_"+name, help, labels, nil)
	}
	return &Collector{
		m: m, opts: opts, log: opts.Logger, started: opts.Now(), up: map[string]bool{},
		descTopic:     d("topic_lag_records", "Records of a source topic not yet copied by MirrorMaker 2.", "topic"),
		descPartition: d("partition_lag_records", "Records of a source partition not yet copied by MirrorMaker 2.", "topic", "partition"),
		descVerdict:   d("group_verdict", "Cutover readiness of a consumer group: 1 for its current verdict.", "group", "verdict"),
		descBehind:    d("group_records_behind", "Records a consumer group would consume twice if it moved to the target now.", "group"),
		descReady:     d("migration_ready", "1 when a fresh lag measurement finds nothing left to copy and every covered consumer group synced."),
		descTS:        d("lag_measurement_timestamp_seconds", "Unix time of the latest complete lag measurement."),
		descAge:       d("lag_measurement_age_seconds", "Seconds since the latest complete lag measurement (since start when none)."),
		descUp:        d("lag_up", "1 when the latest lag measurement reached the cluster.", "cluster"),
		descError:     d("lag_error", "1 for why the latest lag measurement could not use a cluster (reason: authentication, broker_certificate_untrusted, client_certificate_expired, client_certificate_rejected, authorization, client_settings, unreachable, other); absent after a success.", "cluster", "reason"),
	}
}

// Run measures every Interval until ctx ends, while this sidecar leads.
func (c *Collector) Run(ctx context.Context) {
	if c.opts.Interval <= 0 {
		return
	}
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		if c.opts.IsLeader() {
			c.Once(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// timeout bounds one measurement: the interval, at least 10s.
func (c *Collector) timeout() time.Duration { return max(c.opts.Interval, 10*time.Second) }

// fresh reports whether the latest measurement stands for now: the latest
// attempt succeeded, no longer ago than two measurements may take.
// The caller holds c.mu.
func (c *Collector) fresh(now time.Time) bool {
	return c.last != nil && c.lastErr == nil && now.Sub(c.last.Time) <= 2*c.timeout()
}

// Once runs one measurement now, bounded by the interval (at least 10s).
func (c *Collector) Once(ctx context.Context) {
	mctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	snap, err := c.m.Measure(mctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	c.failure = nil
	if err != nil {
		var ce *ClusterError
		if errors.As(err, &ce) {
			c.up[ce.Alias] = false
			c.failure = ce
			c.log.Warn("lag measurement failed", "cluster", ce.Alias, "reason", string(ce.Reason), "err", err)
			return
		}
		c.log.Warn("lag measurement failed", "err", err)
		return
	}
	c.last = snap
	c.up = map[string]bool{snap.SourceAlias: true, snap.TargetAlias: true}
}

// LastError is the error of the latest attempt, nil after a success.
func (c *Collector) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Totals returns the figures for CloudWatch's TotalBacklogRecords and
// GroupsNotReady; ok is false when this sidecar is not the leader or has
// no fresh measurement (none yet, the latest attempt failed, or it is old).
func (c *Collector) Totals() (t Totals, ok bool) {
	if !c.opts.IsLeader() {
		return Totals{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fresh(c.opts.Now()) {
		return Totals{}, false
	}
	return Totals{BacklogRecords: c.last.TotalLag(), GroupsNotReady: c.last.GroupsNotReady()}, true
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descTopic, c.descPartition, c.descVerdict, c.descBehind, c.descReady, c.descTS, c.descAge, c.descUp, c.descError} {
		ch <- d
	}
}

// Collect exports the latest measurement; nothing unless leader.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if !c.opts.IsLeader() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	for alias, up := range c.up {
		ch <- prometheus.MustNewConstMetric(c.descUp, prometheus.GaugeValue, b2f(up), alias)
	}
	if f := c.failure; f != nil {
		ch <- prometheus.MustNewConstMetric(c.descError, prometheus.GaugeValue, 1, f.Alias, string(f.Reason))
	}
	if c.last == nil {
		ch <- prometheus.MustNewConstMetric(c.descAge, prometheus.GaugeValue, now.Sub(c.started).Seconds())
		return
	}
	s := c.last
	ch <- prometheus.MustNewConstMetric(c.descTS, prometheus.GaugeValue, float64(s.Time.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.descAge, prometheus.GaugeValue, now.Sub(s.Time).Seconds())
	ch <- prometheus.MustNewConstMetric(c.descReady, prometheus.GaugeValue, b2f(c.fresh(now) && s.Ready()))
	for _, t := range s.Topics {
		ch <- prometheus.MustNewConstMetric(c.descTopic, prometheus.GaugeValue, float64(t.Lag), t.Topic)
		if c.opts.PartitionDetail {
			for _, p := range t.Partitions {
				ch <- prometheus.MustNewConstMetric(c.descPartition, prometheus.GaugeValue, float64(p.Lag), t.Topic, strconv.Itoa(int(p.Partition)))
			}
		}
	}
	for _, g := range s.Groups {
		for _, v := range Verdicts() {
			ch <- prometheus.MustNewConstMetric(c.descVerdict, prometheus.GaugeValue, b2f(g.Verdict == v), g.Group, string(v))
		}
		ch <- prometheus.MustNewConstMetric(c.descBehind, prometheus.GaugeValue, float64(g.RecordsBehind), g.Group)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
