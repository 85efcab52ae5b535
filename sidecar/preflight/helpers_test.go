package preflight

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// env is a source and a target kfake cluster and admin clients to shape
// them the way each test needs.
type env struct {
	t              testing.TB
	src, tgt       *kfake.Cluster
	srcCl, tgtCl   *kgo.Client
	srcAdm, tgtAdm *kadm.Client
}

func newEnv(t testing.TB, srcOpts, tgtOpts []kfake.Opt) *env {
	t.Helper()
	e := &env{t: t}
	e.src, e.srcCl = cluster(t, srcOpts)
	e.tgt, e.tgtCl = cluster(t, tgtOpts)
	e.srcAdm, e.tgtAdm = kadm.NewClient(e.srcCl), kadm.NewClient(e.tgtCl)
	return e
}

func cluster(t testing.TB, opts []kfake.Opt) (*kfake.Cluster, *kgo.Client) {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return c, cl
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// topic creates a topic with configs on a cluster.
func topic(t testing.TB, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctxT(t), partitions, 1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// produce writes n records to each partition of a topic, timestamped at.
func produce(t testing.TB, cl *kgo.Client, name string, partitions int32, at time.Time, value []byte) {
	t.Helper()
	var recs []*kgo.Record
	for p := range partitions {
		recs = append(recs, &kgo.Record{Topic: name, Partition: p, Timestamp: at, Value: value})
	}
	if err := cl.ProduceSync(ctxT(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", name, err)
	}
}

func ptr(s string) *string { return &s }

// msc is a MirrorSourceConnector file between the env's clusters.
func (e *env) msc(extra map[string]string) desired.Connector {
	cfg := e.pair("mm2-msc", mm2.SourceConnectorClass)
	cfg["topics"] = "orders, payments"
	cfg["tasks.max"] = "2"
	cfg["offset-syncs.topic.replication.factor"] = "1"
	return connector("mm2-msc", cfg, extra)
}

// cpc is the MirrorCheckpointConnector of the same pair.
func (e *env) cpc(extra map[string]string) desired.Connector {
	cfg := e.pair("mm2-cpc", mm2.CheckpointConnectorClass)
	cfg["sync.group.offsets.enabled"] = "true"
	cfg["checkpoints.topic.replication.factor"] = "1"
	return connector("mm2-cpc", cfg, extra)
}

// pair is the config every MM2 connector between the env's clusters
// shares: its name and class, the aliases, the servers and the identity
// replication policy.
func (e *env) pair(name, class string) map[string]string {
	return map[string]string{
		"name":                             name,
		"connector.class":                  class,
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "tgt",
		"source.cluster.bootstrap.servers": strings.Join(e.src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers": strings.Join(e.tgt.ListenAddrs(), ","),
		"replication.policy.class":         "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
	}
}

func connector(name string, cfg, extra map[string]string) desired.Connector {
	for k, v := range extra {
		if v == "" {
			delete(cfg, k)
			continue
		}
		cfg[k] = v
	}
	return desired.Connector{Name: name, Config: cfg, File: "file:///connectors/" + name + ".json"}
}

// seed makes the source topics every test starts from: orders (3
// partitions) and payments (2), each with a record per partition.
func (e *env) seed() {
	e.t.Helper()
	topic(e.t, e.srcAdm, "orders", 3, nil)
	topic(e.t, e.srcAdm, "payments", 2, nil)
	produce(e.t, e.srcCl, "orders", 3, time.Now().Add(-time.Hour), []byte("o"))
	produce(e.t, e.srcCl, "payments", 2, time.Now().Add(-time.Hour), []byte("p"))
}

// results runs a preflight and returns its rows by check.
func results(t testing.TB, in Input) map[string]Result {
	t.Helper()
	in.ClientOpts = append(in.ClientOpts, kgo.RetryTimeout(2*time.Second))
	rep, err := Run(ctxT(t), in)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	out := map[string]Result{}
	for _, r := range rep.Results {
		out[r.Check] = r
	}
	if len(out) != len(Checks()) {
		t.Fatalf("got %d rows, want one per check (%d)", len(out), len(Checks()))
	}
	return out
}

// expect fails unless the check has the status and its text holds every
// fragment.
func expect(t testing.TB, got map[string]Result, check string, status Status, fragments ...string) {
	t.Helper()
	r := got[check]
	if r.Status != status {
		t.Fatalf("%s = %s (%s; fix: %s), want %s", check, r.Status, r.Found, r.Fix, status)
	}
	for _, f := range fragments {
		if !strings.Contains(r.Found+" | "+r.Fix, f) {
			t.Errorf("%s: %q lacks %q", check, r.Found+" | "+r.Fix, f)
		}
	}
}

type kadmOffsets = kadm.Offsets

func kadmClient(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }

func plainAuth(user, pass string) sasl.Mechanism {
	return plain.Auth{User: user, Pass: pass}.AsMechanism()
}

func contextWithTimeout(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctxT(t), d)
}
