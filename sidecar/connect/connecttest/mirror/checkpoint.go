package mirror

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

type cpKey struct {
	group, topic string
	partition    int32
}

// checkpointRunner carries out a MirrorCheckpointConnector: it translates
// the source groups' committed offsets through the source tasks' offset
// syncs, writes checkpoints to "<alias>.checkpoints.internal" on the
// target, and, with sync.group.offsets.enabled, commits the translated
// offsets for groups that have no active member on the target.
type checkpointRunner struct {
	r                  *Replicator
	name, fp           string
	srcAlias, tgtAlias string
	groups, topics     mm2.Filter
	policy             mm2.Policy
	cpTopic            string
	tasksMax           int
	emitEvery          time.Duration
	syncEvery          time.Duration
	refreshEvery       time.Duration
	syncEnabled        bool
	replication        int16
	srcCl, tgtCl       *kgo.Client
	srcAdm, tgtAdm     *kadm.Client
	cancel             context.CancelFunc
	done               chan struct{}

	mu        sync.Mutex
	states    map[int]string
	groupList []string
	last      map[cpKey]mm2.Checkpoint
	latency   map[cpKey]float64 // ms from the offset sync used to the checkpoint
	task      map[string]int    // group -> task id
	written   int64
	synced    int64
}

func newCheckpointRunner(ctx context.Context, r *Replicator, name string, cfg map[string]string, fp string) (*checkpointRunner, error) {
	src, tgt, err := r.clusters(cfg)
	if err != nil {
		return nil, err
	}
	k := &checkpointRunner{
		r: r, name: name, fp: fp, srcAlias: src.Alias, tgtAlias: tgt.Alias,
		tasksMax:     int(max(intSetting(cfg, "tasks.max", 1), 1)),
		emitEvery:    secondsSetting(cfg, "emit.checkpoints.interval.seconds", time.Minute),
		syncEvery:    secondsSetting(cfg, "sync.group.offsets.interval.seconds", time.Minute),
		refreshEvery: secondsSetting(cfg, "refresh.groups.interval.seconds", 10*time.Minute),
		syncEnabled:  cfg["sync.group.offsets.enabled"] == "true",
		replication:  int16(intSetting(cfg, "checkpoints.topic.replication.factor", -1)),
		states:       map[int]string{},
		last:         map[cpKey]mm2.Checkpoint{},
		latency:      map[cpKey]float64{},
		task:         map[string]int{},
		done:         make(chan struct{}),
	}
	if k.groups, err = mm2.GroupFilter(cfg); err != nil {
		return nil, err
	}
	if k.topics, err = mm2.TopicFilter(cfg); err != nil {
		return nil, err
	}
	if k.policy, err = mm2.PolicyFromConnector(cfg); err != nil {
		return nil, err
	}
	k.cpTopic = k.policy.CheckpointsTopic(src.Alias)
	if k.srcCl, k.tgtCl, err = r.clientPair(ctx, src, tgt, name, nil, nil); err != nil {
		return nil, err
	}
	k.srcAdm, k.tgtAdm = kadm.NewClient(k.srcCl), kadm.NewClient(k.tgtCl)
	cctx, cancel := context.WithCancel(ctx)
	k.cancel = cancel
	go k.loop(cctx)
	return k, nil
}

// clientPair opens a connector's source client and its target producer
// ("connector-producer-<name>", no linger), each with extra options.
func (r *Replicator) clientPair(ctx context.Context, src, tgt kafka.Cluster, name string, srcExtra, tgtExtra []kgo.Opt) (*kgo.Client, *kgo.Client, error) {
	srcOpts, err := src.ClientOpts(ctx)
	if err != nil {
		return nil, nil, err
	}
	tgtOpts, err := tgt.ClientOpts(ctx)
	if err != nil {
		return nil, nil, err
	}
	if r.opts.Dial != nil {
		srcOpts = append(srcOpts, kgo.Dialer(r.opts.Dial))
		tgtOpts = append(tgtOpts, kgo.Dialer(r.opts.Dial))
	}
	srcCl, err := kgo.NewClient(append(srcOpts, srcExtra...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("source client: %w", err)
	}
	tgtCl, err := kgo.NewClient(append(append(tgtOpts, kgo.ClientID("connector-producer-"+name), kgo.ProducerLinger(0)), tgtExtra...)...)
	if err != nil {
		srcCl.Close()
		return nil, nil, fmt.Errorf("target client: %w", err)
	}
	return srcCl, tgtCl, nil
}

func (k *checkpointRunner) close(bool) {
	k.cancel()
	<-k.done
	k.srcCl.Close()
	k.tgtCl.Close()
}

func (k *checkpointRunner) fingerprint() string { return k.fp }

func (k *checkpointRunner) update(_ context.Context, tasks []connecttest.Task) {
	states := taskStates(tasks)
	k.mu.Lock()
	k.states = states
	k.mu.Unlock()
}

// loop emits checkpoints and syncs group offsets on the connector's
// intervals, starting at once when a task first runs, as a started task
// does.
func (k *checkpointRunner) loop(ctx context.Context) {
	defer close(k.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var nextRefresh, nextEmit, nextSync time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		if !now.Before(nextRefresh) {
			if err := k.refreshGroups(ctx); err != nil {
				k.r.log.Warn("mirror: list source groups", "connector", k.name, "error", err.Error())
				continue
			}
			nextRefresh = now.Add(k.refreshEvery)
		}
		groups := k.runningGroups()
		if len(groups) == 0 {
			continue
		}
		if !now.Before(nextEmit) {
			if err := k.emit(ctx, groups); err != nil {
				k.r.log.Warn("mirror: emit checkpoints", "connector", k.name, "error", err.Error())
			}
			nextEmit = now.Add(k.emitEvery)
		}
		if k.syncEnabled && !now.Before(nextSync) {
			if err := k.syncGroups(ctx, groups); err != nil {
				k.r.log.Warn("mirror: sync group offsets", "connector", k.name, "error", err.Error())
			}
			nextSync = now.Add(k.syncEvery)
		}
	}
}

func (k *checkpointRunner) refreshGroups(ctx context.Context) error {
	listed, err := k.srcAdm.ListGroups(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, g := range listed.Sorted() {
		if k.groups.Match(g.Group) {
			names = append(names, g.Group)
		}
	}
	sort.Strings(names)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.groupList = names
	k.task = map[string]int{}
	for task, gs := range roundRobin(names, min(k.tasksMax, len(names))) {
		for _, g := range gs {
			k.task[g] = task
		}
	}
	return nil
}

// runningGroups lists the groups assigned to RUNNING tasks.
func (k *checkpointRunner) runningGroups() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, g := range k.groupList {
		if k.states[k.task[g]] == connecttest.StateRunning {
			out = append(out, g)
		}
	}
	return out
}

// emit writes a checkpoint for every group partition whose translation
// changed since the last one written.
func (k *checkpointRunner) emit(ctx context.Context, groups []string) error {
	fetched := k.srcAdm.FetchManyOffsets(ctx, groups...)
	var recs []*kgo.Record
	var cps []mm2.Checkpoint
	lat := map[cpKey]float64{}
	now := time.Now()
	k.mu.Lock()
	for _, g := range groups {
		resp, ok := fetched[g]
		if !ok || resp.Err != nil {
			continue
		}
		resp.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 || k.policy.IsInternal(o.Topic) || !k.topics.Match(o.Topic) {
				return
			}
			down, at, ok := k.r.syncs.translate(syncKey{k.srcAlias, k.tgtAlias, o.Topic, o.Partition}, o.At)
			if !ok {
				return
			}
			cp := mm2.Checkpoint{Group: g, Topic: o.Topic, Partition: o.Partition, Upstream: o.At, Downstream: down, Metadata: o.Metadata}
			key := cpKey{g, o.Topic, o.Partition}
			lat[key] = float64(now.Sub(at).Milliseconds())
			if k.last[key] == cp {
				return
			}
			kb, vb := mm2.EncodeCheckpoint(cp)
			recs = append(recs, &kgo.Record{Topic: k.cpTopic, Key: kb, Value: vb})
			cps = append(cps, cp)
		})
	}
	k.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if err := ensureTopic(ctx, k.tgtAdm, k.cpTopic, k.replication); err != nil {
		return err
	}
	if err := k.tgtCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("write %s: %w", k.cpTopic, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, cp := range cps {
		key := cpKey{cp.Group, cp.Topic, cp.Partition}
		k.last[key] = cp
		k.latency[key] = lat[key]
	}
	k.written += int64(len(cps))
	return nil
}

// syncGroups commits checkpointed offsets on the target for groups with
// no active member there, never moving a group backwards, as
// MirrorCheckpointTask.syncGroupOffset does.
func (k *checkpointRunner) syncGroups(ctx context.Context, groups []string) error {
	k.mu.Lock()
	byGroup := map[string][]mm2.Checkpoint{}
	for key, cp := range k.last {
		byGroup[key.group] = append(byGroup[key.group], cp)
	}
	k.mu.Unlock()
	var errs []error
	for _, g := range groups {
		cps := byGroup[g]
		if len(cps) == 0 {
			continue
		}
		described, err := k.tgtAdm.DescribeGroups(ctx, g)
		if err != nil {
			errs = append(errs, fmt.Errorf("describe %s: %w", g, err))
			continue
		}
		if d, ok := described[g]; ok && d.Err == nil && len(d.Members) > 0 {
			continue // consumers already moved: never overwrite their offsets
		}
		current, err := k.tgtAdm.FetchOffsets(ctx, g)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			errs = append(errs, fmt.Errorf("fetch offsets of %s: %w", g, err))
			continue
		}
		commit := kadm.Offsets{}
		for _, cp := range cps {
			remote := k.policy.RemoteTopic(k.srcAlias, cp.Topic)
			if cur, ok := current.Lookup(remote, cp.Partition); ok && cur.Err == nil && cur.At >= cp.Downstream {
				continue
			}
			commit.Add(kadm.Offset{Topic: remote, Partition: cp.Partition, At: cp.Downstream, LeaderEpoch: -1})
		}
		if len(commit) == 0 {
			continue
		}
		resp, err := k.tgtAdm.CommitOffsets(ctx, g, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("commit offsets of %s: %w", g, err))
			continue
		}
		k.mu.Lock()
		k.synced++
		k.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ensureTopic creates a compacted single-partition internal topic.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, replication int16) error {
	compact := "compact"
	resp, err := adm.CreateTopic(ctx, 1, replication, map[string]*string{"cleanup.policy": &compact}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	return nil
}

// heartbeatRunner carries out a MirrorHeartbeatConnector: a heartbeat
// record in the target's "heartbeats" topic every
// emit.heartbeats.interval.seconds while its task runs.
type heartbeatRunner struct {
	r                  *Replicator
	name, fp           string
	srcAlias, tgtAlias string
	every              time.Duration
	enabled            bool
	replication        int16
	srcCl, tgtCl       *kgo.Client
	cancel             context.CancelFunc
	done               chan struct{}

	mu      sync.Mutex
	running bool
	beats   int64
}

func newHeartbeatRunner(ctx context.Context, r *Replicator, name string, cfg map[string]string, fp string) (*heartbeatRunner, error) {
	src, tgt, err := r.clusters(cfg)
	if err != nil {
		return nil, err
	}
	h := &heartbeatRunner{
		r: r, name: name, fp: fp, srcAlias: src.Alias, tgtAlias: tgt.Alias,
		every:       max(secondsSetting(cfg, "emit.heartbeats.interval.seconds", time.Second), 250*time.Millisecond),
		enabled:     cfg["emit.heartbeats.enabled"] != "false",
		replication: int16(intSetting(cfg, "heartbeats.topic.replication.factor", -1)),
		done:        make(chan struct{}),
	}
	if h.srcCl, h.tgtCl, err = r.clientPair(ctx, src, tgt, name, nil, nil); err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	h.cancel = cancel
	go h.loop(cctx)
	return h, nil
}

func (h *heartbeatRunner) close(bool) {
	h.cancel()
	<-h.done
	h.srcCl.Close()
	h.tgtCl.Close()
}

func (h *heartbeatRunner) fingerprint() string { return h.fp }

func (h *heartbeatRunner) update(_ context.Context, tasks []connecttest.Task) {
	running := false
	for _, t := range tasks {
		running = running || t.State == connecttest.StateRunning
	}
	h.mu.Lock()
	h.running = running
	h.mu.Unlock()
}

func (h *heartbeatRunner) loop(ctx context.Context) {
	defer close(h.done)
	tick := time.NewTicker(h.every)
	defer tick.Stop()
	created := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.mu.Lock()
		running := h.running
		h.mu.Unlock()
		if !running || !h.enabled {
			continue
		}
		if !created {
			if err := ensureTopic(ctx, kadm.NewClient(h.tgtCl), "heartbeats", h.replication); err != nil {
				h.r.log.Warn("mirror: heartbeats topic", "connector", h.name, "error", err.Error())
				continue
			}
			created = true
		}
		key, value := encodeHeartbeat(h.srcAlias, h.tgtAlias, time.Now())
		if err := h.tgtCl.ProduceSync(ctx, &kgo.Record{Topic: "heartbeats", Key: key, Value: value}).FirstErr(); err == nil {
			h.mu.Lock()
			h.beats++
			h.mu.Unlock()
		}
	}
}

// encodeHeartbeat writes mirror-client's Heartbeat: key sourceClusterAlias
// STRING, targetClusterAlias STRING; value version INT16 (0), timestamp
// INT64 in milliseconds.
func encodeHeartbeat(source, target string, at time.Time) (key, value []byte) {
	key = binary.BigEndian.AppendUint16(nil, uint16(len(source)))
	key = append(key, source...)
	key = binary.BigEndian.AppendUint16(key, uint16(len(target)))
	key = append(key, target...)
	value = binary.BigEndian.AppendUint16(nil, 0)
	value = binary.BigEndian.AppendUint64(value, uint64(at.UnixMilli()))
	return key, value
}
