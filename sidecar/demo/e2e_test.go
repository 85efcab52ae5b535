package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

// statusJSON is the part of `connect-sidecar status --json` the test reads.
type statusJSON struct {
	Connectors map[string]struct {
		Tasks []struct {
			ID    int    `json:"id"`
			State string `json:"state"`
		} `json:"tasks"`
	} `json:"connectors"`
	Ready       bool  `json:"migration_ready"`
	TotalLag    int64 `json:"total_lag"`
	Measurement struct {
		Topics []struct {
			Topic string `json:"topic"`
			Lag   int64  `json:"lag"`
		} `json:"topics"`
		Groups []struct {
			Group   string `json:"group"`
			Verdict string `json:"verdict"`
		} `json:"groups"`
	} `json:"measurement"`
}

// eventually polls cond until it holds or the deadline passes; deadlines
// are generous because the machine may be loaded.
func eventually(t *testing.T, ctx context.Context, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for {
		ok, detail := cond()
		if ok {
			return
		}
		last = detail
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not reached within %s; last: %s", what, within, last)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func dumpLogs(t *testing.T, d *Demo) {
	t.Helper()
	for _, sc := range d.Sidecars {
		b, _ := os.ReadFile(sc.LogPath)
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		t.Logf("sidecar %d log (tail):\n%s", sc.Index+1, b)
	}
}

func (d *Demo) status(t *testing.T, ctx context.Context) (statusJSON, []byte, error) {
	t.Helper()
	out, err := d.Status(ctx, "--json", "--timeout", "30s")
	var st statusJSON
	if err == nil {
		err = json.Unmarshal(out, &st)
	}
	return st, out, err
}

// TestMain lets this test binary act as the demo's sidecars, as the
// mm2-demo binary does.
func TestMain(m *testing.M) {
	ServeSidecar()
	os.Exit(m.Run())
}

func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: runs connect-sidecar with Kafka, S3 and Connect doubles")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	// No go tool: the sidecars are this executable, not a second build.
	t.Setenv("PATH", t.TempDir())
	d, err := Start(ctx, Options{WorkDir: t.TempDir(), ProduceFor: 8 * time.Second, Backlog: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			dumpLogs(t, d)
		}
		if err := d.Close(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	connectors := []string{"mm2-cpc", "mm2-hbc", "mm2-msc"}

	eventually(t, ctx, 60*time.Second, "connectors registered and every task RUNNING", func() (bool, string) {
		got := d.Connect.Connectors()
		if strings.Join(got, ",") != strings.Join(connectors, ",") {
			return false, fmt.Sprintf("connectors %v", got)
		}
		for _, task := range d.Connect.Tasks() {
			if task.State != connecttest.StateRunning {
				return false, fmt.Sprintf("%s-%d %s", task.Connector, task.ID, task.State)
			}
		}
		return true, ""
	})
	for _, c := range connectors {
		if n := d.Connect.Writes(c); n != 1 {
			t.Errorf("connector %s: %d config writes, want exactly 1 across the three sidecars", c, n)
		}
	}

	var ready statusJSON
	eventually(t, ctx, 120*time.Second, "backlog zero and every group synced (status --json)", func() (bool, string) {
		st, out, err := d.status(t, ctx)
		if err != nil {
			return false, err.Error()
		}
		ready = st
		return st.Ready && st.TotalLag == 0 && len(st.Measurement.Groups) == len(groupTopics), string(out)
	})
	for _, g := range ready.Measurement.Groups {
		if g.Verdict != "synced" {
			t.Errorf("group %s: verdict %s, want synced", g.Group, g.Verdict)
		}
	}

	assertTargetHoldsSource(t, ctx, d)

	// /metrics and status agree: the same measurement facts, once.
	eventually(t, ctx, 60*time.Second, "leader's /metrics and status --json agree", func() (bool, string) {
		sum, err := d.Summary(ctx)
		if err != nil {
			return false, err.Error()
		}
		st, _, err := d.status(t, ctx)
		if err != nil {
			return false, err.Error()
		}
		if diff := disagreement(st, sum); diff != "" {
			return false, diff
		}
		return true, ""
	})
	assertExportedOnce(t, ctx, d)

	// A crashed task: the sidecar restarts it without a config write.
	restarts := d.Connect.Restarts("mm2-msc")
	if err := d.FailTask("mm2-msc", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, 60*time.Second, "FAILED task mm2-msc/0 restarted", func() (bool, string) {
		n := d.Connect.Restarts("mm2-msc")
		st, _ := d.Connect.ConnectorState("mm2-msc")
		for _, task := range d.Connect.Tasks() {
			if task.Connector == "mm2-msc" && task.ID == 0 {
				return n > restarts && task.State == connecttest.StateRunning, fmt.Sprintf("restarts %d, task %s, connector %s", n, task.State, st)
			}
		}
		return false, "task mm2-msc/0 missing"
	})
	if n := d.Connect.Writes("mm2-msc"); n != 1 {
		t.Errorf("mm2-msc: %d config writes after the restart, want still 1", n)
	}

	// A changed connector file in S3: applied once.
	orig, err := os.ReadFile(d.opts.RepoDir + "/connect-image/connectors/plaintext/mm2-hbc.json")
	if err != nil {
		t.Fatal(err)
	}
	changed := bytes.Replace(orig, []byte(`"tasks.max": "1",`), []byte(`"tasks.max": "1",
    "emit.heartbeats.interval.seconds": "2",`), 1)
	if bytes.Equal(orig, changed) {
		t.Fatal("could not edit mm2-hbc.json: its tasks.max line changed")
	}
	if err := d.PutConnectorFile("mm2-hbc.json", changed); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, 60*time.Second, "changed mm2-hbc.json applied", func() (bool, string) {
		cfg, _ := d.Connect.Config("mm2-hbc")
		return cfg["emit.heartbeats.interval.seconds"] == "2", fmt.Sprintf("config %v", cfg)
	})

	// Every sidecar has since had a full cycle: poll once more after two
	// reconcile intervals' worth of readiness, then count writes.
	eventually(t, ctx, 60*time.Second, "backlog still zero after the restart (status --json)", func() (bool, string) {
		st, out, err := d.status(t, ctx)
		if err != nil {
			return false, err.Error()
		}
		ready = st
		return st.Ready && st.TotalLag == 0, string(out)
	})
	if n := d.Connect.Writes("mm2-hbc"); n != 2 {
		t.Errorf("mm2-hbc: %d config writes, want 2 (create, then the one change)", n)
	}
	for _, c := range []string{"mm2-cpc", "mm2-msc"} {
		if n := d.Connect.Writes(c); n != 1 {
			t.Errorf("connector %s: %d config writes, want still 1", c, n)
		}
	}
	for _, sc := range d.Sidecars {
		if done, err := sc.Exited(); done {
			t.Errorf("sidecar %d exited early: %v", sc.Index+1, err)
		}
	}
}

// disagreement describes how status --json and the sidecars' /metrics
// differ, "" when they agree.
func disagreement(st statusJSON, sum Summary) string {
	var diffs []string
	if !sum.HaveLag {
		return "the leader's sidecar has no lag measurement yet"
	}
	if st.Ready != sum.Ready {
		diffs = append(diffs, fmt.Sprintf("ready: status %v, /metrics %v", st.Ready, sum.Ready))
	}
	if len(st.Measurement.Topics) != len(sum.TopicLag) {
		diffs = append(diffs, fmt.Sprintf("topics: status %d, /metrics %d", len(st.Measurement.Topics), len(sum.TopicLag)))
	}
	for _, tl := range st.Measurement.Topics {
		if v, ok := sum.TopicLag[tl.Topic]; !ok || int64(v) != tl.Lag {
			diffs = append(diffs, fmt.Sprintf("topic %s lag: status %d, /metrics %v", tl.Topic, tl.Lag, v))
		}
	}
	if len(st.Measurement.Groups) != len(sum.Groups) {
		diffs = append(diffs, fmt.Sprintf("groups: status %d, /metrics %d", len(st.Measurement.Groups), len(sum.Groups)))
	}
	for _, g := range st.Measurement.Groups {
		if v := sum.Groups[g.Group]; v != g.Verdict {
			diffs = append(diffs, fmt.Sprintf("group %s: status %s, /metrics %s", g.Group, g.Verdict, v))
		}
	}
	states := map[string]int{}
	for _, c := range st.Connectors {
		for _, task := range c.Tasks {
			states[task.State]++
		}
	}
	// Both ways: a state only /metrics reports is a disagreement too.
	if !maps.Equal(states, sum.TaskStates) {
		diffs = append(diffs, fmt.Sprintf("tasks per state: status %v, /metrics %v", states, sum.TaskStates))
	}
	return strings.Join(diffs, "; ")
}

func TestDisagreement(t *testing.T) {
	status := func() statusJSON {
		var st statusJSON
		if err := json.Unmarshal([]byte(`{
			"connectors": {"mm2-msc": {"tasks": [{"id": 0, "state": "RUNNING"}, {"id": 1, "state": "RUNNING"}]}},
			"migration_ready": true,
			"measurement": {"topics": [{"topic": "orders", "lag": 0}], "groups": [{"group": "billing", "verdict": "synced"}]}
		}`), &st); err != nil {
			t.Fatal(err)
		}
		return st
	}
	agreeing := func() Summary {
		return Summary{
			HaveLag: true, Ready: true,
			TopicLag:   map[string]float64{"orders": 0},
			Groups:     map[string]string{"billing": "synced"},
			TaskStates: map[string]int{"RUNNING": 2},
		}
	}
	tests := []struct {
		name   string
		change func(*Summary)
		want   string // "" when they agree
	}{
		{"agree", func(*Summary) {}, ""},
		{"no lag yet", func(s *Summary) { s.HaveLag = false }, "no lag measurement"},
		{"ready", func(s *Summary) { s.Ready = false }, "ready"},
		{"topic lag", func(s *Summary) { s.TopicLag["orders"] = 5 }, "topic orders lag"},
		{"extra topic", func(s *Summary) { s.TopicLag["payments"] = 0 }, "topics"},
		{"verdict", func(s *Summary) { s.Groups["billing"] = "behind" }, "group billing"},
		{"fewer running", func(s *Summary) { s.TaskStates["RUNNING"] = 1 }, "tasks per state"},
		{"a state only /metrics has", func(s *Summary) { s.TaskStates["FAILED"] = 1 }, "tasks per state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sum := agreeing()
			tc.change(&sum)
			got := disagreement(status(), sum)
			if (got == "") != (tc.want == "") || !strings.Contains(got, tc.want) {
				t.Errorf("disagreement = %q, want one naming %q", got, tc.want)
			}
		})
	}
}

// assertExportedOnce checks that exactly one sidecar, the Connect leader's,
// leads and exports the cluster-wide lag and readiness.
func assertExportedOnce(t *testing.T, ctx context.Context, d *Demo) {
	t.Helper()
	leaderURL, _ := d.Connect.Leader()
	// Each task's JMX series come from the one worker that runs it, passed
	// through by that worker's sidecar with its task labels.
	var taskSeries, lagSeries int
	defer func() {
		if want := len(d.Connect.Tasks()); taskSeries != want {
			t.Errorf("the sidecars pass through %d task status series, want one per task (%d)", taskSeries, want)
		}
		if lagSeries == 0 {
			t.Error("no sidecar passes through the MM2 consumers' records-lag, the input of the scaling metric")
		}
	}()
	for _, sc := range d.Sidecars {
		mfs, err := Scrape(ctx, sc.MetricsURL)
		if err != nil {
			t.Errorf("sidecar %d: %v", sc.Index+1, err)
			continue
		}
		for _, m := range metrics(mfs, "kafka_connect_connector_task_status") {
			if m.GetGauge().GetValue() == 1 && hasLabel(m, "ecs_cluster", clusterName) {
				taskSeries++
			}
		}
		lagSeries += len(metrics(mfs, "kafka_consumer_fetch_manager_records_lag"))
		isLeader := sc.WorkerURL+"/" == leaderURL
		if got := value(mfs, "connect_sidecar_is_leader", nil); got != map[bool]float64{true: 1, false: 0}[isLeader] {
			t.Errorf("sidecar %d: connect_sidecar_is_leader %v, worker leads: %v", sc.Index+1, got, isLeader)
		}
		for _, name := range []string{"connect_sidecar_topic_lag_records", "connect_sidecar_migration_ready"} {
			if has := len(metrics(mfs, name)) > 0; has != isLeader {
				t.Errorf("sidecar %d: exports %s: %v, want only on the leader's sidecar", sc.Index+1, name, has)
			}
		}
		if value(mfs, "connect_sidecar_jmx_up", nil) != 1 {
			t.Errorf("sidecar %d: connect_sidecar_jmx_up is not 1", sc.Index+1)
		}
		if len(sc.LastEMF()) == 0 {
			t.Errorf("sidecar %d: printed no CloudWatch EMF line", sc.Index+1)
		}
	}
}

// assertTargetHoldsSource checks that every source partition's records are
// on the target, once: with the identity policy and no failure yet, the end
// offsets are equal.
func assertTargetHoldsSource(t *testing.T, ctx context.Context, d *Demo) {
	t.Helper()
	ends := func(brokers []string) map[string]int64 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		topics := slices.Sorted(maps.Keys(sourceTopics))
		listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics...)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		listed.Each(func(o kadm.ListedOffset) {
			out[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset
		})
		return out
	}
	src, tgt := ends(d.Source.ListenAddrs()), ends(d.Target.ListenAddrs())
	if !maps.Equal(src, tgt) {
		t.Errorf("end offsets differ: source %v, target %v", src, tgt)
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}
