package mirror

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

func TestTranslate(t *testing.T) {
	k := syncKey{"src", "dst", "t", 0}
	s := newSyncStore()
	for _, o := range []offsetSync{{up: 0, down: 10}, {up: 100, down: 110}, {up: 150, down: 170}} {
		s.add(k, o)
	}
	tests := []struct {
		name     string
		upstream int64
		want     int64
		ok       bool
	}{
		{"before the first sync", -1, 0, false},
		{"exactly a sync", 100, 110, true},
		{"between syncs: one past the synced record", 120, 111, true},
		{"beyond the last sync: only up to it", 1000, 171, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, ok := s.translate(k, tt.upstream)
			if ok != tt.ok || ok && got != tt.want {
				t.Errorf("translate(%d) = %d, %v; want %d, %v", tt.upstream, got, ok, tt.want, tt.ok)
			}
		})
	}
	// A restarted task re-copies from an earlier offset: newer syncs win.
	s.add(k, offsetSync{up: 120, down: 300})
	if got, _, _ := s.translate(k, 160); got != 301 {
		t.Errorf("after a re-copy, translate(160) = %d, want 301", got)
	}
}

type env struct {
	net      *kfake.VirtualNetwork
	src, tgt *kfake.Cluster
	srcCl    *kgo.Client
	tgtCl    *kgo.Client
	c        *connecttest.Cluster
	r        *Replicator
}

// runEnv runs f in a synctest bubble with two kfake clusters on an
// in-memory network, the source topics made, and a Replicator of a
// two-worker connecttest cluster, so that the replicator's intervals, the
// clients' waits and the brokers' pass on the bubble's clock. The
// connecttest workers serve on loopback and start outside the bubble:
// goroutines blocked on real sockets would keep its clock from moving.
// Within it, the tests drive the cluster through its Go API and their
// own HTTP requests close their connections.
func runEnv(t *testing.T, topics map[string]int32, f func(t *testing.T, e *env)) {
	t.Helper()
	c := connecttest.NewCluster(t, 2)
	synctest.Test(t, func(t *testing.T) {
		e := &env{net: &kfake.VirtualNetwork{}, c: c}
		var err error
		// The network gives no free port of its own: each broker names one.
		if e.src, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9092), kfake.ListenFn(e.net.Listen)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.src.Close)
		if e.tgt, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(9093), kfake.ListenFn(e.net.Listen)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.tgt.Close)
		e.srcCl = e.client(t, e.src)
		e.tgtCl = e.client(t, e.tgt)
		ctx := context.Background()
		for topic, n := range topics {
			if _, err := kadm.NewClient(e.srcCl).CreateTopic(ctx, n, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
		}
		vars := map[string]string{"SRC": strings.Join(e.src.ListenAddrs(), ","), "DST": strings.Join(e.tgt.ListenAddrs(), ",")}
		e.r = New(e.c, Options{
			LookupEnv:           func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
			OffsetFlushInterval: 200 * time.Millisecond,
			Interval:            50 * time.Millisecond,
			Dial:                e.net.DialContext,
		})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = e.r.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-done })
		f(t, e)
	})
}

// client returns a client of cluster on the in-memory network, closed
// when the test ends.
func (e *env) client(t *testing.T, cluster *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.Dialer(e.net.DialContext)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func mm2Config(class string, extra map[string]string) map[string]string {
	cfg := map[string]string{
		"connector.class":                  class,
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "dst",
		"source.cluster.bootstrap.servers": "${env:SRC}",
		"target.cluster.bootstrap.servers": "${env:DST}",
		"replication.policy.class":         "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
		"replication.factor":               "1",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func (e *env) produce(t *testing.T, topic string, partition int32, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.src.ListenAddrs()...), kgo.Dialer(e.net.DialContext), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "%s-%d-%d", topic, partition, i)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitFor lets the bubble's clock run in steps of a millisecond until cond
// holds, checking it each time everything else waits. A minute of that
// clock bounds it.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	giveUp := time.Now().Add(time.Minute)
	for {
		synctest.Wait()
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(giveUp) {
			t.Fatalf("%s: not reached; last: %s", what, detail)
		}
		time.Sleep(time.Millisecond)
	}
}

// settle lets the replicator run for a second of the bubble's clock:
// twenty task-state reads, five offset flushes and several fetches, time
// enough for anything it was going to do.
func settle() {
	time.Sleep(time.Second)
	synctest.Wait()
}

func endOffsets(t *testing.T, cl *kgo.Client, topic string) map[int32]int64 {
	t.Helper()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

func committed(c *connecttest.Cluster, name string) map[string]int64 {
	out := map[string]int64{}
	for _, o := range c.Offsets(name) {
		p, _ := asInt(o.Partition["partition"])
		v, _ := asInt(o.Offset["offset"])
		out[fmt.Sprintf("%v/%v/%d", o.Partition["cluster"], o.Partition["topic"], p)] = v
	}
	return out
}

func TestSourceCopiesSelectedTopicsAndCommitsOffsets(t *testing.T) {
	runEnv(t, map[string]int32{"orders": 3, "audit": 1, "ops.internal": 1}, func(t *testing.T, e *env) {
		e.produce(t, "orders", 0, 30)
		e.produce(t, "orders", 2, 5)
		e.produce(t, "audit", 0, 4)
		e.produce(t, "ops.internal", 0, 4)
		if err := e.c.Put("msc", mm2Config(mm2.SourceConnectorClass, map[string]string{"tasks.max": "2", "topics.exclude": "audit"}), ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "source offsets committed", func() (bool, string) {
			got := committed(e.c, "msc")
			return got["src/orders/0"] == 29 && got["src/orders/2"] == 4, fmt.Sprint(got)
		})
		settle()
		if got := committed(e.c, "msc"); len(got) != 2 {
			t.Errorf("committed offsets %v: want only the two partitions that had records", got)
		}
		if ends := endOffsets(t, e.tgtCl, "orders"); ends[0] != 30 || ends[1] != 0 || ends[2] != 5 {
			t.Errorf("target orders end offsets %v, want 0:30 1:0 2:5", ends)
		}
		topics, err := kadm.NewClient(e.tgtCl).ListTopics(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, excluded := range []string{"audit", "ops.internal"} {
			if topics.Has(excluded) {
				t.Errorf("topic %s replicated; topics.exclude and internal topics must not be", excluded)
			}
		}
		// Identity policy: same name, partition, value.
		cl := e.client(t, e.tgt, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"orders": {0: kgo.NewOffset().AtStart()}}))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		fs := cl.PollRecords(ctx, 1)
		if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "orders-0-0" {
			t.Errorf("first record on target orders/0: %v", recs)
		}
	})
}

func TestFailedTaskStopsCopyingUntilRestarted(t *testing.T) {
	runEnv(t, map[string]int32{"t": 2}, func(t *testing.T, e *env) {
		if err := e.c.Put("msc", mm2Config(mm2.SourceConnectorClass, map[string]string{"tasks.max": "2"}), ""); err != nil {
			t.Fatal(err)
		}
		e.produce(t, "t", 0, 10)
		e.produce(t, "t", 1, 10)
		waitFor(t, "initial copy", func() (bool, string) {
			got := committed(e.c, "msc")
			return got["src/t/0"] == 9 && got["src/t/1"] == 9, fmt.Sprint(got)
		})
		// Partition 0 belongs to task 0, partition 1 to task 1 (round robin).
		if err := e.c.SetTaskState("msc", 0, connecttest.StateFailed, "boom"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "task 0 stopped consuming", func() (bool, string) {
			e.r.mu.Lock()
			s := e.r.sources["msc"]
			e.r.mu.Unlock()
			s.mu.Lock()
			defer s.mu.Unlock()
			return !s.consuming[tp{"t", 0}], "still consuming"
		})
		e.produce(t, "t", 0, 5)
		e.produce(t, "t", 1, 5)
		waitFor(t, "task 1 keeps copying", func() (bool, string) {
			got := committed(e.c, "msc")
			return got["src/t/1"] == 14, fmt.Sprint(got)
		})
		settle()
		if got := e.r.Copied("msc")["t"][0]; got != 9 {
			t.Errorf("FAILED task copied up to %d, want still 9", got)
		}
		if err := e.c.SetTaskState("msc", 0, connecttest.StateRunning, ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "restarted task catches up", func() (bool, string) {
			got := committed(e.c, "msc")
			return got["src/t/0"] == 14, fmt.Sprint(got)
		})
		if ends := endOffsets(t, e.tgtCl, "t"); ends[0] != 15 {
			t.Errorf("target t/0 end %d, want 15 (no record lost or copied twice)", ends[0])
		}
	})
}

func TestCheckpointsAndGroupOffsetSync(t *testing.T) {
	runEnv(t, map[string]int32{"t": 1}, func(t *testing.T, e *env) {
		e.produce(t, "t", 0, 50)
		ctx := context.Background()
		srcAdm := kadm.NewClient(e.srcCl)
		for g, at := range map[string]int64{"idle": 40, "busy": 20} {
			offs := kadm.Offsets{}
			offs.Add(kadm.Offset{Topic: "t", Partition: 0, At: at, LeaderEpoch: -1})
			if _, err := srcAdm.CommitOffsets(ctx, g, offs); err != nil {
				t.Fatal(err)
			}
		}
		// "busy" already has a live consumer on the target: never overwritten.
		// The member commits nothing itself, so that every OffsetCommit of
		// "busy" the target sees would be the replicator's: kfake refuses
		// a commit from outside the group's generation, so the offsets
		// alone could not tell an attempt from none.
		var busyCommits atomic.Int32
		e.tgt.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
			e.tgt.KeepControl()
			if req.(*kmsg.OffsetCommitRequest).Group == "busy" {
				busyCommits.Add(1)
			}
			return nil, nil, false
		})
		// The consumer joins only once its topic exists on the target.
		if _, err := kadm.NewClient(e.tgtCl).CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
			t.Fatal(err)
		}
		member := e.client(t, e.tgt, kgo.ConsumerGroup("busy"), kgo.ConsumeTopics("t"), kgo.DisableAutoCommit())
		mctx, stop := context.WithCancel(ctx)
		polled := make(chan struct{})
		go func() { defer close(polled); member.PollFetches(mctx) }()
		t.Cleanup(func() { stop(); <-polled })
		waitFor(t, "busy's member to join on the target", func() (bool, string) {
			d, err := kadm.NewClient(e.tgtCl).DescribeGroups(ctx, "busy")
			if err != nil {
				return false, err.Error()
			}
			return len(d["busy"].Members) > 0, fmt.Sprint(d["busy"].State)
		})

		if err := e.c.Put("msc", mm2Config(mm2.SourceConnectorClass, map[string]string{"offset.lag.max": "1"}), ""); err != nil {
			t.Fatal(err)
		}
		if err := e.c.Put("cpc", mm2Config(mm2.CheckpointConnectorClass, map[string]string{
			"emit.checkpoints.interval.seconds":   "1",
			"sync.group.offsets.enabled":          "true",
			"sync.group.offsets.interval.seconds": "1",
		}), ""); err != nil {
			t.Fatal(err)
		}
		cps := map[string]mm2.Checkpoint{}
		reader := e.client(t, e.tgt, kgo.ConsumeTopics("src.checkpoints.internal"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
		waitFor(t, "checkpoints for both groups", func() (bool, string) {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			reader.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
				cp, err := mm2.DecodeCheckpoint(r.Key, r.Value)
				if err != nil {
					t.Errorf("checkpoint record does not decode: %v", err)
					return
				}
				cps[cp.Group] = cp
			})
			return cps["idle"].Upstream == 40 && cps["busy"].Upstream == 20, fmt.Sprint(cps)
		})
		for g, want := range map[string]int64{"idle": 40, "busy": 20} {
			if cp := cps[g]; cp.Topic != "t" || cp.Partition != 0 || cp.Downstream != want {
				t.Errorf("checkpoint of %s = %+v, want downstream %d", g, cp, want)
			}
		}
		tgtAdm := kadm.NewClient(e.tgtCl)
		waitFor(t, "idle group synced to the target", func() (bool, string) {
			offs, err := tgtAdm.FetchOffsets(ctx, "idle")
			if err != nil {
				return false, err.Error()
			}
			o, ok := offs.Lookup("t", 0)
			return ok && o.At == 40, fmt.Sprint(offs)
		})
		// The idle group was synced at a sync interval: so was busy's turn.
		settle()
		if n := busyCommits.Load(); n > 0 {
			t.Errorf("group busy has an active member on the target, but the replicator sent %d OffsetCommit for it", n)
		}
	})
}

func TestHandlerServesWorkerView(t *testing.T) {
	runEnv(t, map[string]int32{"t": 2}, func(t *testing.T, e *env) {
		// The views exist before any connector does, as a worker's JMX
		// exporter does: series of tasks that arrive later must still be
		// served.
		views := map[string]http.Handler{}
		for _, w := range e.c.Workers() {
			views[w.ID()] = e.r.Handler(w.ID())
		}
		e.produce(t, "t", 0, 10)
		if err := e.c.Put("msc", mm2Config(mm2.SourceConnectorClass, map[string]string{"tasks.max": "2"}), ""); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "copied", func() (bool, string) {
			got := committed(e.c, "msc")
			return got["src/t/0"] == 9, fmt.Sprint(got)
		})
		// End offsets, which records-lag is measured against, are read
		// every second.
		settle()
		leader, _ := e.c.Leader()
		var all strings.Builder
		for _, w := range e.c.Workers() {
			rec := httptest.NewRecorder()
			views[w.ID()].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("worker %s: status %d", w.ID(), rec.Code)
			}
			if !strings.Contains(body, `kafka_connect_worker_rebalance_leader{leader_name="`+leader+`"} 1`) {
				t.Errorf("worker %s: no rebalance leader metric naming %s:\n%s", w.ID(), leader, body)
			}
			all.WriteString(body)
		}
		for _, want := range []string{
			`kafka_consumer_fetch_manager_records_lag{client_id="src->dst|msc|replication-consumer",partition="0",topic="t"} 0`,
			`kafka_consumer_fetch_manager_records_lag{client_id="src->dst|msc|replication-consumer",partition="1",topic="t"} 0`,
			`kafka_connect_mirror_source_connector_record_count{partition="0",source="src",target="dst",topic="t"} 10`,
			`kafka_connect_connector_task_status{connector="msc",status="running",task="0"} 1`,
			`kafka_connect_mirror_source_connector_replication_latency_ms_max{`,
		} {
			if !strings.Contains(all.String(), want) {
				t.Errorf("no %s in the workers' expositions:\n%s", want, all.String())
			}
		}
	})
}

func TestPausedAndStoppedConnectorsStopCopying(t *testing.T) {
	for _, action := range []string{"pause", "stop"} {
		t.Run(action, func(t *testing.T) {
			runEnv(t, map[string]int32{"a": 1, "b": 1}, func(t *testing.T, e *env) {
				for name, topic := range map[string]string{"msc-a": "a", "msc-b": "b"} {
					if err := e.c.Put(name, mm2Config(mm2.SourceConnectorClass, map[string]string{"topics": topic}), ""); err != nil {
						t.Fatal(err)
					}
				}
				e.produce(t, "a", 0, 3)
				waitFor(t, "a copied", func() (bool, string) {
					got := committed(e.c, "msc-a")
					return got["src/a/0"] == 2, fmt.Sprint(got)
				})
				put(t, e.c.URL()+"/connectors/msc-a/"+action)
				waitFor(t, "msc-a no longer consuming", func() (bool, string) {
					e.r.mu.Lock()
					s := e.r.sources["msc-a"]
					e.r.mu.Unlock()
					s.mu.Lock()
					defer s.mu.Unlock()
					return len(s.consuming) == 0, fmt.Sprint(s.consuming)
				})
				e.produce(t, "a", 0, 3)
				e.produce(t, "b", 0, 3)
				// msc-b copying proves the replicator kept running meanwhile.
				waitFor(t, "b copied", func() (bool, string) {
					got := committed(e.c, "msc-b")
					return got["src/b/0"] == 2, fmt.Sprint(got)
				})
				settle()
				if got := e.r.Copied("msc-a")["a"][0]; got != 2 {
					t.Errorf("%sd connector copied up to %d, want still 2", action, got)
				}
				if got := e.r.Copied("msc-b")["a"]; got != nil {
					t.Errorf("msc-b (topics=b) copied topic a: %v", got)
				}
				put(t, e.c.URL()+"/connectors/msc-a/resume")
				waitFor(t, "resumed connector catches up", func() (bool, string) {
					got := committed(e.c, "msc-a")
					return got["src/a/0"] == 5, fmt.Sprint(got)
				})
			})
		})
	}
}

// put sends PUT url to the connecttest cluster. The connection is closed
// after the answer: one left idle would keep a goroutine of the bubble
// blocked on a real socket, and its clock from moving.
func put(t *testing.T, url string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("PUT %s: status %d", url, resp.StatusCode)
	}
}
