package demo

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// traffic is the source cluster's applications: producers that write a
// backlog and then keep writing for a while, and consumer groups that
// read and commit, as the applications a migration moves would.
type traffic struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	clients []*kgo.Client
}

// produceRate is records per second per topic while producers run.
const produceRate = 100

func startTraffic(ctx context.Context, brokers []string, replicas int16, backlog int, produceFor time.Duration, log *slog.Logger) (*traffic, error) {
	ctx, cancel := context.WithCancel(ctx)
	t := &traffic{cancel: cancel}
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ClientID("demo-producer"))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("source producer: %w", err)
	}
	t.clients = append(t.clients, prod)
	adm := kadm.NewClient(prod)
	topics := slices.Sorted(func(yield func(string) bool) {
		for k := range sourceTopics {
			if !yield(k) {
				return
			}
		}
	})
	for _, topic := range topics {
		resp, err := adm.CreateTopic(ctx, sourceTopics[topic], replicas, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.close()
			return nil, fmt.Errorf("create source topic %s: %w", topic, err)
		}
	}
	for _, topic := range topics {
		// Backlogs differ per topic, so the summary shows them drain apart.
		n := backlog * int(sourceTopics[topic]) / 3
		recs := make([]*kgo.Record, 0, n)
		for i := range n {
			recs = append(recs, record(topic, i))
		}
		if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.close()
			return nil, fmt.Errorf("write backlog to %s: %w", topic, err)
		}
	}
	if produceFor > 0 {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.produce(ctx, prod, topics, 2*backlog, produceFor, log)
		}()
	}
	groups := make([]string, 0, len(groupTopics))
	for g := range groupTopics {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(brokers...),
			kgo.ClientID("demo-"+g),
			kgo.ConsumerGroup(g),
			kgo.ConsumeTopics(groupTopics[g]...),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.AutoCommitInterval(time.Second),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("consumer group %s: %w", g, err)
		}
		t.clients = append(t.clients, cl)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			consume(ctx, cl)
		}()
	}
	return t, nil
}

func record(topic string, i int) *kgo.Record {
	return &kgo.Record{
		Topic: topic,
		Key:   []byte(topic + "-" + strconv.Itoa(i%97)),
		Value: fmt.Appendf(nil, `{"topic":%q,"seq":%d,"at":%q}`, topic, i, time.Now().UTC().Format(time.RFC3339Nano)),
	}
}

// produce writes produceRate records per second per topic for d, then
// stops, as applications do once they move to the target.
func (t *traffic) produce(ctx context.Context, cl *kgo.Client, topics []string, seq int, d time.Duration, log *slog.Logger) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	stop := time.After(d)
	for {
		select {
		case <-ctx.Done():
			return
		case <-stop:
			log.Info("source producers stopped")
			return
		case <-tick.C:
		}
		var recs []*kgo.Record
		for _, topic := range topics {
			for range produceRate / 10 {
				recs = append(recs, record(topic, seq))
				seq++
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil && ctx.Err() == nil {
			log.Warn("source producer", "error", err.Error())
		}
	}
}

// consume reads and lets the client commit every second.
func consume(ctx context.Context, cl *kgo.Client) {
	for ctx.Err() == nil {
		cl.PollRecords(ctx, 500)
	}
}

func (t *traffic) close() {
	t.cancel()
	t.wg.Wait()
	for _, cl := range t.clients {
		cl.Close()
	}
}
