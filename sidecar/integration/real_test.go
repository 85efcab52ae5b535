package integration

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
)

var (
	connectors = []string{"mm2-cpc", "mm2-hbc", "mm2-msc"}
	groups     = []string{"analytics", "billing", "shipping"}
)

// TestRealKafka runs the migration on real Kafka, Connect and MM2 and
// checks, in order, what users rely on. The steps share one assembly, so
// each starts from the state the previous one left.
func TestRealKafka(t *testing.T) {
	d := need(t)
	steps := []struct {
		name string
		fn   func(*testing.T, *demo.Demo)
	}{
		{"ReplicatesAndGroupsSync", replicatesAndGroupsSync},
		{"ConnectorsCreatedOnce", connectorsCreatedOnce},
		{"JMXNamesExist", jmxNamesExist},
		{"RedeployWritesNothing", redeployWritesNothing},
		{"EditReconfiguresOneConnector", editReconfiguresOne},
		{"ContractWithConnecttest", contractWithConnecttest},
		{"NegativeLag", negativeLag},
		{"FailedTaskRestarted", failedTaskRestarted},
		{"BacklogMetricIsRecordsLag", backlogIsRecordsLag},
		{"LeaderMoves", leaderMoves},
	}
	for _, s := range steps {
		began := time.Now()
		ok := t.Run(s.name, func(t *testing.T) { s.fn(t, d) })
		if !ok {
			dumpLogs(t)
		}
		t.Logf("%s: %s in %s", s.name, map[bool]string{true: "passed", false: "FAILED"}[ok], time.Since(began).Round(time.Second))
	}
}

// replicatesAndGroupsSync waits for the backlog to drain and the groups to
// sync, with `status --cutover` exiting 1 while they are not and 0 once
// they are; then compares source and target end offsets.
func replicatesAndGroupsSync(t *testing.T, d *demo.Demo) {
	sawNotReady := false
	took := eventually(t, 4*time.Minute, "backlog 0 and every group synced", func() (bool, string) {
		s, code, errs := statusJSONOf(t, d, append([]string{"--cutover"}, groups...)...)
		if s.Connectors == nil {
			return false, "status could not measure: " + errs
		}
		v := s.verdicts()
		allSynced := len(v) >= len(groups)
		for _, g := range groups {
			allSynced = allSynced && v[g] == "synced"
		}
		if code == 0 && !allSynced {
			t.Fatalf("status --cutover exited 0 with verdicts %v", v)
		}
		if code == 1 {
			if allSynced && s.TotalLag == 0 {
				t.Logf("cutover refused with every group synced and lag 0: %s", errs)
			}
			sawNotReady = true
		}
		return code == 0 && s.TotalLag == 0, fmt.Sprintf("exit %d, total lag %d, verdicts %v: %s", code, s.TotalLag, v, strings.TrimSpace(errs))
	})
	t.Logf("backlog drained and %v synced %s after the assembly was up", groups, took.Round(time.Second))
	// The first look comes seconds after the sidecars start, well inside
	// the checkpoint connector's first 20-second interval: a cutover check
	// that never refused would be one that cannot.
	if !sawNotReady {
		t.Error("status --cutover never refused, not even before the first checkpoint")
	}

	src, tgt := endOffsets(t, d.SourceAddrs()), endOffsets(t, d.TargetAddrs())
	for _, topic := range []string{"orders", "payments", "inventory"} {
		if len(src[topic]) == 0 || !slices.Equal(src[topic], tgt[topic]) {
			t.Errorf("%s: source end offsets %v, target %v", topic, src[topic], tgt[topic])
		}
	}
	t.Logf("end offsets, source = target: %v", src)
}

func endOffsets(t *testing.T, brokers []string) map[string][]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "orders", "payments", "inventory")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		p := out[o.Topic]
		for int32(len(p)) <= o.Partition {
			p = append(p, -1)
		}
		p[o.Partition] = o.Offset
		out[o.Topic] = p
	})
	return out
}

// connectorsCreatedOnce reads Connect's config topic: one connector
// record per connector, whatever the three sidecars raced to do.
func connectorsCreatedOnce(t *testing.T, d *demo.Demo) {
	keys := configRecords(t, d)
	for _, c := range connectors {
		if n := countKeys(keys, func(k string) bool { return k == "connector-"+c }); n != 1 {
			t.Errorf("%s: %d connector config records in %s, want 1", c, n, configTopic)
		}
	}
	t.Logf("%s holds %d records: %v", configTopic, len(keys), keys)
}

// redeployWritesNothing restarts every sidecar, as a redeployment does,
// and proves from Connect that nothing was written or restarted.
func redeployWritesNothing(t *testing.T, d *demo.Demo) {
	before := configRecords(t, d)
	attempts := startupAttempts(t, d)
	starts := workerStarts(t, d)
	if err := d.RestartSidecars(); err != nil {
		t.Fatalf("restarting the sidecars: %v", err)
	}
	// Two full reconcile cycles on the leader after the restart.
	eventually(t, 90*time.Second, "two reconcile cycles after the redeploy", func() (bool, string) {
		ls := leaders(t, d)
		if len(ls) != 1 {
			return false, fmt.Sprintf("leaders %v", ls)
		}
		fams := scrape(t, d.Sidecars[ls[0]].MetricsURL+"/metrics")
		n := sum(fams, "connect_sidecar_reconcile_duration_seconds", nil)
		for _, m := range fams["connect_sidecar_reconcile_duration_seconds"].GetMetric() {
			n = float64(m.GetHistogram().GetSampleCount())
		}
		return n >= 2, fmt.Sprintf("%v cycles", n)
	})
	after := configRecords(t, d)
	if len(after) != len(before) {
		t.Errorf("config topic grew from %d to %d records after the redeploy: %v", len(before), len(after), after[len(before):])
	}
	if a := startupAttempts(t, d); a != attempts {
		t.Errorf("connector and task startup attempts went from %v to %v after the redeploy", attempts, a)
	}
	if now := workerStarts(t, d); !maps.Equal(now, starts) {
		t.Errorf("connectors or tasks were started again by the workers after the redeploy: %v, before %v", now, starts)
	}
	for _, sc := range d.Sidecars {
		fams := scrape(t, sc.MetricsURL+"/metrics")
		writes := sum(fams, "connect_sidecar_connect_requests_total", func(l map[string]string) bool { return l["method"] != "GET" })
		if writes != 0 {
			t.Errorf("sidecar %d sent %v writing requests after the redeploy", sc.Index+1, writes)
		}
	}
	t.Logf("redeploy: config topic %d records before and after; connector and task starts in the workers' logs unchanged: %v", len(before), starts)
}

// editReconfiguresOne changes one connector file and checks that Connect
// wrote records for that connector only.
func editReconfiguresOne(t *testing.T, d *demo.Demo) {
	file := connectorFile(t, "mm2-hbc")
	file.Config["emit.heartbeats.interval.seconds"] = "3"
	before := configRecords(t, d)
	starts := workerStarts(t, d)
	putConnector(t, d, "mm2-hbc", file.Config)
	took := eventually(t, 90*time.Second, "mm2-hbc reconfigured", func() (bool, string) {
		code, body := rest(t, "GET", d.ConnectURL()+"/connectors/mm2-hbc/config", "")
		cfg, _ := body.(map[string]any)
		return code == 200 && cfg["emit.heartbeats.interval.seconds"] == "3", fmt.Sprintf("HTTP %d %v", code, body)
	})
	// One more reconcile cycle, so that a stray write would have happened.
	time.Sleep(12 * time.Second)
	after := configRecords(t, d)
	added := after[len(before):]
	if len(added) == 0 {
		t.Fatal("the edit wrote nothing to the config topic")
	}
	for _, k := range added {
		if !strings.Contains(k, "mm2-hbc") {
			t.Errorf("editing mm2-hbc.json also wrote %q", k)
		}
	}
	for name, n := range workerStarts(t, d) {
		if n != starts[name] && !strings.HasPrefix(name, "mm2-hbc") {
			t.Errorf("editing mm2-hbc.json started %s again (%d starts, %d before)", name, n, starts[name])
		}
	}
	t.Logf("edit applied %s after the upload; records Connect wrote: %v", took.Round(time.Second), added)
}

// negativeLag commits a target offset past the end for one group: its
// verdict turns negative-lag and the cutover check refuses it.
func negativeLag(t *testing.T, d *demo.Demo) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.TargetAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	ends, err := adm.ListEndOffsets(ctx, "inventory")
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup("inventory", 0)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "inventory", Partition: 0, At: end.Offset + 500, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(ctx, "analytics", offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit analytics on the target: %v", err)
	}
	took := eventually(t, 90*time.Second, "analytics negative-lag", func() (bool, string) {
		s, code, errs := statusJSONOf(t, d, "--cutover", "analytics")
		v := s.verdicts()["analytics"]
		if v == "negative-lag" && code != 1 {
			t.Fatalf("status --cutover analytics exited %d with verdict negative-lag", code)
		}
		return v == "negative-lag", fmt.Sprintf("verdict %q, exit %d %s", v, code, errs)
	})
	t.Logf("analytics at %d on a partition ending at %d: negative-lag after %s", end.Offset+500, end.Offset, took.Round(time.Second))
	out, errs, code := status(t, d, "--reset-plan", "analytics")
	if code != 0 || !strings.Contains(out, "inventory") {
		t.Errorf("status --reset-plan analytics: exit %d\n%s\n%s", code, out, errs)
	}
}

// failedTaskRestarted makes a real MM2 task fail (a record larger than the
// target topic accepts, the original toolkit's most common FAQ) and checks
// the sidecar restarts it at once, then waits for the next step of the
// schedule, with the trace in its log and metrics.
func failedTaskRestarted(t *testing.T, d *demo.Demo) {
	const topic = "oversized"
	ctx := context.Background()
	tgt, err := kgo.NewClient(kgo.SeedBrokers(d.TargetAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	small := "4096"
	if r, err := kadm.NewClient(tgt).CreateTopic(ctx, 1, 1, map[string]*string{"max.message.bytes": &small}, topic); err != nil || r.Err != nil {
		t.Fatalf("create target topic: %v %v", err, r.Err)
	}
	src, err := kgo.NewClient(kgo.SeedBrokers(d.SourceAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if r, err := kadm.NewClient(src).CreateTopic(ctx, 1, 1, nil, topic); err != nil || r.Err != nil {
		t.Fatalf("create source topic: %v %v", err, r.Err)
	}
	big := make([]byte, 64<<10)
	_, _ = rand.Read(big)
	if err := src.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: big}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	restarts := func() int {
		return countKeys(configRecords(t, d), func(k string) bool { return k == "restart-connector-mm2-msc" })
	}
	if n := restarts(); n != 0 {
		t.Fatalf("%d restart requests for mm2-msc before the failure", n)
	}
	var failedAt time.Time
	eventually(t, 3*time.Minute, "an mm2-msc task FAILED", func() (bool, string) {
		s, _, _ := statusJSONOf(t, d)
		for _, task := range s.Connectors["mm2-msc"].Tasks {
			if task.State == "FAILED" {
				failedAt = time.Now()
				t.Logf("task %d FAILED on %s: %s", task.ID, task.WorkerID, firstLine(task.Trace))
				return true, ""
			}
		}
		return restarts() > 0, "no FAILED task yet"
	})
	took := eventually(t, 90*time.Second, "the sidecar restarts mm2-msc", func() (bool, string) {
		n := restarts()
		return n >= 1, fmt.Sprintf("%d restart requests in %s", n, configTopic)
	})
	firstRestart := time.Now()
	t.Logf("restart request in Connect's config topic %s after the failure was seen", took.Round(time.Second))

	var logged bool
	for _, sc := range d.Sidecars {
		b, _ := os.ReadFile(sc.LogPath)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "restarted FAILED") && strings.Contains(line, "RecordTooLargeException") {
				logged = true
				t.Logf("sidecar %d: %s", sc.Index+1, line)
				if !strings.Contains(line, "next_restart_after=2m0s") {
					t.Errorf("first restart should schedule the next after 2m (Strimzi's backoff): %s", line)
				}
			}
		}
	}
	if !logged {
		t.Error("no sidecar logged the restart with the task's RecordTooLargeException trace")
	}
	eventually(t, time.Minute, "the restart counted and the failure's cause exported", func() (bool, string) {
		var counted, traced float64
		for _, sc := range d.Sidecars {
			fams := scrape(t, sc.MetricsURL+"/metrics")
			counted += sum(fams, "connect_sidecar_connector_restarts_total", labelIs("connector", "mm2-msc"))
			traced += sum(fams, "connect_sidecar_task_failure", func(l map[string]string) bool {
				return l["connector"] == "mm2-msc" && l["exception"] == "org.apache.kafka.common.errors.RecordTooLargeException"
			})
		}
		return counted >= 1 && traced >= 1, fmt.Sprintf("connect_sidecar_connector_restarts_total{connector=mm2-msc} %v, connect_sidecar_task_failure{exception=RecordTooLargeException} %v", counted, traced)
	})

	// The task fails again at once (the record is still there); the next
	// restart is due only two minutes after the first.
	time.Sleep(40 * time.Second)
	if n := restarts(); n != 1 {
		t.Errorf("%d restart requests %s after the first, want 1 (the next is due after 2m)", n, time.Since(firstRestart).Round(time.Second))
	}
	t.Logf("no second restart within %s of the first (failure seen %s before it)", time.Since(firstRestart).Round(time.Second), firstRestart.Sub(failedAt).Round(time.Second))

	// Make room for the record, then let Connect restart the task (the
	// sidecar's next attempt is minutes away), so later steps run on a
	// healthy pipeline.
	large := "1048576"
	if _, err := kadm.NewClient(tgt).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: &large}}, topic); err != nil {
		t.Fatal(err)
	}
	if code, body := rest(t, "POST", d.ConnectURL()+"/connectors/mm2-msc/restart?includeTasks=true&onlyFailed=true", ""); code/100 != 2 {
		t.Fatalf("restart: HTTP %d %v", code, body)
	}
	eventually(t, 2*time.Minute, "every mm2-msc task RUNNING", func() (bool, string) {
		s, _, _ := statusJSONOf(t, d)
		states := map[string]int{}
		for _, task := range s.Connectors["mm2-msc"].Tasks {
			states[task.State]++
		}
		return len(states) == 1 && states["RUNNING"] > 0, fmt.Sprint(states)
	})
}

// connectorFileBody is a connector file in the POST /connectors form.
type connectorFileBody struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
}

// connectorFile reads connect-image/connectors/plaintext/<name>.json.
func connectorFile(t *testing.T, name string) connectorFileBody {
	t.Helper()
	repo, err := demo.FindRepo()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(repo + "/connect-image/connectors/plaintext/" + name + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var f connectorFileBody
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// putConnector uploads a connector file to the sidecars' S3 prefix.
func putConnector(t *testing.T, d *demo.Demo, name string, cfg map[string]string) {
	t.Helper()
	b, err := json.MarshalIndent(connectorFileBody{Name: name, Config: cfg}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutConnectorFile(name+".json", b); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// leaderMoves stops the leader's worker and measures how long until
// another sidecar takes the writer role.
func leaderMoves(t *testing.T, d *demo.Demo) {
	var ls []int
	eventually(t, time.Minute, "exactly one leader", func() (bool, string) {
		ls = leaders(t, d)
		return len(ls) == 1, fmt.Sprintf("leaders %v", ls)
	})
	old := ls[0]
	stopped := time.Now()
	d.StopWorker(old, 30*time.Second)
	t.Logf("worker %d (leader) stopped in %s", old+1, time.Since(stopped).Round(time.Millisecond))
	const bound = 90 * time.Second
	took := eventually(t, bound, "another sidecar leads", func() (bool, string) {
		ls = leaders(t, d)
		return len(ls) == 1 && ls[0] != old, fmt.Sprintf("leaders %v", ls)
	})
	t.Logf("sidecar %d became the leader %s after worker %d stopped (bound %s)", ls[0]+1, took.Round(time.Second), old+1, bound)
	// The new leader reconciles: the connector configs stay as they were.
	keys := configRecords(t, d)
	for _, c := range connectors {
		if n := countKeys(keys, func(k string) bool { return k == "connector-"+c }); n < 1 {
			t.Errorf("%s lost its config", c)
		}
	}
}
