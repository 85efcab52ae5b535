package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

// scriptedLag answers each Measure with the next snapshot or error of a
// script.
type scriptedLag struct {
	snaps []*lag.Snapshot
	errs  []error
}

func (s *scriptedLag) Measure(context.Context) (*lag.Snapshot, error) {
	snap, err := s.snaps[0], s.errs[0]
	s.snaps, s.errs = s.snaps[1:], s.errs[1:]
	return snap, err
}

// migrationSnapshot is a measurement of a migration in every state a
// group can be in: orders has 14 records to copy, payments none.
func migrationSnapshot(at time.Time) *lag.Snapshot {
	return &lag.Snapshot{
		Time: at, SourceAlias: "src", TargetAlias: "tgt",
		Phases: []lag.Phase{
			{Name: lag.PhaseConnectOffsets, Duration: 30 * time.Millisecond}, {Name: lag.PhaseSourceOffsets, Duration: 3 * time.Second},
			{Name: lag.PhaseSourceGroups}, {Name: lag.PhaseCheckpoints, Duration: 200 * time.Millisecond}, {Name: lag.PhaseTargetOffsets, Duration: 200 * time.Second},
		},
		Requests: map[string]int64{"src": 5, "tgt": 7},
		Topics: []lag.TopicLag{
			{Topic: "orders", RemoteTopic: "orders", Lag: 14, Partitions: []lag.PartitionLag{{Partition: 0}, {Partition: 1, Lag: 4}, {Partition: 2, Lag: 10}}},
			{Topic: "payments", RemoteTopic: "payments", Partitions: []lag.PartitionLag{{Partition: 0}}},
		},
		Groups: []lag.GroupReadiness{
			{Group: "g-behind", Verdict: lag.Behind, RecordsBehind: 2},
			{Group: "g-neg", Verdict: lag.NegativeLag},
			{Group: "g-nocp", Verdict: lag.NoCheckpoint},
			{Group: "g-synced", Verdict: lag.Synced},
		},
	}
}

// sourceDownSnapshot is the same migration measured with the source
// unreachable: every source item unknown.
func sourceDownSnapshot(at time.Time) *lag.Snapshot {
	s := migrationSnapshot(at)
	s.Unreachable = map[string]string{"src": "source cluster unreachable"}
	for i := range s.Topics {
		t := &s.Topics[i]
		t.Lag, t.Unknown = 0, "unreachable"
		for j := range t.Partitions {
			t.Partitions[j] = lag.PartitionLag{Partition: int32(j), Start: -1, End: -1, Copied: -1, Unknown: "unreachable"}
		}
	}
	for i := range s.Groups {
		s.Groups[i] = lag.GroupReadiness{Group: s.Groups[i].Group, Verdict: lag.Unknown, Unknown: "unreachable"}
	}
	return s
}

func TestLagCollectorExportsAndLints(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	m := &scriptedLag{snaps: []*lag.Snapshot{migrationSnapshot(clock.t), sourceDownSnapshot(clock.t.Add(90 * time.Second))}, errs: []error{nil, nil}}
	mon := lag.NewMonitor(m, lag.MonitorOptions{Config: lag.Config{Interval: time.Second}, PartitionDetail: true, Now: clock.now})
	c := NewLagCollector(mon)
	mon.Once(context.Background())
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
# HELP connect_sidecar_lag_measurement_requests Kafka requests the latest lag measurement sent to the cluster.
# TYPE connect_sidecar_lag_measurement_requests gauge
connect_sidecar_lag_measurement_requests{cluster="src"} 5
connect_sidecar_lag_measurement_requests{cluster="tgt"} 7
# HELP connect_sidecar_lag_interval_seconds Configured time between lag measurements (SIDECAR_LAG_INTERVAL).
# TYPE connect_sidecar_lag_interval_seconds gauge
connect_sidecar_lag_interval_seconds 1
# HELP connect_sidecar_lag_measurement_age_seconds Seconds since the latest complete lag measurement (since start when none).
# TYPE connect_sidecar_lag_measurement_age_seconds gauge
connect_sidecar_lag_measurement_age_seconds 0
`
	names := []string{"connect_sidecar_topic_lag_records", "connect_sidecar_partition_lag_records", "connect_sidecar_group_records_behind",
		"connect_sidecar_migration_ready", "connect_sidecar_lag_up", "connect_sidecar_lag_measurement_requests",
		"connect_sidecar_lag_interval_seconds", "connect_sidecar_lag_measurement_age_seconds"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	verdicts := map[string]string{"g-behind": "behind", "g-neg": "negative-lag", "g-nocp": "no-checkpoint", "g-synced": "synced"}
	for g, v := range verdicts {
		for _, x := range lag.Verdicts() {
			want := 0.0
			if string(x) == v {
				want = 1
			}
			if got := gaugeValue(t, c, "connect_sidecar_group_verdict", map[string]string{"group": g, "verdict": string(x)}); got != want {
				t.Errorf("group_verdict{%s,%s} = %v, want %v", g, x, got, want)
			}
		}
	}
	if got, want := gaugeValue(t, c, "connect_sidecar_lag_measurement_timestamp_seconds", nil), float64(clock.t.UnixNano())/1e9; got != want {
		t.Errorf("lag_measurement_timestamp_seconds = %v, want %v", got, want)
	}
	checkDurations(t, c, migrationSnapshot(clock.t).Phases)

	// The source goes away: lag_up says which cluster, its items are
	// counted as unknown by reason, the lag it cannot measure is no longer
	// exported, and nothing is ready.
	clock.t = clock.t.Add(90 * time.Second)
	mon.Once(context.Background())
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"connect_sidecar_lag_up", map[string]string{"cluster": "src"}, 0},
		{"connect_sidecar_lag_up", map[string]string{"cluster": "tgt"}, 1},
		{"connect_sidecar_lag_items_in_error", map[string]string{"item": "partition", "reason": "unreachable"}, 4},
		{"connect_sidecar_lag_items_in_error", map[string]string{"item": "topic", "reason": "unreachable"}, 2},
		{"connect_sidecar_group_verdict", map[string]string{"group": "g-synced", "verdict": "unknown"}, 1},
		{"connect_sidecar_migration_ready", nil, 0},
	} {
		if got := gaugeValue(t, c, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(c, "connect_sidecar_topic_lag_records", "connect_sidecar_partition_lag_records"); n != 0 {
		t.Errorf("%d lag series exported with the source down, want none", n)
	}
}

// checkDurations checks the duration histogram after one measurement of
// phases against a client_golang histogram with the buckets the metric
// has always had.
func checkDurations(t *testing.T, c prometheus.Collector, phases []lag.Phase) {
	t.Helper()
	got := map[string]*dto.Histogram{}
	for _, m := range family(t, c, "connect_sidecar_lag_measurement_duration_seconds").GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetHistogram()
	}
	if h := got["total"]; h == nil || h.GetSampleCount() != 1 {
		t.Errorf("duration{phase=total} = %v, want one measurement", h)
	}
	for _, ph := range phases {
		ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}})
		ref.Observe(ph.Duration.Seconds())
		var want dto.Metric
		if err := ref.Write(&want); err != nil {
			t.Fatal(err)
		}
		h := got[ph.Name]
		if h == nil {
			t.Errorf("no duration{phase=%q}", ph.Name)
			continue
		}
		if h.GetSampleCount() != 1 || h.GetSampleSum() != want.Histogram.GetSampleSum() || len(h.GetBucket()) != len(want.Histogram.GetBucket()) {
			t.Errorf("duration{phase=%q} = %v, want %v", ph.Name, h, want.Histogram)
			continue
		}
		for i, b := range h.GetBucket() {
			w := want.Histogram.GetBucket()[i]
			if b.GetUpperBound() != w.GetUpperBound() || b.GetCumulativeCount() != w.GetCumulativeCount() {
				t.Errorf("duration{phase=%q} bucket %d = %v, want %v", ph.Name, i, b, w)
			}
		}
	}
}

// TestLagCollectorErrorClears: the reason of a failure is exported until
// a measurement succeeds.
func TestLagCollectorErrorClears(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	failed := kafka.Cluster{Role: kafka.Target, Alias: "tgt"}.Wrap("metadata", kerr.GroupAuthorizationFailed)
	m := &scriptedLag{snaps: []*lag.Snapshot{nil, migrationSnapshot(clock.t)}, errs: []error{failed, nil}}
	mon := lag.NewMonitor(m, lag.MonitorOptions{Config: lag.Config{Interval: time.Second}, Now: clock.now})
	c := NewLagCollector(mon)
	mon.Once(context.Background())
	if got := gaugeValue(t, c, "connect_sidecar_lag_error", map[string]string{"cluster": "tgt", "reason": string(kafka.ReasonAuthorization)}); got != 1 {
		t.Errorf("lag_error{tgt,authorization} = %v, want 1", got)
	}
	if got := gaugeValue(t, c, "connect_sidecar_lag_up", map[string]string{"cluster": "tgt"}); got != 0 {
		t.Errorf("lag_up{tgt} = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(c, "connect_sidecar_migration_ready", "connect_sidecar_lag_measurement_timestamp_seconds"); n != 0 {
		t.Errorf("%d series of a measurement exported before any succeeded", n)
	}
	mon.Once(context.Background())
	if n := testutil.CollectAndCount(c, "connect_sidecar_lag_error"); n != 0 {
		t.Errorf("lag_error still exported after a success (%d series)", n)
	}
}

func TestLagCollectorFollowerExportsNothing(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	m := &scriptedLag{snaps: []*lag.Snapshot{migrationSnapshot(clock.t)}, errs: []error{nil}}
	leader := true
	mon := lag.NewMonitor(m, lag.MonitorOptions{Config: lag.Config{Interval: time.Second}, Now: clock.now, IsLeader: func() bool { return leader }})
	c := NewLagCollector(mon)
	mon.Once(context.Background())
	if n := testutil.CollectAndCount(c); n == 0 {
		t.Fatal("the leader exports nothing")
	}
	leader = false
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("a follower exported %d series, want none", n)
	}
}

// TestLagCollectorStaleMeasurementIsNotReady: a "ready" measured before a
// cluster went away, or too long ago, must not stay on /metrics as if it
// were current; the age says how old it is.
func TestLagCollectorStaleMeasurementIsNotReady(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	ready := func() *lag.Snapshot {
		return &lag.Snapshot{Time: clock.t, SourceAlias: "src", TargetAlias: "tgt", Topics: []lag.TopicLag{{Topic: "orders"}}}
	}
	down := &kafka.ClusterError{Role: kafka.Source, Alias: "src", Err: errors.New("connection refused")}
	m := &scriptedLag{errs: []error{nil, down, nil}}
	mon := lag.NewMonitor(m, lag.MonitorOptions{Config: lag.Config{Interval: 30 * time.Second}, Now: clock.now})
	c := NewLagCollector(mon)
	if got := gaugeValue(t, c, "connect_sidecar_lag_measurement_age_seconds", nil); got != 0 {
		t.Errorf("age before any measurement = %v, want 0 (since start)", got)
	}
	steps := []struct {
		name    string
		advance time.Duration
		measure bool
		ready   float64
		age     float64
	}{
		{"measured", 0, true, 1, 0},
		{"source down", 30 * time.Second, true, 0, 30},
		{"source back", 30 * time.Second, true, 1, 0},
		{"no measurement since", 59 * time.Second, false, 1, 59},
		{"older than two intervals", 2 * time.Second, false, 0, 61},
	}
	for _, st := range steps {
		clock.t = clock.t.Add(st.advance)
		if st.measure {
			m.snaps = append(m.snaps, ready())
			mon.Once(context.Background())
		}
		if got := gaugeValue(t, c, "connect_sidecar_migration_ready", nil); got != st.ready {
			t.Errorf("%s: migration_ready = %v, want %v", st.name, got, st.ready)
		}
		if got := gaugeValue(t, c, "connect_sidecar_lag_measurement_age_seconds", nil); got != st.age {
			t.Errorf("%s: age = %v, want %v", st.name, got, st.age)
		}
		if got := gaugeValue(t, c, "connect_sidecar_topic_lag_records", map[string]string{"topic": "orders"}); got != 0 {
			t.Errorf("%s: the last topic lag is no longer exported", st.name)
		}
	}
}

// family gathers c and returns the family name; the test fails when
// there is none.
func family(t *testing.T, c prometheus.Collector, name string) *dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

func gaugeValue(t *testing.T, c prometheus.Collector, name string, labels map[string]string) float64 {
	t.Helper()
next:
	for _, m := range family(t, c, name).GetMetric() {
		for _, lp := range m.GetLabel() {
			if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
				continue next
			}
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}
