package lag

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

type fakeClock struct{ t time.Time }

func (f *fakeClock) now() time.Time { return f.t }

// status is the monitor's status; the test fails when it has none.
func status(t *testing.T, m *Monitor) Status {
	t.Helper()
	s, ok := m.Status()
	if !ok {
		t.Fatal("no status from a leader")
	}
	return s
}

func verdicts(s *Summary) map[string]Verdict {
	out := map[string]Verdict{}
	for _, g := range s.Groups {
		out[g.Group] = g.Verdict
	}
	return out
}

// TestMonitorSummarizes runs in a bubble: with the source down, the
// clients give up after their retry timeout on the bubble's clock.
func TestMonitorSummarizes(t *testing.T) { scenarioInBubble(t, testMonitorSummarizes) }

func testMonitorSummarizes(t *testing.T, e *migration) {
	m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: e.clientOpts(kgo.RetryTimeout(time.Second))})
	t.Cleanup(m.Close)
	clock := &fakeClock{t: time.Now()}
	mon := NewMonitor(m, MonitorOptions{Config: Config{Interval: time.Second}, PartitionDetail: true, Now: clock.now})
	mon.Once(ctxT(t))
	if err := mon.LastError(); err != nil {
		t.Fatal(err)
	}
	s := status(t, mon)
	wantTopics := []TopicSummary{
		{Topic: "orders", Lag: 14, LagKnown: true, Partitions: []int64{0, 4, 10}},
		{Topic: "payments", Lag: 0, LagKnown: true, Partitions: []int64{0}},
	}
	if !reflect.DeepEqual(s.Latest.Topics, wantTopics) {
		t.Errorf("topics = %+v, want %+v", s.Latest.Topics, wantTopics)
	}
	wantGroups := []GroupSummary{
		{Group: "g-behind", Verdict: Behind, RecordsBehind: 2},
		{Group: "g-neg", Verdict: NegativeLag},
		{Group: "g-nocp", Verdict: NoCheckpoint},
		{Group: "g-synced", Verdict: Synced},
	}
	if !reflect.DeepEqual(s.Latest.Groups, wantGroups) {
		t.Errorf("groups = %+v, want %+v", s.Latest.Groups, wantGroups)
	}
	if s.Latest.Ready || !s.Fresh {
		t.Errorf("ready = %v, fresh = %v: want a fresh measurement, not ready", s.Latest.Ready, s.Fresh)
	}
	if want := map[string]bool{"src": true, "tgt": true}; !reflect.DeepEqual(s.Up, want) || len(s.Failures) != 0 {
		t.Errorf("up = %v, failures = %v: want both clusters up, no failure", s.Up, s.Failures)
	}
	if tot, ok := mon.Totals(); !ok || tot.BacklogRecords != 14 || tot.GroupsNotReady != 3 {
		t.Errorf("totals = %+v %v, want 14 and 3", tot, ok)
	}
	checkMeasurementCost(t, s, 1)

	// The source goes away: Up says which cluster, its items are counted
	// as unknown by reason, no lag it cannot measure passes for known,
	// and nothing is ready or reported to CloudWatch.
	clock.t = clock.t.Add(90 * time.Second)
	e.src.Close()
	mon.Once(ctxT(t))
	if err := mon.LastError(); err != nil {
		t.Fatalf("a measurement with the source down failed as a whole: %v", err)
	}
	s = status(t, mon)
	if want := map[string]bool{"src": false, "tgt": true}; !reflect.DeepEqual(s.Up, want) {
		t.Errorf("up = %v, want %v", s.Up, want)
	}
	if want := map[string]kafka.Reason{"src": kafka.ReasonUnreachable}; !reflect.DeepEqual(s.Failures, want) {
		t.Errorf("failures = %v, want %v", s.Failures, want)
	}
	found := false
	for _, ie := range s.Latest.ItemErrors {
		if ie.Item == ItemPartition && ie.Reason == "unreachable" {
			found = true
			if ie.Count != 4 {
				t.Errorf("unreachable partitions = %d, want 4", ie.Count)
			}
		}
	}
	if !found {
		t.Errorf("item errors %+v: no unreachable partition", s.Latest.ItemErrors)
	}
	if v := verdicts(s.Latest)["g-synced"]; v != Unknown {
		t.Errorf("g-synced = %s, want unknown", v)
	}
	for _, tp := range s.Latest.Topics {
		if tp.LagKnown {
			t.Errorf("topic %s: lag known with the source down", tp.Topic)
		}
		for p, n := range tp.Partitions {
			if n >= 0 {
				t.Errorf("%s[%d]: lag %d with the source down, want -1 (unknown)", tp.Topic, p, n)
			}
		}
	}
	if s.Latest.Ready {
		t.Error("ready with the source down")
	}
	if _, ok := mon.Totals(); ok {
		t.Error("CloudWatch totals given with the source's lag unknown")
	}
}

// TestMonitorTargetDown: with the target down the lag read from the
// source is still known, and the group partitions that could not be
// judged are counted by reason. In a bubble, as TestMonitorSummarizes.
func TestMonitorTargetDown(t *testing.T) { scenarioInBubble(t, testMonitorTargetDown) }

func testMonitorTargetDown(t *testing.T, e *migration) {
	m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: e.clientOpts(kgo.RetryTimeout(time.Second))})
	t.Cleanup(m.Close)
	var logs strings.Builder
	mon := NewMonitor(m, MonitorOptions{Config: Config{Interval: time.Second}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	mon.Once(ctxT(t))
	e.tgt.Close()
	logs.Reset()
	mon.Once(ctxT(t))
	if err := mon.LastError(); err != nil {
		t.Fatal(err)
	}
	// One line for the measurement, naming the cluster, its reason and
	// how much is unknown; the measurer itself does not log it again.
	if lines := strings.Split(strings.TrimSpace(logs.String()), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], `msg="lag measurement failed" cluster=tgt`) ||
		!strings.Contains(lines[0], `unknown="group_partition checkpoints unreachable: 4"`) {
		t.Errorf("log of the measurement with the target down:\n%s", logs.String())
	}
	s := status(t, mon)
	if tp := s.Latest.Topics[0]; tp.Topic != "orders" || tp.Lag != 14 || !tp.LagKnown {
		t.Errorf("orders = %+v, want a known lag of 14", tp)
	}
	if want := map[string]bool{"src": true, "tgt": false}; !reflect.DeepEqual(s.Up, want) {
		t.Errorf("up = %v, want %v", s.Up, want)
	}
	if want := []ItemError{{Item: ItemGroupPartition, Reason: "checkpoints unreachable", Count: 4}}; !reflect.DeepEqual(s.Latest.ItemErrors, want) {
		t.Errorf("item errors = %+v, want %+v", s.Latest.ItemErrors, want)
	}
	if v := verdicts(s.Latest)["g-behind"]; v != Unknown {
		t.Errorf("g-behind = %s, want unknown", v)
	}
	if s.Latest.Ready {
		t.Error("ready with the target down")
	}
	// The backlog is whole (source and Connect answered), so CloudWatch
	// still gets it; every group counts as not ready.
	if tot, ok := mon.Totals(); !ok || tot.BacklogRecords != 14 || tot.GroupsNotReady != 4 {
		t.Errorf("totals = %+v %v, want 14 records and 4 groups not ready", tot, ok)
	}
}

// checkMeasurementCost checks the figures about the measurements
// themselves after n of them: one duration per phase and in total, the
// requests of the latest, and the interval.
func checkMeasurementCost(t *testing.T, s Status, n uint64) {
	t.Helper()
	if s.Interval != time.Second {
		t.Errorf("interval = %v, want 1s", s.Interval)
	}
	for _, cluster := range []string{"src", "tgt"} {
		// At least metadata and ListOffsets on the source; metadata,
		// ListOffsets, FindCoordinator and OffsetFetch on the target.
		if got := s.Latest.Requests[cluster]; got < 3 {
			t.Errorf("requests{%s} = %v, want at least 3", cluster, got)
		}
	}
	for _, ph := range []string{PhaseConnectOffsets, PhaseSourceOffsets, PhaseSourceGroups, PhaseCheckpoints, PhaseTargetOffsets, "total"} {
		if got := s.Durations[ph].Count; got != n {
			t.Errorf("durations[%q].Count = %d, want %d (all: %v)", ph, got, n, s.Durations)
		}
	}
}

func TestDurationsCountAsAHistogram(t *testing.T) {
	var d Durations
	for _, s := range []float64{0.005, 0.01, 0.3, 200} {
		d.observe(s)
	}
	if d.Count != 4 || d.Sum != 0.005+0.01+0.3+200 {
		t.Errorf("count %d, sum %v", d.Count, d.Sum)
	}
	for bound, want := range map[float64]uint64{.01: 2, .025: 2, .25: 2, .5: 3, 120: 3} {
		if got := d.Buckets[bound]; got != want {
			t.Errorf("bucket %v = %d, want %d", bound, got, want)
		}
	}
	if len(d.Buckets) != len(DurationBounds()) {
		t.Errorf("%d buckets, want one per bound (%d)", len(d.Buckets), len(DurationBounds()))
	}
}

// TestMonitorFailureClears: the reason of a failure is kept until a
// measurement succeeds.
func TestMonitorFailureClears(t *testing.T) {
	m := &scriptedMeasure{clock: &fakeClock{t: time.Now()}, results: []error{kafka.Cluster{Role: kafka.Target, Alias: "tgt"}.Wrap("metadata", kerr.GroupAuthorizationFailed), nil}}
	mon := NewMonitor(m, MonitorOptions{Config: Config{Interval: time.Second}})
	mon.Once(ctxT(t))
	if want := map[string]kafka.Reason{"tgt": kafka.ReasonAuthorization}; !reflect.DeepEqual(status(t, mon).Failures, want) {
		t.Errorf("failures = %v, want %v", status(t, mon).Failures, want)
	}
	mon.Once(ctxT(t))
	if f := status(t, mon).Failures; len(f) != 0 {
		t.Errorf("failures still %v after a success", f)
	}
}

type blockingMeasure struct{ release chan struct{} }

func (b blockingMeasure) Measure(ctx context.Context) (*Snapshot, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil, &kafka.ClusterError{Role: kafka.Target, Alias: "tgt", Err: context.DeadlineExceeded}
}

func TestMonitorNeverWaitsForKafka(t *testing.T) {
	b := blockingMeasure{release: make(chan struct{})}
	leader := false
	mon := NewMonitor(b, MonitorOptions{Config: Config{Interval: time.Hour}, IsLeader: func() bool { return leader }})
	if _, ok := mon.Status(); ok {
		t.Error("a follower gave a status to export")
	}
	if _, ok := mon.Totals(); ok {
		t.Error("a follower reported CloudWatch totals")
	}
	leader = true
	done := make(chan struct{})
	go func() { mon.Once(context.Background()); close(done) }()
	// A measurement hangs on Kafka; the status still answers at once.
	if s := status(t, mon); s.Latest != nil || s.Now.Before(s.Started) {
		t.Errorf("status while measuring: latest %v, now %v before start %v", s.Latest, s.Now, s.Started)
	}
	close(b.release)
	<-done
	if up, ok := status(t, mon).Up["tgt"]; !ok || up {
		t.Errorf("up[tgt] = %v (set: %v), want false", up, ok)
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

// TestMonitorStaleMeasurementIsNotReady: a "ready" measured before a
// cluster went away, or too long ago, must not stay fresh or reach
// CloudWatch as if it were current.
func TestMonitorStaleMeasurementIsNotReady(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	down := &kafka.ClusterError{Role: kafka.Source, Alias: "src", Err: errors.New("connection refused")}
	m := &scriptedMeasure{clock: clock, results: []error{nil, down, nil}}
	mon := NewMonitor(m, MonitorOptions{Config: Config{Interval: 30 * time.Second}, Now: clock.now})
	steps := []struct {
		name    string
		advance time.Duration
		measure bool
		fresh   bool
		age     time.Duration
	}{
		{"measured", 0, true, true, 0},
		{"source down", 30 * time.Second, true, false, 30 * time.Second},
		{"source back", 30 * time.Second, true, true, 0},
		{"no measurement since", 59 * time.Second, false, true, 59 * time.Second},
		{"older than two intervals", 2 * time.Second, false, false, 61 * time.Second},
	}
	for _, st := range steps {
		clock.t = clock.t.Add(st.advance)
		if st.measure {
			mon.Once(context.Background())
		}
		s := status(t, mon)
		if s.Fresh != st.fresh {
			t.Errorf("%s: fresh = %v, want %v", st.name, s.Fresh, st.fresh)
		}
		if _, ok := mon.Totals(); ok != st.fresh {
			t.Errorf("%s: CloudWatch totals given = %v, want %v", st.name, ok, st.fresh)
		}
		if s.Latest == nil || !s.Latest.Ready {
			t.Fatalf("%s: the last ready measurement is gone: %+v", st.name, s.Latest)
		}
		if age := s.Now.Sub(s.Latest.Time); age != st.age {
			t.Errorf("%s: age = %v, want %v", st.name, age, st.age)
		}
	}
}
