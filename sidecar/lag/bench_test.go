package lag

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// The benchmark's clusters run in a child process (this test binary with
// MM2_BENCH_FIXTURE set) so that B/op and the heap figures are the
// sidecar's alone, not kfake's.
const (
	benchBrokers       = 3
	benchGroups        = 200
	benchTopicsPerGrp  = 10
	benchCheckpointTop = "src.checkpoints.internal"
)

// TestBenchFixture is the child process: it builds the clusters, prints
// the Connect URL and serves until its stdin closes.
func TestBenchFixture(t *testing.T) {
	spec := os.Getenv("MM2_BENCH_FIXTURE")
	if spec == "" {
		t.Skip("runs only as the benchmark's fixture process")
	}
	var topics, parts int
	if _, err := fmt.Sscanf(spec, "%d,%d", &topics, &parts); err != nil {
		t.Fatal(err)
	}
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%04d", i)
	}
	newCluster := func(extra ...string) *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(benchBrokers), kfake.SeedTopics(int32(parts), append(extra, names...)...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	src := newCluster()
	tgt := newCluster()
	ctx := context.Background()
	srcCl := newClient(t, src.ListenAddrs(), kgo.ProducerLinger(0))
	tgtCl := newClient(t, tgt.ListenAddrs())
	srcAdm, tgtAdm := kadm.NewClient(srcCl), kadm.NewClient(tgtCl)
	if _, err := tgtAdm.CreateTopic(ctx, 1, 1, nil, benchCheckpointTop); err != nil {
		t.Fatal(err)
	}
	// Some records in the first topics so that lag is not all zero.
	var recs []*kgo.Record
	for i := 0; i < 10 && i < topics; i++ {
		for p := range parts {
			recs = append(recs, &kgo.Record{Topic: names[i], Partition: int32(p), Value: []byte("v")})
		}
	}
	if err := srcCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Each group consumes benchTopicsPerGrp topics, checkpointed and
	// committed on both sides.
	var cps []*kgo.Record
	for g := range benchGroups {
		group := fmt.Sprintf("group-%03d", g)
		var os kadm.Offsets
		for i := range benchTopicsPerGrp {
			topic := names[(g*benchTopicsPerGrp+i)%topics]
			for p := range parts {
				os.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: 0, LeaderEpoch: -1})
				k, v := mm2.EncodeCheckpoint(mm2.Checkpoint{Group: group, Topic: topic, Partition: int32(p)})
				cps = append(cps, &kgo.Record{Topic: benchCheckpointTop, Key: k, Value: v})
			}
		}
		if err := srcAdm.CommitAllOffsets(ctx, group, os); err != nil {
			t.Fatal(err)
		}
		if err := tgtAdm.CommitAllOffsets(ctx, group, os); err != nil {
			t.Fatal(err)
		}
	}
	if err := tgtCl.ProduceSync(ctx, cps...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cc := connecttest.NewCluster(t, 1)
	msc := map[string]string{
		"connector.class":                  mm2.SourceConnectorClass,
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "tgt",
		"source.cluster.bootstrap.servers": strings.Join(src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers": strings.Join(tgt.ListenAddrs(), ","),
		"replication.policy.class":         identityPolicy,
	}
	cpc := map[string]string{}
	for k, v := range msc {
		cpc[k] = v
	}
	cpc["connector.class"] = mm2.CheckpointConnectorClass
	if err := cc.Put(mscName, msc, ""); err != nil {
		t.Fatal(err)
	}
	if err := cc.Put(cpcName, cpc, ""); err != nil {
		t.Fatal(err)
	}
	offs := make([]connecttest.Offset, 0, topics*parts)
	for _, topic := range names {
		for p := range parts {
			offs = append(offs, connecttest.Offset{
				Partition: map[string]any{"cluster": "src", "topic": topic, "partition": p},
				Offset:    map[string]any{"offset": 0},
			})
		}
	}
	if err := cc.SetOffsets(mscName, offs); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("READY %s\n", cc.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startFixture runs the fixture process and returns the Connect URL.
func startFixture(b *testing.B, topics, parts int) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchFixture$", "-test.v=false")
	cmd.Env = append(os.Environ(), fmt.Sprintf("MM2_BENCH_FIXTURE=%d,%d", topics, parts))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
			b.Logf("fixture %d×%d ready in %s", topics, parts, time.Since(start).Round(time.Millisecond))
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return url
		}
	}
	b.Fatalf("fixture process ended without READY: %v", sc.Err())
	return ""
}

// requestCounter counts Kafka requests by API key.
type requestCounter struct{ n [128]atomic.Int64 }

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	if key >= 0 && int(key) < len(c.n) {
		c.n[key].Add(1)
	}
}

func (c *requestCounter) snapshot() (total int64, byKey map[int16]int64) {
	byKey = map[int16]int64{}
	for k := range c.n {
		if v := c.n[k].Load(); v > 0 {
			byKey[int16(k)] = v
			total += v
		}
	}
	return total, byKey
}

// heapPeak records the highest heap seen while it runs, from a goroutine
// reading runtime/metrics every 200µs. objects is what MemStats calls
// HeapAlloc: live objects and dead ones not yet swept, the figure the GC
// paces against; inuse adds the free space inside spans holding objects
// (MemStats.HeapInuse), closer to what the heap costs the process. The
// heap only shrinks at a GC, so a peak can only be missed between two
// samples, and gap (the longest time between samples) bounds that.
type heapPeak struct {
	stop                 chan struct{}
	done                 chan struct{}
	objects, inuse, goal uint64
	gap                  time.Duration
}

func startHeapPeak() *heapPeak {
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		s := []metrics.Sample{
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/heap/unused:bytes"},
			{Name: "/gc/heap/goal:bytes"},
		}
		last := time.Now()
		for {
			metrics.Read(s)
			objects := s[0].Value.Uint64()
			h.objects = max(h.objects, objects)
			h.inuse = max(h.inuse, objects+s[1].Value.Uint64())
			h.goal = max(h.goal, s[2].Value.Uint64())
			now := time.Now()
			h.gap, last = max(h.gap, now.Sub(last)), now
			select {
			case <-h.stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return h
}

// end stops sampling; the fields are final after it returns.
func (h *heapPeak) end() { close(h.stop); <-h.done }

// BenchmarkCycle measures full measurement cycles: end and start offsets
// of every source partition, MM2's offsets from Connect, checkpoints, and
// both clusters' group offsets. "cold" includes reading every checkpoint
// once; the timed loop is the steady state that only reads new ones.
func BenchmarkCycle(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			url := startFixture(b, size.topics, size.parts)
			api, err := connect.New(connect.Config{URL: url, Timeout: time.Minute}, nil)
			if err != nil {
				b.Fatal(err)
			}
			var reqs requestCounter
			m := NewMeasurer(api, MeasurerOptions{ClientOpts: []kgo.Opt{kgo.WithHooks(&reqs)}})
			b.Cleanup(m.Close)
			ctx := context.Background()

			runtime.GC()
			hp := startHeapPeak()
			start := time.Now()
			snap, err := m.Measure(ctx)
			cold := time.Since(start)
			hp.end()
			coldPeak := hp.objects
			if err != nil {
				b.Fatal(err)
			}
			if n := len(snap.Groups); n != benchGroups {
				b.Fatalf("groups = %d, want %d", n, benchGroups)
			}
			coldReqs, _ := reqs.snapshot()

			// A second cycle warms kgo's metadata caches like a running sidecar.
			if _, err := m.Measure(ctx); err != nil {
				b.Fatal(err)
			}
			before, _ := reqs.snapshot()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			base := ms.HeapAlloc
			hp = startHeapPeak()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := m.Measure(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			hp.end()
			after, byKey := reqs.snapshot()
			b.ReportMetric(float64(after-before)/float64(b.N), "requests/cycle")
			b.ReportMetric(float64(hp.objects)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(hp.inuse)/(1<<20), "peak-inuse-MB")
			b.ReportMetric(float64(hp.goal)/(1<<20), "peak-goal-MB")
			b.ReportMetric(float64(base)/(1<<20), "base-heap-MB")
			b.ReportMetric(cold.Seconds(), "cold-cycle-s")
			b.ReportMetric(float64(coldPeak)/(1<<20), "cold-peak-heap-MB")
			b.ReportMetric(float64(coldReqs), "cold-requests")
			keys := make([]string, 0, len(byKey))
			for k, v := range byKey {
				keys = append(keys, strconv.Itoa(int(k))+":"+strconv.FormatInt(v, 10))
			}
			b.Logf("heap sampled at most %s apart", hp.gap.Round(time.Microsecond))
			b.Logf("requests by API key over all cycles (key:count): %s", strings.Join(keys, " "))
		})
	}
}

// BenchmarkGroupOffsets fetches the committed offsets of the fixture's 200
// groups (1,000 topics × 100 partitions, each group 10 topics) on the
// source both ways: "kgo-sharded" through kgo's sharded OffsetFetch, the
// baseline, and "coordinators" as the measurement does. retained-MB is the
// heap still live after the loop and a GC, with the answers dropped: what
// the client keeps between measurements.
func BenchmarkGroupOffsets(b *testing.B) {
	url := startFixture(b, 1000, 100)
	api, err := connect.New(connect.Config{URL: url, Timeout: time.Minute}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := api.Config(ctx, mscName)
	if err != nil {
		b.Fatal(err)
	}
	src, err := kafka.ClusterFromConnector(cfg, kafka.Source, javaconfig.Resolver{})
	if err != nil {
		b.Fatal(err)
	}
	groups := make([]string, benchGroups)
	for g := range groups {
		groups[g] = fmt.Sprintf("group-%03d", g)
	}
	for _, bc := range []struct {
		name  string
		fetch func(*kgo.Client, topicIDs) (int, error)
	}{
		{"fetch=kgo-sharded", func(cl *kgo.Client, _ topicIDs) (int, error) {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Groups = make([]kmsg.OffsetFetchRequestGroup, len(groups))
			for i, g := range groups {
				req.Groups[i].Default()
				req.Groups[i].Group = g
			}
			n := 0
			for _, shard := range cl.RequestSharded(ctx, req) {
				if shard.Err != nil {
					return 0, shard.Err
				}
				for _, g := range shard.Resp.(*kmsg.OffsetFetchResponse).Groups {
					eachPartition(g.Topics, func(string, int32, int64, error) { n++ })
				}
			}
			return n, nil
		}},
		{"fetch=coordinators", func(cl *kgo.Client, ids topicIDs) (int, error) {
			n := 0
			var err error
			eachGroupOffsets(ctx, kadm.NewClient(cl), cl, groups, ids, func(_ string, ts []kmsg.OffsetFetchResponseGroupTopic, gerr error) {
				if gerr != nil {
					err = gerr
				}
				eachPartition(ts, func(string, int32, int64, error) { n++ })
			})
			return n, err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts, err := src.ClientOpts(ctx)
			if err != nil {
				b.Fatal(err)
			}
			cl, err := kgo.NewClient(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			mresp, err := metadata(ctx, cl, nil)
			if err != nil {
				b.Fatal(err)
			}
			ids := topicIDs{}
			for _, t := range mresp.Topics {
				ids.add(t)
			}
			mresp = nil
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			for b.Loop() {
				n, err := bc.fetch(cl, ids)
				if err != nil {
					b.Fatal(err)
				}
				if want := benchGroups * benchTopicsPerGrp * 100; n != want {
					b.Fatalf("%d committed offsets, want %d", n, want)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/(1<<20), "retained-MB")
		})
	}
}
