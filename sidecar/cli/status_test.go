package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// statusEnv is what a test may change after statusFixture.
type statusEnv struct {
	src, tgt *kfake.Cluster
	tgtAdm   *kadm.Client
	commit   func(a *kadm.Client, g string, p int32, at int64)
	cp       func(cps ...mm2.Checkpoint)
}

// statusFixture is a migration with one copied topic, a synced group
// ("ready") and a group behind its checkpoint ("late").
func statusFixture(t *testing.T) *statusEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	src, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	tgt, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	client := func(c *kfake.Cluster) (*kgo.Client, *kadm.Client) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl, kadm.NewClient(cl)
	}
	srcCl, srcAdm := client(src)
	tgtCl, tgtAdm := client(tgt)
	for _, a := range []*kadm.Client{srcAdm, tgtAdm} {
		if _, err := a.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tgtAdm.CreateTopic(ctx, 1, 1, nil, "src.checkpoints.internal"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for range 5 {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x")})
		}
	}
	if err := srcCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tgtCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commit := func(a *kadm.Client, g string, p int32, at int64) {
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "orders", Partition: p, At: at, LeaderEpoch: -1})
		if err := a.CommitAllOffsets(ctx, g, os); err != nil {
			t.Fatal(err)
		}
	}
	checkpoint := func(cps ...mm2.Checkpoint) {
		var recs []*kgo.Record
		for _, cp := range cps {
			k, v := mm2.EncodeCheckpoint(cp)
			recs = append(recs, &kgo.Record{Topic: "src.checkpoints.internal", Key: k, Value: v})
		}
		if err := tgtCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commit(srcAdm, "ready", 0, 5)
	commit(srcAdm, "late", 1, 5)
	checkpoint(
		mm2.Checkpoint{Group: "ready", Topic: "orders", Partition: 0, Upstream: 5, Downstream: 5},
		mm2.Checkpoint{Group: "late", Topic: "orders", Partition: 1, Upstream: 2, Downstream: 2},
	)

	cc := connecttest.NewCluster(t, 1)
	msc := map[string]string{
		"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "tgt",
		"source.cluster.bootstrap.servers": strings.Join(src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers": strings.Join(tgt.ListenAddrs(), ","),
		"replication.policy.class":         "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
	}
	if err := cc.Put("msc", msc, ""); err != nil {
		t.Fatal(err)
	}
	cpc := map[string]string{"connector.class": "MirrorCheckpointConnector"}
	for k, v := range msc {
		if k != "connector.class" {
			cpc[k] = v
		}
	}
	if err := cc.Put("cpc", cpc, ""); err != nil {
		t.Fatal(err)
	}
	if err := cc.SetTaskState("msc", 0, connecttest.StateFailed, "org.apache.kafka.connect.errors.ConnectException: boom\n\tat Foo.bar(Foo.java:1)"); err != nil {
		t.Fatal(err)
	}
	var offs []connecttest.Offset
	for p := range 2 {
		offs = append(offs, connecttest.Offset{
			Partition: map[string]any{"cluster": "src", "topic": "orders", "partition": p},
			Offset:    map[string]any{"offset": 4},
		})
	}
	if err := cc.SetOffsets("msc", offs); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIDECAR_CONNECT_URL", cc.URL())
	return &statusEnv{src: src, tgt: tgt, tgtAdm: tgtAdm, commit: commit, cp: checkpoint}
}

func TestStatus(t *testing.T) {
	statusFixture(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"table", nil, 0,
			[]string{"msc", "FAILED", "ConnectException: boom", "orders", "total", "ready  synced", "late   behind   3", "orders[1]:behind", "migration ready: no"}, nil},
		{"cutover ready", []string{"--cutover", "ready"}, 0, []string{"ready for cutover: ready"}, nil},
		{"cutover late", []string{"--cutover", "ready", "late"}, 1, nil, []string{"group late: behind (3 records would be consumed twice)"}},
		{"cutover unknown", []string{"--cutover", "nobody"}, 1, nil, []string{"group nobody: not found"}},
		{"flags after the groups", []string{"--cutover", "ready", "--json"}, 0, []string{`"migration_ready": false`}, []string{"ready for cutover: ready"}},
		{"flag after a group not ready", []string{"late", "--cutover"}, 1, nil, []string{"group late: behind"}},
		{"group after --", []string{"--cutover", "--", "--json"}, 1, nil, []string{"group --json: not found"}},
		{"cutover without group", []string{"--cutover"}, 2, nil, []string{"--cutover needs at least one GROUP"}},
		{"apply without plan", []string{"--apply", "late"}, 2, nil, []string{"--apply needs --reset-plan"}},
		{"reset plan", []string{"--reset-plan"}, 0, []string{"RESET PLAN (dry run", "nothing to reset"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runStatus(context.Background(), tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errb.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			if !strings.HasPrefix(out.String(), "{") && strings.Contains(out.String(), "Foo.java") {
				t.Error("the table shows more than the first line of a trace")
			}
		})
	}

	var out, errb bytes.Buffer
	if code := runStatus(context.Background(), []string{"--json"}, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d: %s", code, errb.String())
	}
	var doc struct {
		Ready       bool  `json:"migration_ready"`
		TotalLag    int64 `json:"total_lag"`
		Measurement struct {
			Groups []struct {
				Group   string `json:"group"`
				Verdict string `json:"verdict"`
			} `json:"groups"`
		} `json:"measurement"`
		Connectors map[string]any `json:"connectors"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if doc.Ready || doc.TotalLag != 0 || len(doc.Measurement.Groups) != 2 || doc.Measurement.Groups[0].Verdict != "behind" || len(doc.Connectors) != 2 {
		t.Errorf("--json = %+v", doc)
	}
}

// TestStatusResetPlanNeedsAnEmptyGroup walks the negative-lag fix as an
// operator would: the dry run shows the plan, --apply is refused while a
// consumer of the group runs on the target and leaves its offset alone,
// and once the consumer is gone the plan is committed and the group can
// cut over.
func TestStatusResetPlanNeedsAnEmptyGroup(t *testing.T) {
	env := statusFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// "neg" resumes on the target at 9, beyond the end (5) of orders[0].
	srcAdm := kadm.NewClient(newKgo(t, env.src))
	env.commit(srcAdm, "neg", 0, 5)
	env.commit(env.tgtAdm, "neg", 0, 9)
	env.cp(mm2.Checkpoint{Group: "neg", Topic: "orders", Partition: 0, Upstream: 5, Downstream: 5})
	targetOffset := func() int64 {
		t.Helper()
		off, err := env.tgtAdm.FetchOffsets(ctx, "neg")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := off.Lookup("orders", 0)
		return o.At
	}
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := runStatus(context.Background(), args, &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := run("--reset-plan", "neg")
	if code != 0 || !strings.Contains(out, "dry run") || !regexp.MustCompile(`neg\s+orders\s+0\s+9\s+5`).MatchString(out) {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := run("--cutover", "neg"); code != 1 {
		t.Errorf("--cutover of a negative-lag group: exit %d, want 1", code)
	}
	code, out, errs = run("--json", "--reset-plan", "neg")
	var doc struct {
		Measurement map[string]any `json:"measurement"`
		ResetPlan   []lag.Reset    `json:"reset_plan"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil {
		t.Fatalf("--json --reset-plan: exit %d, %v\n%s%s", code, err, out, errs)
	}
	if len(doc.ResetPlan) != 1 || doc.ResetPlan[0] != (lag.Reset{Group: "neg", Topic: "orders", Partition: 0, From: 9, To: 5}) || doc.Measurement["groups"] == nil {
		t.Errorf("--json --reset-plan = %+v", doc)
	}

	// The consumer has its partitions once the group is Stable.
	assigned := make(chan struct{})
	var once sync.Once
	consumer := newKgo(t, env.tgt, kgo.ConsumerGroup("neg"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { once.Do(func() { close(assigned) }) }))
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the consumer never joined neg on the target")
	}
	code, out, errs = run("--reset-plan", "--apply", "neg")
	if code != 1 || !strings.Contains(errs, "group neg is Stable") || strings.Contains(out, "applied") {
		t.Fatalf("apply with a live consumer: exit %d, want 1 and a refusal\n%s%s", code, out, errs)
	}
	if got := targetOffset(); got != 9 {
		t.Fatalf("target offset after the refusal = %d, want 9 untouched", got)
	}

	consumer.Close() // leaves the group
	code, out, errs = run("--reset-plan", "--apply", "neg")
	if code != 0 || !strings.Contains(out, "applied 1 offset resets") {
		t.Fatalf("apply on an empty group: exit %d\n%s%s", code, out, errs)
	}
	if got := targetOffset(); got != 5 {
		t.Errorf("target offset after the reset = %d, want 5 (the end of orders[0])", got)
	}
	if code, out, errs := run("--cutover", "neg"); code != 0 {
		t.Errorf("--cutover after the reset: exit %d\n%s%s", code, out, errs)
	}
}

// TestStatusClusterDown: with the target down the lag read from the
// source is still shown, every group is unknown with the reason, the
// target is named, and a cutover check says not ready.
func TestStatusClusterDown(t *testing.T) {
	env := statusFixture(t)
	env.tgt.Close()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := runStatus(ctx, []string{"--cutover", "ready", "--timeout", "5s"}, &out, &errb)
	if code != 1 {
		t.Errorf("exit %d, want 1 (a failed measurement is a failure while running)", code)
	}
	for _, re := range []string{`msc`, `orders\s+orders\s+2\s+0\n`, `ready\s+unknown \(checkpoints unreachable\)`, `UNREACHABLE target cluster "tgt"`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("stdout lacks %s:\n%s", re, out.String())
		}
	}
	if strings.Contains(out.String(), "ready for cutover") {
		t.Errorf("stdout:\n%s\nwant no verdict of readiness", out.String())
	}
}

// TestStatusPartitionUnknown: a partition whose end offset is refused is
// "unknown (reason)" on its topic's row, the total says it is a lower
// bound, and the exit status says the measurement is incomplete.
func TestStatusPartitionUnknown(t *testing.T) {
	env := statusFixture(t)
	env.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "orders", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: -1})
	var out, errb bytes.Buffer
	if code := runStatus(context.Background(), nil, &out, &errb); code != 1 || !strings.Contains(errb.String(), "measurement is incomplete") {
		t.Fatalf("exit %d, want 1 saying the measurement is incomplete\n%s", code, errb.String())
	}
	for _, re := range []string{`orders\s+orders\s+2\s+unknown \(NOT_LEADER_FOR_PARTITION: 1 of 2 partitions; 0 in the others\)`, `total\s+at least 0`, `migration ready: no`} {
		if !regexp.MustCompile(re).MatchString(out.String()) {
			t.Errorf("stdout lacks %s:\n%s", re, out.String())
		}
	}
}

func newKgo(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestStatusRewoundGroup: a group reset on the source below its latest
// checkpoint is not ready, and the table and the cutover check say how
// many records a consumer moved now would skip.
func TestStatusRewoundGroup(t *testing.T) {
	env := statusFixture(t)
	env.commit(kadm.NewClient(newKgo(t, env.src)), "ready", 0, 2)
	var out, errb bytes.Buffer
	if code := runStatus(context.Background(), []string{"--cutover", "ready"}, &out, &errb); code != 1 {
		t.Fatalf("--cutover of a rewound group: exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(errb.String(), "group ready: rewound (committed on the source below the latest checkpoint: about 3 records would be skipped") {
		t.Errorf("stderr:\n%s", errb.String())
	}
	out.Reset()
	if code := runStatus(context.Background(), nil, &out, &errb); code != 0 {
		t.Fatalf("table: exit %d\n%s", code, errb.String())
	}
	if !regexp.MustCompile(`ready\s+rewound\s+0\s+3\s+orders\[0\]:rewound`).MatchString(out.String()) {
		t.Errorf("table lacks the rewound row:\n%s", out.String())
	}
}
