package lag

import (
	"context"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/internal/memnet"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

const (
	identityPolicy = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
	mscName        = "mm2-msc"
	cpcName        = "mm2-cpc"
)

// migration is a source and a target kfake cluster, a Connect REST
// stand-in with an MM2 source and checkpoint connector, and helpers that
// do MM2's work by hand: copy records, commit source offsets, write
// checkpoints.
type migration struct {
	t              testing.TB
	src, tgt       *kfake.Cluster
	srcCl, tgtCl   *kgo.Client
	srcAdm, tgtAdm *kadm.Client
	connect        *connecttest.Cluster
	api            *connect.Client
	net            *memnet.Network // nil: loopback TCP
	offsets        []connecttest.Offset
	policy         mm2.Policy
}

func newMigration(t testing.TB, mscExtra map[string]string, srcOpts ...kfake.Opt) *migration {
	t.Helper()
	c := connecttest.NewCluster(t, 1)
	return buildMigration(t, nil, c, c.URL(), mscExtra, srcOpts...)
}

// Ports of the source and target clusters on an in-memory network, which
// picks no free port of its own.
const (
	srcPort = 9092
	tgtPort = 9093
)

// scenarioInBubble runs f in a synctest bubble on the scenario, its Kafka
// clusters and every client of them on an in-memory network: the clients'
// retry backoffs and timeouts and the test's own waits pass on the
// bubble's clock, at once when nothing else is left to run. Connect REST
// stays on loopback, its workers started outside the bubble (a server
// blocked on a real socket would keep the clock from moving), behind a
// proxy that closes each connection after its answer: an idle keep-alive
// connection would leave a client goroutine of the bubble blocked on a
// real socket for good.
func scenarioInBubble(t *testing.T, f func(t *testing.T, e *migration)) {
	t.Helper()
	c := connecttest.NewCluster(t, 1)
	target, err := url.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	proxy.Config.SetKeepAlivesEnabled(false)
	proxy.Start()
	t.Cleanup(proxy.Close)
	synctest.Test(t, func(t *testing.T) {
		e := buildMigration(t, &memnet.Network{}, c, proxy.URL, nil)
		e.fillScenario()
		f(t, e)
	})
}

// buildMigration makes the clusters, their clients and c's connectors,
// reached through Connect REST at connectURL. With mem set, the clusters
// listen and their clients dial there.
func buildMigration(t testing.TB, mem *memnet.Network, c *connecttest.Cluster, connectURL string, mscExtra map[string]string, srcOpts ...kfake.Opt) *migration {
	t.Helper()
	e := &migration{t: t, net: mem, connect: c}
	var srcNet, tgtNet []kfake.Opt
	if mem != nil {
		listen := func(_, address string) (net.Listener, error) { return mem.Listen(address) }
		srcNet = []kfake.Opt{kfake.Ports(srcPort), kfake.ListenFn(listen)}
		tgtNet = []kfake.Opt{kfake.Ports(tgtPort), kfake.ListenFn(listen)}
	}
	var err error
	if e.src, err = kfake.NewCluster(slices.Concat([]kfake.Opt{kfake.NumBrokers(1)}, srcNet, srcOpts)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.src.Close)
	if e.tgt, err = kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, tgtNet...)...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.tgt.Close)
	e.tgtCl = newClient(t, e.tgt.ListenAddrs(), e.clientOpts()...)
	e.tgtAdm = kadm.NewClient(e.tgtCl)
	if len(srcOpts) == 0 {
		e.srcCl = newClient(t, e.src.ListenAddrs(), e.clientOpts()...)
		e.srcAdm = kadm.NewClient(e.srcCl)
	}
	if e.api, err = connect.New(connect.Config{URL: connectURL, Timeout: 10 * time.Second}, nil); err != nil {
		t.Fatal(err)
	}
	msc := map[string]string{
		"connector.class":                  mm2.SourceConnectorClass,
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "tgt",
		"source.cluster.bootstrap.servers": strings.Join(e.src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers": strings.Join(e.tgt.ListenAddrs(), ","),
		"replication.policy.class":         identityPolicy,
	}
	for k, v := range mscExtra {
		if v == "" {
			delete(msc, k)
		} else {
			msc[k] = v
		}
	}
	if e.policy, err = mm2.PolicyFromConnector(msc); err != nil {
		t.Fatal(err)
	}
	cpc := map[string]string{}
	for k, v := range msc {
		cpc[k] = v
	}
	cpc["connector.class"] = mm2.CheckpointConnectorClass
	if err := e.connect.Put(mscName, msc, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.connect.Put(cpcName, cpc, ""); err != nil {
		t.Fatal(err)
	}
	return e
}

func newClient(t testing.TB, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// clientOpts is opts, with the dialer of the migration's network when it
// has one: every Kafka client of a test, the Measurer's too, takes them.
func (e *migration) clientOpts(opts ...kgo.Opt) []kgo.Opt {
	if e.net == nil {
		return opts
	}
	return append([]kgo.Opt{kgo.Dialer(e.net.DialContext)}, opts...)
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *migration) createTopic(cl *kadm.Client, topic string, partitions int32) {
	e.t.Helper()
	if _, err := cl.CreateTopic(ctxT(e.t), partitions, 1, nil, topic); err != nil {
		e.t.Fatalf("create topic %s: %v", topic, err)
	}
}

func (e *migration) produce(cl *kgo.Client, topic string, partition int32, n int) {
	e.t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("v")}
	}
	if err := cl.ProduceSync(ctxT(e.t), recs...).FirstErr(); err != nil {
		e.t.Fatalf("produce %s[%d]: %v", topic, partition, err)
	}
}

// copied records that MM2 copied source records up to and including
// offset last, as MirrorSourceTask commits them.
func (e *migration) copied(topic string, partition int32, last int64) {
	e.t.Helper()
	e.offsets = append(e.offsets, connecttest.Offset{
		Partition: map[string]any{"cluster": "src", "topic": topic, "partition": partition},
		Offset:    map[string]any{"offset": last},
	})
	if err := e.connect.SetOffsets(mscName, e.offsets); err != nil {
		e.t.Fatal(err)
	}
}

func (e *migration) checkpoint(cps ...mm2.Checkpoint) {
	e.t.Helper()
	var recs []*kgo.Record
	for _, cp := range cps {
		k, v := mm2.EncodeCheckpoint(cp)
		recs = append(recs, &kgo.Record{Topic: e.policy.CheckpointsTopic("src"), Key: k, Value: v})
	}
	if err := e.tgtCl.ProduceSync(ctxT(e.t), recs...).FirstErr(); err != nil {
		e.t.Fatalf("write checkpoints: %v", err)
	}
}

func (e *migration) commit(adm *kadm.Client, group, topic string, partition int32, at int64) {
	e.t.Helper()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctxT(e.t), group, os); err != nil {
		e.t.Fatalf("commit %s: %v", group, err)
	}
}
