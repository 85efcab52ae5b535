package preflight

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

// requests counts requests by key, the way an operator would see them in
// broker request metrics.
type requests struct{ byKey [100]atomic.Int64 }

func (r *requests) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && int(key) < len(r.byKey) {
		r.byKey[key].Add(1)
	}
}

// big is a source of topics×partitions with one record per partition and
// groups with an offset each, on three brokers, and an empty target.
type big struct {
	e      *env
	in     Input
	topics int
}

var (
	bigOnce sync.Once
	bigEnv  *big
)

func bigMigration(b *testing.B, topics, partitions, groups int) *big {
	b.Helper()
	bigOnce.Do(func() {
		names := make([]string, topics)
		for i := range names {
			names[i] = fmt.Sprintf("topic-%04d", i)
		}
		// The clusters outlive the sub-benchmark that made them.
		src, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(int32(partitions), names...))
		if err != nil {
			b.Fatal(err)
		}
		tgt, err := kfake.NewCluster(kfake.NumBrokers(3))
		if err != nil {
			b.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(src.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<20))
		if err != nil {
			b.Fatal(err)
		}
		defer cl.Close()
		ctx := context.Background()
		recs := make([]*kgo.Record, 0, topics*partitions)
		at := time.Now().Add(-time.Hour)
		for _, n := range names {
			for p := range partitions {
				recs = append(recs, &kgo.Record{Topic: n, Partition: int32(p), Timestamp: at, Value: []byte("v")})
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
		adm := kadmClient(cl)
		for g := range groups {
			offs := kadmOffsets{}
			offs.AddOffset(names[g%topics], 0, 1, -1)
			if _, err := adm.CommitOffsets(ctx, fmt.Sprintf("group-%03d", g), offs); err != nil {
				b.Fatal(err)
			}
		}
		e := &env{src: src, tgt: tgt}
		msc := e.msc(map[string]string{"topics": "topic-.*", "tasks.max": "64"})
		cpc := e.cpc(nil)
		bigEnv = &big{e: e, topics: topics, in: Input{Connectors: []desired.Connector{msc, cpc}, Worker: map[string]string{}}}
	})
	return bigEnv
}

// BenchmarkPreflight runs a whole preflight on 1,000 topics × 100
// partitions and 200 groups, and reads the oldest timestamps two ways in
// the same run: one ListOffsets and one Fetch per broker (what preflight
// does) against the baseline of one request per topic.
func BenchmarkPreflight(b *testing.B) {
	m := bigMigration(b, 1000, 100, 200)
	ctx := context.Background()
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			rep, err := Run(ctx, m.in)
			if err != nil {
				b.Fatal(err)
			}
			if len(rep.Results) != len(Checks()) {
				b.Fatalf("%d rows", len(rep.Results))
			}
		}
	})
	mig, err := newMigration(m.in)
	if err != nil {
		b.Fatal(err)
	}
	reqs := &requests{}
	s, err := openSide(ctx, mig.src, []kgo.Opt{kgo.WithHooks(reqs)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.close()
	s.load(ctx)
	var topics []topicInfo
	for _, t := range s.topics {
		topics = append(topics, *t)
	}
	b.Run("timestamps-per-broker", func(b *testing.B) {
		for b.Loop() {
			if _, err := oldestTimestamps(ctx, s, topics); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("timestamps-per-topic-baseline", func(b *testing.B) {
		for b.Loop() {
			for i := range topics {
				if _, err := oldestTimestamps(ctx, s, topics[i:i+1]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestOldestTimestampsOneFetchPerBroker proves the bound: however many
// topics and partitions, one ListOffsets and one Fetch per broker.
func TestOldestTimestampsOneFetchPerBroker(t *testing.T) {
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("t%02d", i)
	}
	e := newEnv(t, []kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(20, names...)}, nil)
	at := time.UnixMilli(time.Now().Add(-48 * time.Hour).UnixMilli())
	for _, n := range names {
		produce(t, e.srcCl, n, 20, at, []byte("v"))
	}
	mig, err := newMigration(Input{Connectors: []desired.Connector{e.msc(map[string]string{"topics": "t.*"})}})
	if err != nil {
		t.Fatal(err)
	}
	reqs := &requests{}
	s, err := openSide(ctxT(t), mig.src, []kgo.Opt{kgo.WithHooks(reqs)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.load(ctxT(t))
	var topics []topicInfo
	for _, n := range names {
		topics = append(topics, *s.topics[n])
	}
	before := [2]int64{reqs.byKey[1].Load(), reqs.byKey[2].Load()}
	got, err := oldestTimestamps(ctxT(t), s, topics)
	if err != nil {
		t.Fatal(err)
	}
	fetches, listOffsets := reqs.byKey[1].Load()-before[0], reqs.byKey[2].Load()-before[1]
	if fetches != 3 || listOffsets != 3 {
		t.Errorf("%d fetches and %d list-offsets requests for 1,000 partitions on 3 brokers, want 3 and 3", fetches, listOffsets)
	}
	for i, parts := range got {
		for p, ts := range parts {
			if ts != at.UnixMilli() {
				t.Fatalf("%s[%d]: oldest %d, want %d", topics[i].name, p, ts, at.UnixMilli())
			}
		}
	}
}
