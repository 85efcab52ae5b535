package mirror

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// metricWindow is how long MM2's windowed statistics (max, min, avg, rate)
// look back; an empty window reports NaN, as Kafka's metrics do.
const metricWindow = 30 * time.Second

// sourceRunner carries out a MirrorSourceConnector: one consumer for the
// partitions of its RUNNING tasks and one producer to the target.
type sourceRunner struct {
	r                  *Replicator
	name, fp           string
	srcAlias, tgtAlias string
	filter             mm2.Filter
	policy             mm2.Policy
	tasksMax           int
	lagMax             int64
	refresh            time.Duration
	replication        int16
	srcCl, tgtCl       *kgo.Client
	srcAdm, tgtAdm     *kadm.Client
	cancel             context.CancelFunc
	done               chan struct{}

	mu          sync.Mutex
	states      map[int]string
	assign      map[tp]int
	consuming   map[tp]bool
	parts       map[tp]*partState
	tasks       map[int]*taskCounters
	nextRefresh time.Time
	lastFlush   time.Time
	lastEnds    time.Time
	sendErrors  int64
}

type taskCounters struct{ polled, written, bytes int64 }

type partState struct {
	next      int64 // next source offset to copy
	copied    int64 // last offset copied, -1 none
	committed int64 // last offset committed to Connect, -1 none
	end       int64 // source end offset, for records-lag
	synced    bool
	lastSync  offsetSync
	pending   *offsetSync // latest mapping not yet emitted as a sync
	records   int64
	bytes     int64
	age       window
	latency   window
}

func newSourceRunner(ctx context.Context, r *Replicator, name string, cfg map[string]string, fp string) (*sourceRunner, error) {
	src, tgt, err := r.clusters(cfg)
	if err != nil {
		return nil, err
	}
	filter, err := mm2.TopicFilter(cfg)
	if err != nil {
		return nil, err
	}
	policy, err := mm2.PolicyFromConnector(cfg)
	if err != nil {
		return nil, err
	}
	s := &sourceRunner{
		r: r, name: name, fp: fp, srcAlias: src.Alias, tgtAlias: tgt.Alias,
		filter: filter, policy: policy,
		tasksMax:    int(max(intSetting(cfg, "tasks.max", 1), 1)),
		lagMax:      max(intSetting(cfg, "offset.lag.max", 100), 1),
		refresh:     secondsSetting(cfg, "refresh.topics.interval.seconds", 10*time.Minute),
		replication: int16(intSetting(cfg, "replication.factor", 2)),
		states:      map[int]string{},
		assign:      map[tp]int{},
		consuming:   map[tp]bool{},
		parts:       map[tp]*partState{},
		tasks:       map[int]*taskCounters{},
		lastFlush:   time.Now(),
		done:        make(chan struct{}),
	}
	if s.srcCl, s.tgtCl, err = r.clientPair(ctx, src, tgt, name,
		[]kgo.Opt{
			kgo.ClientID(s.consumerID()),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{}),
			kgo.FetchMaxWait(250 * time.Millisecond),
		},
		[]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())},
	); err != nil {
		return nil, err
	}
	s.srcAdm, s.tgtAdm = kadm.NewClient(s.srcCl), kadm.NewClient(s.tgtCl)
	cctx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	go s.copyLoop(cctx)
	return s, nil
}

// consumerID is the client id of MM2's replication consumer, which labels
// its fetch metrics.
func (s *sourceRunner) consumerID() string {
	return s.srcAlias + "->" + s.tgtAlias + "|" + s.name + "|replication-consumer"
}

// close stops copying; graceful commits what was copied, as a task stop
// does, while a crash (graceful false) loses it.
func (s *sourceRunner) close(graceful bool) {
	s.cancel()
	<-s.done
	if graceful {
		s.flush(true)
	}
	s.srcCl.Close()
	s.tgtCl.Close()
}

func (s *sourceRunner) fingerprint() string { return s.fp }

// update follows the tasks' states: partitions of RUNNING tasks are
// consumed, the others not. It also refreshes topics, commits offsets
// and reads end offsets when those are due.
func (s *sourceRunner) update(ctx context.Context, tasks []connecttest.Task) {
	now := time.Now()
	if !now.Before(s.nextRefresh) {
		if err := s.refreshTopics(ctx); err != nil {
			s.r.log.Warn("mirror: list source topics", "connector", s.name, "error", err.Error())
		} else {
			s.nextRefresh = now.Add(s.refresh)
		}
	}
	states := taskStates(tasks)
	s.mu.Lock()
	s.states = states
	var add, remove []tp
	for k, task := range s.assign {
		want := states[task] == connecttest.StateRunning
		switch {
		case want && !s.consuming[k]:
			add = append(add, k)
		case !want && s.consuming[k]:
			remove = append(remove, k)
		}
	}
	s.mu.Unlock()
	if len(remove) > 0 {
		s.stopPartitions(remove, states)
	}
	if len(add) > 0 {
		if err := s.startPartitions(ctx, add); err != nil {
			s.r.log.Warn("mirror: start partitions", "connector", s.name, "error", err.Error())
		}
	}
	if now.Sub(s.lastFlush) >= s.r.opts.OffsetFlushInterval {
		s.flush(false)
		s.lastFlush = now
	}
	if now.Sub(s.lastEnds) >= time.Second {
		s.readEnds(ctx)
		s.lastEnds = now
	}
}

// refreshTopics lists the source topics the connector selects, creates
// their remote topics on the target and assigns partitions to tasks round
// robin over min(tasks.max, partitions), as MirrorSourceConnector does.
func (s *sourceRunner) refreshTopics(ctx context.Context) error {
	details, err := s.srcAdm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var all []tp
	create := map[string]int32{}
	for _, td := range details.Sorted() {
		if td.Err != nil || td.IsInternal || s.policy.IsInternal(td.Topic) || !s.filter.Match(td.Topic) {
			continue
		}
		create[s.policy.RemoteTopic(s.srcAlias, td.Topic)] = int32(len(td.Partitions))
		for p := range td.Partitions {
			all = append(all, tp{td.Topic, p})
		}
	}
	if err := s.createRemoteTopics(ctx, create); err != nil {
		return err
	}
	sortTPs(all)
	assign := map[tp]int{}
	for task, parts := range roundRobin(all, min(s.tasksMax, len(all))) {
		for _, k := range parts {
			assign[k] = task
		}
	}
	s.mu.Lock()
	s.assign = assign
	for _, k := range all {
		if s.parts[k] == nil {
			s.parts[k] = &partState{next: -1, copied: -1, committed: -1}
		}
	}
	s.mu.Unlock()
	return nil
}

func (s *sourceRunner) createRemoteTopics(ctx context.Context, want map[string]int32) error {
	if len(want) == 0 {
		return nil
	}
	have, err := s.tgtAdm.ListTopics(ctx)
	if err != nil {
		return err
	}
	for topic, n := range want {
		if have.Has(topic) {
			continue
		}
		resp, err := s.tgtAdm.CreateTopic(ctx, n, s.replication, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create %s on %s: %w", topic, s.tgtAlias, err)
		}
	}
	return nil
}

// committedOffsets reads the connector's committed source offsets from
// Connect, keyed by partition, for this source cluster alias.
func (s *sourceRunner) committedOffsets() map[tp]int64 {
	out := map[tp]int64{}
	for _, o := range s.r.c.Offsets(s.name) {
		k, ok := s.offsetPartition(o.Partition)
		if !ok {
			continue
		}
		if v, ok := asInt(o.Offset["offset"]); ok {
			out[k] = v
		}
	}
	return out
}

func (s *sourceRunner) offsetPartition(m map[string]any) (tp, bool) {
	cluster, _ := m["cluster"].(string)
	topic, _ := m["topic"].(string)
	p, ok := asInt(m["partition"])
	if cluster != s.srcAlias || topic == "" || !ok {
		return tp{}, false
	}
	return tp{topic, int32(p)}, true
}

// startPartitions resumes partitions from Connect's committed offsets, or
// from the log start for partitions never committed.
func (s *sourceRunner) startPartitions(ctx context.Context, add []tp) error {
	committed := s.committedOffsets()
	var fromStart []string
	for _, k := range add {
		if _, ok := committed[k]; !ok {
			fromStart = append(fromStart, k.topic)
		}
	}
	var starts kadm.ListedOffsets
	if len(fromStart) > 0 {
		var err error
		if starts, err = s.srcAdm.ListStartOffsets(ctx, fromStart...); err != nil {
			return err
		}
	}
	offsets := map[string]map[int32]kgo.Offset{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range add {
		p := s.parts[k]
		if c, ok := committed[k]; ok {
			p.next, p.committed = c+1, c
		} else if lo, ok := starts.Lookup(k.topic, k.partition); ok && lo.Err == nil {
			p.next = lo.Offset
		} else {
			continue
		}
		if offsets[k.topic] == nil {
			offsets[k.topic] = map[int32]kgo.Offset{}
		}
		offsets[k.topic][k.partition] = kgo.NewOffset().At(p.next)
		s.consuming[k] = true
	}
	s.srcCl.AddConsumePartitions(offsets)
	return nil
}

// stopPartitions stops consuming. A paused or stopped task commits what it
// copied; a FAILED task does not, so its records are copied again after
// the restart, as with Connect's at-least-once source tasks.
func (s *sourceRunner) stopPartitions(remove []tp, states map[int]string) {
	rm := map[string][]int32{}
	s.mu.Lock()
	for _, k := range remove {
		delete(s.consuming, k)
		rm[k.topic] = append(rm[k.topic], k.partition)
		if states[s.assign[k]] == connecttest.StateFailed {
			p := s.parts[k]
			p.next, p.pending = p.committed+1, nil
		}
	}
	s.mu.Unlock()
	s.srcCl.RemoveConsumePartitions(rm)
	s.flush(false)
}

// flush emits pending offset syncs and commits every partition's last
// copied offset to Connect: partition {"cluster","topic","partition"},
// offset {"offset": last copied}, as MirrorSourceTask does.
func (s *sourceRunner) flush(all bool) {
	s.mu.Lock()
	changed := map[tp]int64{}
	for k, p := range s.parts {
		if p.pending != nil && (all || s.consuming[k]) {
			s.emitSyncLocked(k, p, *p.pending)
		}
		if p.copied >= 0 && p.copied != p.committed && p.next == p.copied+1 {
			changed[k] = p.copied
		}
	}
	s.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	var offs []connecttest.Offset
	for _, o := range s.r.c.Offsets(s.name) {
		if k, ok := s.offsetPartition(o.Partition); ok {
			if _, mine := changed[k]; mine {
				continue
			}
		}
		offs = append(offs, o)
	}
	for k, off := range changed {
		offs = append(offs, connecttest.Offset{
			Partition: map[string]any{"cluster": s.srcAlias, "topic": k.topic, "partition": k.partition},
			Offset:    map[string]any{"offset": off},
		})
	}
	if err := s.r.c.SetOffsets(s.name, offs); err != nil {
		return // the connector was deleted meanwhile
	}
	s.mu.Lock()
	for k, off := range changed {
		s.parts[k].committed = off
	}
	s.mu.Unlock()
}

func (s *sourceRunner) readEnds(ctx context.Context) {
	s.mu.Lock()
	topics := map[string]bool{}
	for k := range s.consuming {
		topics[k.topic] = true
	}
	s.mu.Unlock()
	if len(topics) == 0 {
		return
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	ends, err := s.srcAdm.ListEndOffsets(ctx, names...)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ends.Each(func(o kadm.ListedOffset) {
		if p := s.parts[tp{o.Topic, o.Partition}]; p != nil && o.Err == nil {
			p.end = o.Offset
		}
	})
}

// copyLoop copies what the consumer fetches to the same partition of the
// remote topic, keeping the record's key, value, headers and timestamp.
func (s *sourceRunner) copyLoop(ctx context.Context) {
	defer close(s.done)
	for {
		fs := s.srcCl.PollRecords(ctx, maxPollRecords)
		if ctx.Err() != nil {
			return
		}
		var in, out []*kgo.Record
		polled := time.Now()
		s.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			k := tp{rec.Topic, rec.Partition}
			p := s.parts[k]
			if !s.consuming[k] || p == nil || rec.Offset < p.next {
				return
			}
			in = append(in, rec)
			out = append(out, &kgo.Record{
				Topic: s.policy.RemoteTopic(s.srcAlias, rec.Topic), Partition: rec.Partition,
				Key: rec.Key, Value: rec.Value, Headers: rec.Headers, Timestamp: rec.Timestamp,
			})
		})
		s.mu.Unlock()
		if len(in) == 0 {
			continue
		}
		// Results arrive in completion order, not in the order given.
		index := make(map[*kgo.Record]int, len(out))
		for i, rec := range out {
			index[rec] = i
		}
		results := s.tgtCl.ProduceSync(ctx, out...)
		sort.Slice(results, func(a, b int) bool { return index[results[a].Record] < index[results[b].Record] })
		acked := time.Now()
		rewind := map[tp]int64{}
		s.mu.Lock()
		for _, res := range results {
			src := in[index[res.Record]]
			k := tp{src.Topic, src.Partition}
			p := s.parts[k]
			if _, failed := rewind[k]; failed || !s.consuming[k] || src.Offset < p.next {
				continue
			}
			if res.Err != nil {
				s.sendErrors++
				rewind[k] = p.next
				continue
			}
			p.next, p.copied = src.Offset+1, src.Offset
			size := int64(len(src.Key) + len(src.Value))
			p.records++
			p.bytes += size
			p.age.add(polled, float64(polled.Sub(src.Timestamp).Milliseconds()), size)
			p.latency.add(acked, float64(acked.Sub(src.Timestamp).Milliseconds()), size)
			if c := s.tasks[s.assign[k]]; c != nil {
				c.polled++
				c.written++
				c.bytes += size
			} else {
				s.tasks[s.assign[k]] = &taskCounters{1, 1, size}
			}
			o := offsetSync{up: src.Offset, down: res.Record.Offset, at: acked}
			if !p.synced || o.up-p.lastSync.up >= s.lagMax || o.up-p.lastSync.up != o.down-p.lastSync.down {
				s.emitSyncLocked(k, p, o)
			} else {
				p.pending = &o
			}
		}
		s.mu.Unlock()
		if len(rewind) > 0 {
			s.rewind(ctx, rewind)
		}
		s.throttle(ctx, len(in), polled)
	}
}

// maxPollRecords is the consumer's max.poll.records default.
const maxPollRecords = 500

// throttle holds the loop so that n records copied since start stay within
// Options.RecordsPerSecond.
func (s *sourceRunner) throttle(ctx context.Context, n int, start time.Time) {
	rate := s.r.opts.RecordsPerSecond
	if rate <= 0 {
		return
	}
	wait := time.Duration(n)*time.Second/time.Duration(rate) - time.Since(start)
	if wait <= 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
}

// rewind re-reads partitions whose records the target refused, from the
// first record not copied.
func (s *sourceRunner) rewind(ctx context.Context, at map[tp]int64) {
	rm := map[string][]int32{}
	add := map[string]map[int32]kgo.Offset{}
	for k, off := range at {
		rm[k.topic] = append(rm[k.topic], k.partition)
		if add[k.topic] == nil {
			add[k.topic] = map[int32]kgo.Offset{}
		}
		add[k.topic][k.partition] = kgo.NewOffset().At(off)
	}
	s.srcCl.RemoveConsumePartitions(rm)
	select {
	case <-ctx.Done():
		return
	case <-time.After(500 * time.Millisecond):
	}
	s.mu.Lock()
	for t, ps := range add {
		for p := range ps {
			if !s.consuming[tp{t, p}] {
				delete(ps, p)
			}
		}
	}
	s.mu.Unlock()
	s.srcCl.AddConsumePartitions(add)
}

func (s *sourceRunner) emitSyncLocked(k tp, p *partState, o offsetSync) {
	s.r.syncs.add(syncKey{s.srcAlias, s.tgtAlias, k.topic, k.partition}, o)
	p.lastSync, p.synced, p.pending = o, true, nil
}

func (s *sourceRunner) copied() map[string]map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[int32]int64{}
	for k, p := range s.parts {
		if p.copied < 0 {
			continue
		}
		if out[k.topic] == nil {
			out[k.topic] = map[int32]int64{}
		}
		out[k.topic][k.partition] = p.copied
	}
	return out
}

// window keeps MM2's windowed statistics of one measurement.
type window struct {
	start         time.Time
	n             int64
	sum, min, max float64
	bytes         int64
	last          float64
	hasLast       bool
}

func (w *window) add(now time.Time, v float64, size int64) {
	if now.Sub(w.start) > metricWindow {
		*w = window{start: now, min: math.Inf(1), max: math.Inf(-1)}
	}
	w.n++
	w.sum += v
	w.min, w.max = math.Min(w.min, v), math.Max(w.max, v)
	w.bytes += size
	w.last, w.hasLast = v, true
}

// stats returns the last value and the window's max, min and average
// (NaN when the window is empty or over) and its byte rate per second.
func (w window) stats(now time.Time) (last, mx, mn, avg, rate float64) {
	nan := math.NaN()
	last = nan
	if w.hasLast {
		last = w.last
	}
	if w.n == 0 || now.Sub(w.start) > metricWindow {
		return last, nan, nan, nan, 0
	}
	return last, w.max, w.min, w.sum / float64(w.n), float64(w.bytes) / max(now.Sub(w.start).Seconds(), 1)
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if x == math.Trunc(x) {
			return int64(x), true
		}
	case string:
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(x), &n); err == nil {
			return n, true
		}
	}
	return 0, false
}
