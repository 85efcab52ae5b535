package preflight

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

// TestChecks makes each check PASS and then FAIL or WARN on kfake
// clusters shaped for it.
func TestChecks(t *testing.T) {
	type tc struct {
		name      string
		srcOpts   []kfake.Opt
		tgtOpts   []kfake.Opt
		setup     func(e *env) Input
		check     string
		status    Status
		fragments []string
	}
	base := func(e *env) Input {
		e.seed()
		return Input{Connectors: []desired.Connector{e.msc(nil), e.cpc(nil)}, Worker: map[string]string{}}
	}
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	cases := []tc{
		{name: "reach pass", setup: base, check: CheckReach, status: Pass, fragments: []string{`source "src": 1 brokers`, `target "tgt": 1 brokers`}},
		{name: "reach fail", setup: func(e *env) Input {
			in := base(e)
			in.Connectors[0] = e.msc(map[string]string{"target.cluster.bootstrap.servers": closedPort(e.t.(*testing.T))})
			return in
		}, check: CheckReach, status: Fail, fragments: []string{`target cluster "tgt"`}},
		{name: "permissions pass", setup: base, check: CheckPermissions, status: Pass, fragments: []string{"2 source topics"}},
		{name: "permissions fail", srcOpts: []kfake.Opt{kfake.EnableSASL(), kfake.EnableACLs(), kfake.Superuser("PLAIN", "admin", "admin"),
			kfake.User("PLAIN", "mm2", "mm2-secret",
				kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
				kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "orders", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationRead, Allow: true},
				kfake.ACL{Resource: kmsg.ACLResourceTypeCluster, Name: "kafka-cluster", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
			)},
			setup: func(e *env) Input {
				in := base(e)
				in.Connectors[0] = e.msc(map[string]string{
					"source.cluster.security.protocol": "SASL_PLAINTEXT",
					"source.cluster.sasl.mechanism":    "PLAIN",
					"source.cluster.sasl.jaas.config":  `org.apache.kafka.common.security.plain.PlainLoginModule required username="mm2" password="${env:MM2_PASSWORD}";`,
				})
				in.Resolver.LookupEnv = func(k string) (string, bool) { return "mm2-secret", k == "MM2_PASSWORD" }
				return in
			}, check: CheckPermissions, status: Fail, fragments: []string{"source topic payments: READ", "DESCRIBE_CONFIGS"}},
		{name: "topics pass", setup: base, check: CheckTopics, status: Pass, fragments: []string{"2 topics, 5 partitions selected: orders(3) payments(2)"}},
		{name: "topics fail on a pattern matching nothing", setup: func(e *env) Input {
			in := base(e)
			in.Connectors[0] = e.msc(map[string]string{"topics": "orders, shipments.*"})
			return in
		}, check: CheckTopics, status: Fail, fragments: []string{`"shipments.*" matches no source topic`}},
		{name: "topics warn on heartbeats caught", setup: func(e *env) Input {
			in := base(e)
			topic(e.t, e.srcAdm, "heartbeats", 1, nil)
			in.Connectors[0] = e.msc(map[string]string{"topics": "orders, payments, heart.*"})
			return in
		}, check: CheckTopics, status: Warn, fragments: []string{"caught: heartbeats"}},
		{name: "message size pass", setup: base, check: CheckMessageSize, status: Pass, fragments: []string{"largest source max.message.bytes 1048588"}},
		{name: "message size fail", setup: func(e *env) Input {
			in := base(e)
			topic(e.t, e.srcAdm, "images", 1, map[string]*string{"max.message.bytes": ptr("5242880")})
			in.Connectors[0] = e.msc(map[string]string{"topics": "orders, images"})
			return in
		}, check: CheckMessageSize, status: Fail, fragments: []string{"images allows 5242880 bytes", "max.request.size"}},
		{name: "message size fail on an existing target topic", setup: func(e *env) Input {
			in := base(e)
			topic(e.t, e.tgtAdm, "orders", 3, map[string]*string{"max.message.bytes": ptr("1000")})
			return in
		}, check: CheckMessageSize, status: Fail, fragments: []string{"target topic orders max.message.bytes 1000"}},
		{name: "timestamps pass", setup: base, check: CheckTimestamps, status: Pass, fragments: []string{"5 partitions with records"}},
		{name: "target topics pass", setup: base, check: CheckTargetTopics, status: Pass, fragments: []string{"none of the 2 target topics exists"}},
		{name: "target topics fail on cleanup.policy", setup: func(e *env) Input {
			in := base(e)
			topic(e.t, e.tgtAdm, "orders", 3, map[string]*string{"cleanup.policy": ptr("compact")})
			return in
		}, check: CheckTargetTopics, status: Fail, fragments: []string{"orders compact vs source delete"}},
		{name: "target topics warn on data and fewer partitions", setup: func(e *env) Input {
			in := base(e)
			topic(e.t, e.tgtAdm, "orders", 2, nil)
			produce(e.t, e.tgtCl, "orders", 2, time.Now(), []byte("x"))
			return in
		}, check: CheckTargetTopics, status: Warn, fragments: []string{"orders 2<3", "orders (2 records)"}},
		{name: "policy pass", setup: base, check: CheckPolicy, status: Pass, fragments: []string{"2 MM2 connectors use IdentityReplicationPolicy"}},
		{name: "policy fail on different separators", setup: func(e *env) Input {
			in := base(e)
			in.Connectors[1] = e.cpc(map[string]string{"replication.policy.separator": "_"})
			return in
		}, check: CheckPolicy, status: Fail, fragments: []string{"mm2-cpc", "mm2-msc"}},
		{name: "policy fail on an identity loop", setup: func(e *env) Input {
			in := base(e)
			back := e.msc(map[string]string{"source.cluster.alias": "tgt", "target.cluster.alias": "src", "topics": ".*"})
			back.Name = "mm2-back"
			in.Connectors, in.SourceConnector = append(in.Connectors, back), "mm2-msc"
			return in
		}, check: CheckPolicy, status: Fail, fragments: []string{"orders (back by mm2-back)"}},
		{name: "groups pass", setup: func(e *env) Input {
			in := base(e)
			commit(e.t, e.srcCl, "billing", "orders")
			return in
		}, check: CheckGroups, status: Pass, fragments: []string{"1 will sync (billing)"}},
		{name: "groups warn on a group active on the target", setup: func(e *env) Input {
			in := base(e)
			commit(e.t, e.srcCl, "billing", "orders")
			join(e.t, e.tgt, "billing")
			return in
		}, check: CheckGroups, status: Warn, fragments: []string{"active on the target", "billing (1 members)"}},
		{name: "groups fail without checkpoints", setup: func(e *env) Input {
			in := base(e)
			in.Connectors[1] = e.cpc(map[string]string{"emit.checkpoints.enabled": "false"})
			return in
		}, check: CheckGroups, status: Fail, fragments: []string{"emit.checkpoints.enabled=false"}},
		{name: "internal topics pass", setup: func(e *env) Input {
			in := base(e)
			in.Worker = map[string]string{"config.storage.topic": "mm2-configs", "config.storage.replication.factor": "1"}
			return in
		}, check: CheckInternal, status: Pass, fragments: []string{"mm2-configs(rf 1)", "src.checkpoints.internal(rf 1)"}},
		{name: "internal topics fail on a replication factor too high", setup: func(e *env) Input {
			in := base(e)
			in.Worker = map[string]string{"config.storage.topic": "mm2-configs"}
			return in
		}, check: CheckInternal, status: Fail, fragments: []string{"mm2-configs: worker config.storage.replication.factor=3 but the target cluster has 1 brokers"}},
		{name: "internal topics fail on a deleting internal topic", setup: func(e *env) Input {
			in := base(e)
			topic(e.t, e.tgtAdm, "src.checkpoints.internal", 1, map[string]*string{"cleanup.policy": ptr("delete")})
			return in
		}, check: CheckInternal, status: Fail, fragments: []string{"cleanup.policy=delete, must be compact"}},
		{name: "sizing pass", setup: func(e *env) Input {
			in := base(e)
			in.MaxWorkers = 2
			return in
		}, check: CheckSizing, status: Pass, fragments: []string{"tasks.max=2, 5 selected partitions"}},
		{name: "sizing warn on idle workers", setup: func(e *env) Input {
			in := base(e)
			in.MaxWorkers = 4
			return in
		}, check: CheckSizing, status: Warn, fragments: []string{"2 workers would run no"}},
		{name: "sizing warn on idle tasks", setup: func(e *env) Input {
			in := base(e)
			in.Connectors[0] = e.msc(map[string]string{"tasks.max": "8"})
			return in
		}, check: CheckSizing, status: Warn, fragments: []string{"3 tasks would get no partition"}},
		{name: "connect pass", setup: func(e *env) Input {
			in := base(e)
			in.Connect = connectClient(e.t)
			return in
		}, check: CheckConnect, status: Pass, fragments: []string{"Connect accepts all 2"}},
		{name: "connect fail on a config Connect refuses", setup: func(e *env) Input {
			in := base(e)
			in.Connectors[0] = e.msc(map[string]string{"tasks.max": "0"})
			in.Connect = connectClient(e.t)
			return in
		}, check: CheckConnect, status: Fail, fragments: []string{"mm2-msc: tasks.max: Invalid value 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.srcOpts, c.tgtOpts)
			if len(c.srcOpts) > 0 {
				// The seeding client needs the superuser.
				e.srcCl.Close()
				cl, err := kgo.NewClient(kgo.SeedBrokers(e.src.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
					kgo.SASL(plainAuth("admin", "admin")))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(cl.Close)
				e.srcCl, e.srcAdm = cl, kadmClient(cl)
			}
			got := results(t, c.setup(e))
			expect(t, got, c.check, c.status, c.fragments...)
		})
	}
}

func connectClient(t testing.TB) *connect.Client {
	t.Helper()
	cl := connecttest.NewCluster(t, 1)
	api, err := connect.New(connect.Config{URL: cl.URL(), Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// commit commits an offset of group on partition 0 of topic.
func commit(t testing.TB, cl *kgo.Client, group, topic string) {
	t.Helper()
	adm := kadmClient(cl)
	offs := kadmOffsets{}
	offs.AddOffset(topic, 0, 1, -1)
	resp, err := adm.CommitOffsets(ctxT(t), group, offs)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit %s: %v", group, err)
	}
}

// join makes a consumer a member of group on a cluster until the test ends.
func join(t testing.TB, c *kfake.Cluster, group string) {
	t.Helper()
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	topic(t, kadmClient(adm), "live", 1, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics("live"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := contextWithTimeout(t, 200*time.Millisecond)
		cl.PollFetches(ctx)
		cancel()
		described, err := kadmClient(adm).DescribeGroups(ctxT(t), group)
		if err == nil && len(described[group].Members) > 0 {
			return
		}
	}
	t.Fatalf("consumer never joined %s", group)
}

// TestFirstTimestamp reads timestamps from the head of record batches as
// brokers return them: whole, truncated, after a control batch.
func TestFirstTimestamp(t *testing.T) {
	batch := func(ts int64, control, logAppend bool) []byte {
		b := kmsg.RecordBatch{Magic: 2, FirstTimestamp: ts, MaxTimestamp: ts + 5, NumRecords: 1, Records: bytes.Repeat([]byte{0}, 40)}
		if control {
			b.Attributes |= 0x20
		}
		if logAppend {
			b.Attributes |= 0x08
		}
		b.Length = int32(len(b.AppendTo(nil)) - 12)
		return b.AppendTo(nil)
	}
	cases := []struct {
		name string
		raw  []byte
		want int64
	}{
		{"one batch", batch(1000, false, false), 1000},
		{"truncated after the header", batch(2000, false, false)[:61], 2000},
		{"log append time", batch(3000, false, true), 3005},
		{"after a control batch", append(batch(1, true, false), batch(4000, false, false)...), 4000},
		{"too short", batch(5000, false, false)[:20], noTimestamp},
		{"empty", nil, noTimestamp},
	}
	for _, c := range cases {
		if got := firstTimestamp(c.raw); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}
