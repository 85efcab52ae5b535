package lag

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

// Snapshotter is what a Collector measures with; *Measurer is one.
type Snapshotter interface {
	Measure(ctx context.Context) (*Snapshot, error)
}

// summarizer is a Snapshotter that can leave out the partitions of
// groups, which the collector does not export (*Measurer.MeasureSummary).
type summarizer interface {
	MeasureSummary(ctx context.Context) (*Snapshot, error)
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
	last    *exported
	up      map[string]bool // cluster alias -> reachable in the latest attempt
	lastErr error
	// failures says, by cluster alias, why the latest attempt could not
	// use a cluster, as a whole or in part.
	failures map[string]kafka.Reason

	descTopic, descPartition, descVerdict, descBehind, descReady *prometheus.Desc
	descSkipped                                                  *prometheus.Desc
	descTS, descAge, descUp, descError                           *prometheus.Desc
	descItemErrors, descRequests, descInterval                   *prometheus.Desc
	// duration of measurements by phase, and "total"; observed by Once.
	duration *prometheus.HistogramVec
}

// exported is what Collect and Totals use of a measurement. The
// collector keeps it instead of the snapshot, whose per-partition group
// offsets (200,000 for 200 groups of 1,000 partitions) would otherwise stay
// alive beside the next measurement's.
type exported struct {
	time           time.Time
	ready          bool
	lagKnown       bool
	totalLag       int64
	groupsNotReady int
	requests       map[string]int64
	itemErrors     []ItemError
	topics         []exportedTopic
	groups         []exportedGroup
}

type exportedTopic struct {
	topic string
	lag   int64
	known bool
	// partitions holds each partition's lag (-1: unknown), with
	// PartitionDetail only.
	partitions []int64
}

type exportedGroup struct {
	group           string
	verdict         Verdict
	behind, skipped int64
}

func (c *Collector) export(s *Snapshot) *exported {
	e := &exported{
		time: s.Time, ready: s.Ready(), lagKnown: s.LagKnown(), totalLag: s.TotalLag(),
		groupsNotReady: s.GroupsNotReady(), requests: s.Requests, itemErrors: s.ItemErrors(),
		topics: make([]exportedTopic, len(s.Topics)), groups: make([]exportedGroup, len(s.Groups)),
	}
	for i := range s.Topics {
		t := &s.Topics[i]
		e.topics[i] = exportedTopic{topic: t.Topic, lag: t.Lag, known: t.LagKnown()}
		if c.opts.PartitionDetail {
			ps := make([]int64, len(t.Partitions))
			for j, p := range t.Partitions {
				ps[j] = p.Lag
				if p.Unknown != "" {
					ps[j] = -1
				}
			}
			e.topics[i].partitions = ps
		}
	}
	for i, g := range s.Groups {
		e.groups[i] = exportedGroup{group: g.Group, verdict: g.Verdict, behind: g.RecordsBehind, skipped: g.RecordsSkipped}
	}
	return e
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
		descTopic:      d("topic_lag_records", "Records of a source topic not yet copied by MirrorMaker 2.", "topic"),
		descPartition:  d("partition_lag_records", "Records of a source partition not yet copied by MirrorMaker 2.", "topic", "partition"),
		descVerdict:    d("group_verdict", "Cutover readiness of a consumer group: 1 for its current verdict.", "group", "verdict"),
		descBehind:     d("group_records_behind", "Records a consumer group would consume twice if it moved to the target now.", "group"),
		descSkipped:    d("group_records_skipped", "Records a consumer group would never read if it moved to the target now (rewound or target-ahead).", "group"),
		descReady:      d("migration_ready", "1 when a fresh lag measurement finds nothing left to copy and every covered consumer group synced."),
		descTS:         d("lag_measurement_timestamp_seconds", "Unix time of the latest complete lag measurement."),
		descAge:        d("lag_measurement_age_seconds", "Seconds since the latest complete lag measurement (since start when none)."),
		descUp:         d("lag_up", "1 when the latest lag measurement reached the cluster.", "cluster"),
		descItemErrors: d("lag_items_in_error", "Items the latest lag measurement could not read (shown as unknown), by kind of item and reason.", "item", "reason"),
		descRequests:   d("lag_measurement_requests", "Kafka requests the latest lag measurement sent to the cluster.", "cluster"),
		descInterval:   d("lag_interval_seconds", "Configured time between lag measurements (SIDECAR_LAG_INTERVAL)."),
		descError:      d("lag_error", "1 for why the latest lag measurement could not use a cluster (reason: authentication, broker_certificate_untrusted, client_certificate_expired, client_certificate_rejected, authorization, client_settings, unreachable, other); absent after a success.", "cluster", "reason"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "connect_sidecar_lag_measurement_duration_seconds",
			Help: "Duration of lag measurements by phase (connect_offsets, source_offsets, source_groups, checkpoints, target_offsets) and in total, failed ones included.",
			// From a small migration's tens of milliseconds up to a
			// cycle cut off at its interval.
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"phase"}),
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
	return c.last != nil && c.lastErr == nil && now.Sub(c.last.time) <= 2*c.timeout()
}

// Once runs one measurement now, bounded by the interval (at least 10s).
func (c *Collector) Once(ctx context.Context) {
	mctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	start := time.Now()
	measure := c.m.Measure
	if sm, ok := c.m.(summarizer); ok {
		measure = sm.MeasureSummary
	}
	snap, err := measure(mctx)
	total := time.Since(start)
	var e *exported
	if err == nil {
		e = c.export(snap)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	c.duration.WithLabelValues("total").Observe(total.Seconds())
	c.failures = nil
	if err != nil {
		var ce *kafka.ClusterError
		if errors.As(err, &ce) {
			c.up[ce.Alias] = false
			c.failures = map[string]kafka.Reason{ce.Alias: ce.Reason}
			c.log.Warn("lag measurement failed", "cluster", ce.Alias, "reason", string(ce.Reason), "err", err)
			return
		}
		c.log.Warn("lag measurement failed", "err", err)
		return
	}
	for _, ph := range snap.Phases {
		c.duration.WithLabelValues(ph.Name).Observe(ph.Duration.Seconds())
	}
	c.last = e
	c.up = map[string]bool{snap.SourceAlias: true, snap.TargetAlias: true}
	for alias := range snap.Unreachable {
		c.up[alias] = false
	}
	for _, p := range snap.Problems() {
		if c.failures == nil {
			c.failures = map[string]kafka.Reason{}
		}
		c.failures[p.Alias] = p.Reason
		c.log.Warn("lag measurement failed", "cluster", p.Alias, "reason", string(p.Reason), "err", p.Error())
	}
}

// LastError is the error of the latest attempt, nil after a success.
func (c *Collector) LastError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Totals returns the figures for CloudWatch's TotalBacklogRecords and
// GroupsNotReady; ok is false when this sidecar is not the leader or has
// no fresh measurement (none yet, the latest attempt failed, or it is old)
// or some partition's lag is unknown: a partial backlog must not pass for
// the total.
func (c *Collector) Totals() (t Totals, ok bool) {
	if !c.opts.IsLeader() {
		return Totals{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fresh(c.opts.Now()) || !c.last.lagKnown {
		return Totals{}, false
	}
	return Totals{BacklogRecords: c.last.totalLag, GroupsNotReady: c.last.groupsNotReady}, true
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descTopic, c.descPartition, c.descVerdict, c.descBehind, c.descSkipped, c.descReady, c.descTS, c.descAge, c.descUp, c.descItemErrors, c.descRequests, c.descInterval, c.descError} {
		ch <- d
	}
	c.duration.Describe(ch)
}

// Collect exports the latest measurement; nothing unless leader.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if !c.opts.IsLeader() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.opts.Now()
	ch <- prometheus.MustNewConstMetric(c.descInterval, prometheus.GaugeValue, c.opts.Interval.Seconds())
	c.duration.Collect(ch)
	for alias, up := range c.up {
		ch <- prometheus.MustNewConstMetric(c.descUp, prometheus.GaugeValue, b2f(up), alias)
	}
	for alias, reason := range c.failures {
		ch <- prometheus.MustNewConstMetric(c.descError, prometheus.GaugeValue, 1, alias, string(reason))
	}
	if c.last == nil {
		ch <- prometheus.MustNewConstMetric(c.descAge, prometheus.GaugeValue, now.Sub(c.started).Seconds())
		return
	}
	s := c.last
	ch <- prometheus.MustNewConstMetric(c.descTS, prometheus.GaugeValue, float64(s.time.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.descAge, prometheus.GaugeValue, now.Sub(s.time).Seconds())
	ch <- prometheus.MustNewConstMetric(c.descReady, prometheus.GaugeValue, b2f(c.fresh(now) && s.ready))
	for alias, n := range s.requests {
		ch <- prometheus.MustNewConstMetric(c.descRequests, prometheus.GaugeValue, float64(n), alias)
	}
	for _, e := range s.itemErrors {
		ch <- prometheus.MustNewConstMetric(c.descItemErrors, prometheus.GaugeValue, float64(e.Count), e.Item, e.Reason)
	}
	// A lag that leaves out unknown partitions is not exported: its series
	// goes stale and lag_items_in_error says why.
	for _, t := range s.topics {
		if t.known {
			ch <- prometheus.MustNewConstMetric(c.descTopic, prometheus.GaugeValue, float64(t.lag), t.topic)
		}
		for p, lag := range t.partitions {
			if lag >= 0 {
				ch <- prometheus.MustNewConstMetric(c.descPartition, prometheus.GaugeValue, float64(lag), t.topic, strconv.Itoa(p))
			}
		}
	}
	for _, g := range s.groups {
		for _, v := range Verdicts() {
			ch <- prometheus.MustNewConstMetric(c.descVerdict, prometheus.GaugeValue, b2f(g.verdict == v), g.group, string(v))
		}
		ch <- prometheus.MustNewConstMetric(c.descBehind, prometheus.GaugeValue, float64(g.behind), g.group)
		ch <- prometheus.MustNewConstMetric(c.descSkipped, prometheus.GaugeValue, float64(g.skipped), g.group)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
