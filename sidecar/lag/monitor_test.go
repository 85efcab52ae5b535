package lag

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

func TestCollectorExportsAndLints(t *testing.T) {
	e := scenario(t)
	m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: []kgo.Opt{kgo.RetryTimeout(time.Second)}})
	t.Cleanup(m.Close)
	clock := &fakeClock{t: time.Now()}
	c := NewCollector(m, CollectorOptions{Interval: time.Second, PartitionDetail: true, Now: clock.now})
	c.Once(ctxT(t))
	if err := c.LastError(); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %+v", err, problems)
	}
	want := `
# HELP connect_sidecar_topic_lag_records Records of a source topic not yet copied by MirrorMaker 2.
# TYPE connect_sidecar_topic_lag_records gauge
connect_sidecar_topic_lag_records{topic="orders"} 14
connect_sidecar_topic_lag_records{topic="payments"} 0
# HELP connect_sidecar_partition_lag_records Records of a source partition not yet copied by MirrorMaker 2.
# TYPE connect_sidecar_partition_lag_records gauge
connect_sidecar_partition_lag_records{partition="0",topic="orders"} 0
connect_sidecar_partition_lag_records{partition="1",topic="orders"} 4
connect_sidecar_partition_lag_records{partition="2",topic="orders"} 10
connect_sidecar_partition_lag_records{partition="0",topic="payments"} 0
# HELP connect_sidecar_group_records_behind Records a consumer group would consume twice if it moved to the target now.
# TYPE connect_sidecar_group_records_behind gauge
connect_sidecar_group_records_behind{group="g-behind"} 2
connect_sidecar_group_records_behind{group="g-neg"} 0
connect_sidecar_group_records_behind{group="g-nocp"} 0
connect_sidecar_group_records_behind{group="g-synced"} 0
# HELP connect_sidecar_migration_ready 1 when a fresh lag measurement finds nothing left to copy and every covered consumer group synced.
# TYPE connect_sidecar_migration_ready gauge
connect_sidecar_migration_ready 0
# HELP connect_sidecar_lag_up 1 when the latest lag measurement reached the cluster.
# TYPE connect_sidecar_lag_up gauge
connect_sidecar_lag_up{cluster="src"} 1
connect_sidecar_lag_up{cluster="tgt"} 1
`
	names := []string{"connect_sidecar_topic_lag_records", "connect_sidecar_partition_lag_records", "connect_sidecar_group_records_behind", "connect_sidecar_migration_ready", "connect_sidecar_lag_up"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	verdicts := map[string]string{"g-behind": "behind", "g-neg": "negative-lag", "g-nocp": "no-checkpoint", "g-synced": "synced"}
	for g, v := range verdicts {
		for _, x := range Verdicts() {
			want := 0.0
			if string(x) == v {
				want = 1
			}
			if got := gaugeValue(t, c, "connect_sidecar_group_verdict", map[string]string{"group": g, "verdict": string(x)}); got != want {
				t.Errorf("group_verdict{%s,%s} = %v, want %v", g, x, got, want)
			}
		}
	}
	if tot, ok := c.Totals(); !ok || tot.BacklogRecords != 14 || tot.GroupsNotReady != 3 {
		t.Errorf("totals = %+v %v, want 14 and 3", tot, ok)
	}
	checkMeasurementCost(t, c, 1)

	// The source goes away: lag_up says which cluster, its items are
	// counted as unknown by reason, the lag it cannot measure is no longer
	// exported, and nothing is ready or reported to CloudWatch.
	clock.t = clock.t.Add(90 * time.Second)
	e.src.Close()
	c.Once(ctxT(t))
	if err := c.LastError(); err != nil {
		t.Fatalf("a measurement with the source down failed as a whole: %v", err)
	}
	if got := gaugeValue(t, c, "connect_sidecar_lag_up", map[string]string{"cluster": "src"}); got != 0 {
		t.Errorf("lag_up{src} = %v, want 0", got)
	}
	if got := gaugeValue(t, c, "connect_sidecar_lag_up", map[string]string{"cluster": "tgt"}); got != 1 {
		t.Errorf("lag_up{tgt} = %v, want 1", got)
	}
	if got := gaugeValue(t, c, "connect_sidecar_lag_error", map[string]string{"cluster": "src", "reason": string(kafka.ReasonUnreachable)}); got != 1 {
		t.Errorf("lag_error{src,unreachable} = %v, want 1", got)
	}
	if got := gaugeValue(t, c, "connect_sidecar_lag_items_in_error", map[string]string{"item": "partition", "reason": "unreachable"}); got != 4 {
		t.Errorf("lag_items_in_error{partition,unreachable} = %v, want 4", got)
	}
	if got := gaugeValue(t, c, "connect_sidecar_group_verdict", map[string]string{"group": "g-synced", "verdict": "unknown"}); got != 1 {
		t.Errorf("group_verdict{g-synced,unknown} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(c, "connect_sidecar_topic_lag_records", "connect_sidecar_partition_lag_records"); n != 0 {
		t.Errorf("%d lag series exported with the source down, want none", n)
	}
	if got := gaugeValue(t, c, "connect_sidecar_migration_ready", nil); got != 0 {
		t.Errorf("migration_ready = %v with the source down", got)
	}
	if _, ok := c.Totals(); ok {
		t.Error("CloudWatch totals given with the source's lag unknown")
	}
}

// TestCollectorTargetDown: with the target down the lag read from the
// source is still exported, and the group partitions that could not be
// judged are counted by reason.
func TestCollectorTargetDown(t *testing.T) {
	e := scenario(t)
	m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: []kgo.Opt{kgo.RetryTimeout(time.Second)}})
	t.Cleanup(m.Close)
	c := NewCollector(m, CollectorOptions{Interval: time.Second})
	c.Once(ctxT(t))
	e.tgt.Close()
	c.Once(ctxT(t))
	if err := c.LastError(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"connect_sidecar_topic_lag_records", map[string]string{"topic": "orders"}, 14},
		{"connect_sidecar_lag_up", map[string]string{"cluster": "tgt"}, 0},
		{"connect_sidecar_lag_up", map[string]string{"cluster": "src"}, 1},
		{"connect_sidecar_lag_items_in_error", map[string]string{"item": "group_partition", "reason": "checkpoints unreachable"}, 4},
		{"connect_sidecar_group_verdict", map[string]string{"group": "g-behind", "verdict": "unknown"}, 1},
		{"connect_sidecar_migration_ready", nil, 0},
	} {
		if got := gaugeValue(t, c, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// The backlog is whole (source and Connect answered), so CloudWatch
	// still gets it; every group counts as not ready.
	if tot, ok := c.Totals(); !ok || tot.BacklogRecords != 14 || tot.GroupsNotReady != 4 {
		t.Errorf("totals = %+v %v, want 14 records and 4 groups not ready", tot, ok)
	}
}

// checkMeasurementCost checks the figures about the measurements
// themselves after n of them: one duration per phase and in total, the
// requests of the latest, and the interval.
func checkMeasurementCost(t *testing.T, c *Collector, n uint64) {
	t.Helper()
	if got := gaugeValue(t, c, "connect_sidecar_lag_interval_seconds", nil); got != c.opts.Interval.Seconds() {
		t.Errorf("lag_interval_seconds = %v, want %v", got, c.opts.Interval.Seconds())
	}
	for _, cluster := range []string{"src", "tgt"} {
		// At least metadata and ListOffsets on the source; metadata,
		// ListOffsets, FindCoordinator and OffsetFetch on the target.
		if got := gaugeValue(t, c, "connect_sidecar_lag_measurement_requests", map[string]string{"cluster": cluster}); got < 3 {
			t.Errorf("lag_measurement_requests{%s} = %v, want at least 3", cluster, got)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() == "connect_sidecar_lag_measurement_duration_seconds" {
			for _, m := range mf.GetMetric() {
				counts[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
			}
		}
	}
	for _, ph := range []string{PhaseConnectOffsets, PhaseSourceOffsets, PhaseSourceGroups, PhaseCheckpoints, PhaseTargetOffsets, "total"} {
		if counts[ph] != n {
			t.Errorf("duration{phase=%q} count = %d, want %d (all: %v)", ph, counts[ph], n, counts)
		}
	}
}

// TestCollectorLagErrorClears: the reason of a failure is exported until
// a measurement succeeds.
func TestCollectorLagErrorClears(t *testing.T) {
	m := &scriptedMeasure{clock: &fakeClock{t: time.Now()}, results: []error{kafka.Cluster{Role: kafka.Target, Alias: "tgt"}.Wrap("metadata", kerr.GroupAuthorizationFailed), nil}}
	c := NewCollector(m, CollectorOptions{Interval: time.Second})
	c.Once(ctxT(t))
	if got := gaugeValue(t, c, "connect_sidecar_lag_error", map[string]string{"cluster": "tgt", "reason": string(kafka.ReasonAuthorization)}); got != 1 {
		t.Errorf("lag_error{tgt,authorization} = %v, want 1", got)
	}
	c.Once(ctxT(t))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "connect_sidecar_lag_error" {
			t.Errorf("lag_error still exported after a success: %v", mf)
		}
	}
}

func gaugeValue(t *testing.T, c prometheus.Collector, name string, labels map[string]string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

type blockingMeasure struct{ release chan struct{} }

func (b blockingMeasure) Measure(ctx context.Context) (*Snapshot, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil, &kafka.ClusterError{Role: kafka.Target, Alias: "tgt", Err: context.DeadlineExceeded}
}

func TestCollectorNeverWaitsForKafka(t *testing.T) {
	b := blockingMeasure{release: make(chan struct{})}
	leader := false
	c := NewCollector(b, CollectorOptions{Interval: time.Hour, IsLeader: func() bool { return leader }})
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("a follower exported %d series, want none", n)
	}
	if _, ok := c.Totals(); ok {
		t.Error("a follower reported CloudWatch totals")
	}
	leader = true
	done := make(chan struct{})
	go func() { c.Once(context.Background()); close(done) }()
	// A measurement hangs on Kafka; a scrape still answers at once.
	if age := gaugeValue(t, c, "connect_sidecar_lag_measurement_age_seconds", nil); age < 0 {
		t.Errorf("age = %v", age)
	}
	close(b.release)
	<-done
	if got := gaugeValue(t, c, "connect_sidecar_lag_up", map[string]string{"cluster": "tgt"}); got != 0 {
		t.Errorf("lag_up{tgt} = %v, want 0", got)
	}
}

// scriptedMeasure answers each Measure with the next result of a script.
type scriptedMeasure struct {
	clock   *fakeClock
	results []error // nil: a successful, ready measurement
}

func (s *scriptedMeasure) Measure(context.Context) (*Snapshot, error) {
	err := s.results[0]
	s.results = s.results[1:]
	if err != nil {
		return nil, err
	}
	return &Snapshot{Time: s.clock.t, SourceAlias: "src", TargetAlias: "tgt",
		Topics: []TopicLag{{Topic: "orders", Lag: 0}}}, nil
}

// TestCollectorStaleMeasurementIsNotReady: a "ready" measured before a
// cluster went away, or too long ago, must not stay on /metrics or in
// CloudWatch as if it were current; the age says how old it is.
func TestCollectorStaleMeasurementIsNotReady(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	down := &kafka.ClusterError{Role: kafka.Source, Alias: "src", Err: errors.New("connection refused")}
	m := &scriptedMeasure{clock: clock, results: []error{nil, down, nil}}
	c := NewCollector(m, CollectorOptions{Interval: 30 * time.Second, Now: clock.now})
	steps := []struct {
		name    string
		advance time.Duration
		measure bool
		ready   float64
		totals  bool
		age     float64
	}{
		{"measured", 0, true, 1, true, 0},
		{"source down", 30 * time.Second, true, 0, false, 30},
		{"source back", 30 * time.Second, true, 1, true, 0},
		{"no measurement since", 59 * time.Second, false, 1, true, 59},
		{"older than two intervals", 2 * time.Second, false, 0, false, 61},
	}
	for _, st := range steps {
		clock.t = clock.t.Add(st.advance)
		if st.measure {
			c.Once(context.Background())
		}
		if got := gaugeValue(t, c, "connect_sidecar_migration_ready", nil); got != st.ready {
			t.Errorf("%s: migration_ready = %v, want %v", st.name, got, st.ready)
		}
		if _, ok := c.Totals(); ok != st.totals {
			t.Errorf("%s: CloudWatch totals given = %v, want %v", st.name, ok, st.totals)
		}
		if got := gaugeValue(t, c, "connect_sidecar_lag_measurement_age_seconds", nil); got != st.age {
			t.Errorf("%s: age = %v, want %v", st.name, got, st.age)
		}
		if got := gaugeValue(t, c, "connect_sidecar_topic_lag_records", map[string]string{"topic": "orders"}); got != 0 {
			t.Errorf("%s: the last topic lag is no longer exported", st.name)
		}
	}
}
