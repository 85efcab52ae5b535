package lag

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// ConnectAPI is what a measurement needs from Kafka Connect REST.
type ConnectAPI interface {
	ExpandedAll(ctx context.Context) (map[string]connect.Expanded, error)
	Config(ctx context.Context, name string) (map[string]string, error)
	SourceOffsets(ctx context.Context, name string, fn func(cluster, topic string, partition int32, offset int64) error) error
}

// MeasurerOptions tune a Measurer.
type MeasurerOptions struct {
	// Config names the connectors (SourceConnector, CheckpointConnector;
	// empty means the one connector of that class). Its Interval is the
	// Monitor's.
	Config
	// Resolver resolves ${env:...} and ${file:...} in connector configs.
	Resolver javaconfig.Resolver
	// ClientOpts are added to every Kafka client (hooks, timeouts).
	ClientOpts []kgo.Opt
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

// Measurer measures replication lag and group readiness. It keeps Kafka
// clients and the checkpoints read so far between measurements, and
// rebuilds them when the connectors' configs change. One measurement runs
// at a time.
type Measurer struct {
	api  ConnectAPI
	opts MeasurerOptions
	log  *slog.Logger

	mu    sync.Mutex
	msc   string
	cpc   string
	state *clusterState
}

// NewMeasurer returns a Measurer reading Connect through api.
func NewMeasurer(api ConnectAPI, opts MeasurerOptions) *Measurer {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Measurer{api: api, opts: opts, log: log, msc: opts.SourceConnector, cpc: opts.CheckpointConnector}
}

// Close releases the Kafka clients.
func (m *Measurer) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state != nil {
		m.state.close()
		m.state = nil
	}
}

// clusterState is everything derived from one version of the connector
// configs: the clients and the checkpoints consumed so far.
type clusterState struct {
	fingerprint    [32]byte
	src, tgt       kafka.Cluster
	srcCl, tgtCl   *kgo.Client
	cpCl           *kgo.Client
	srcAdm, tgtAdm *kadm.Client
	topics         mm2.Filter
	cpTopics       mm2.Filter
	groups         mm2.Filter
	hasCPC         bool
	policy         mm2.Policy
	cpTopic        string
	checkpoints    checkpointIndex
	cpNext         map[int32]int64
	srcReqs        requestCount
	tgtReqs        requestCount
	// What the last measurement saw, to keep a row for every topic and
	// group while the cluster that lists them cannot be read.
	lastTopics []topicShape
	lastGroups []string
	ids        topicIDs
}

// lastPartitions is how many partitions the last measurement saw of a
// source topic.
func (s *clusterState) lastPartitions(topic string) int {
	for _, sh := range s.lastTopics {
		if sh.topic == topic {
			return sh.partitions
		}
	}
	return 0
}

// topicShape is a source topic as the last measurement saw it.
type topicShape struct {
	topic, remote string
	partitions    int
}

func (s *clusterState) close() {
	for _, c := range []*kgo.Client{s.srcCl, s.tgtCl, s.cpCl} {
		if c != nil {
			c.Close()
		}
	}
}

// connectors returns the source and checkpoint connector names in use,
// finding them by class when they were not configured.
func (m *Measurer) connectors(ctx context.Context) (msc, cpc string, mscCfg, cpcCfg map[string]string, err error) {
	if m.msc != "" {
		mscCfg, err = m.api.Config(ctx, m.msc)
		if connect.IsNotFound(err) && m.opts.SourceConnector == "" {
			m.msc = ""
		} else if err != nil {
			return "", "", nil, nil, fmt.Errorf("connector %s config: %w", m.msc, err)
		}
	}
	if m.cpc != "" {
		cpcCfg, err = m.api.Config(ctx, m.cpc)
		if connect.IsNotFound(err) && m.opts.CheckpointConnector == "" {
			m.cpc, cpcCfg = "", nil
		} else if err != nil {
			return "", "", nil, nil, fmt.Errorf("connector %s config: %w", m.cpc, err)
		}
	}
	if m.msc == "" || m.cpc == "" && m.opts.CheckpointConnector == "" {
		// One listing carries every connector's config: finding the MM2
		// connectors costs one request however many connectors Connect
		// runs, and it is repeated each measurement while there is no
		// checkpoint connector.
		all, err := m.api.ExpandedAll(ctx)
		if err != nil {
			return "", "", nil, nil, fmt.Errorf("list connectors: %w", err)
		}
		var foundMSC, foundCPC []string
		for _, n := range slices.Sorted(maps.Keys(all)) {
			switch cls := all[n].Info.Config["connector.class"]; {
			case mm2.IsConnectorClass(cls, mm2.SourceConnectorClass):
				foundMSC = append(foundMSC, n)
			case mm2.IsConnectorClass(cls, mm2.CheckpointConnectorClass):
				foundCPC = append(foundCPC, n)
			}
		}
		if m.msc == "" {
			if len(foundMSC) != 1 {
				return "", "", nil, nil, fmt.Errorf("want exactly one MirrorSourceConnector, found %d (%s): set SIDECAR_SOURCE_CONNECTOR", len(foundMSC), strings.Join(foundMSC, ", "))
			}
			m.msc, mscCfg = foundMSC[0], all[foundMSC[0]].Info.Config
		}
		if m.cpc == "" && len(foundCPC) > 1 {
			return "", "", nil, nil, fmt.Errorf("found %d MirrorCheckpointConnectors (%s): set SIDECAR_CHECKPOINT_CONNECTOR", len(foundCPC), strings.Join(foundCPC, ", "))
		}
		if m.cpc == "" && len(foundCPC) == 1 {
			m.cpc, cpcCfg = foundCPC[0], all[foundCPC[0]].Info.Config
		}
	}
	return m.msc, m.cpc, mscCfg, cpcCfg, nil
}

func fingerprint(cfgs ...map[string]string) [32]byte {
	h := sha256.New()
	for _, cfg := range cfgs {
		keys := make([]string, 0, len(cfg))
		for k := range cfg {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%q=%q\n", k, cfg[k])
		}
		h.Write([]byte{0})
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (m *Measurer) newState(ctx context.Context, mscCfg, cpcCfg map[string]string) (*clusterState, error) {
	s := &clusterState{
		fingerprint: fingerprint(mscCfg, cpcCfg),
		checkpoints: newCheckpointIndex(),
		cpNext:      map[int32]int64{},
	}
	var err error
	if s.src, err = kafka.ClusterFromConnector(mscCfg, kafka.Source, m.opts.Resolver); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if s.tgt, err = kafka.ClusterFromConnector(mscCfg, kafka.Target, m.opts.Resolver); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if s.topics, err = mm2.TopicFilter(mscCfg); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if s.policy, err = mm2.PolicyFromConnector(mscCfg); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if cpcCfg != nil {
		s.hasCPC = true
		if s.groups, err = mm2.GroupFilter(cpcCfg); err != nil {
			return nil, fmt.Errorf("checkpoint connector config: %w", err)
		}
		if s.cpTopics, err = mm2.TopicFilter(cpcCfg); err != nil {
			return nil, fmt.Errorf("checkpoint connector config: %w", err)
		}
		// The checkpoint connector's own alias and policy name its topic.
		alias := s.src.Alias
		if a := strings.TrimSpace(cpcCfg["source.cluster.alias"]); a != "" {
			alias = a
		}
		cpPolicy, err := mm2.PolicyFromConnector(cpcCfg)
		if err != nil {
			return nil, fmt.Errorf("checkpoint connector config: %w", err)
		}
		s.cpTopic = cpPolicy.CheckpointsTopic(alias)
	}
	base := []kgo.Opt{
		kgo.ClientID("connect-sidecar"),
		kgo.DialTimeout(5 * time.Second),
		kgo.RetryTimeout(10 * time.Second),
	}
	build := func(c kafka.Cluster, extra ...kgo.Opt) (*kgo.Client, error) {
		reqs := &s.srcReqs
		if c.Role == kafka.Target {
			reqs = &s.tgtReqs
		}
		extra = append(extra, kgo.WithHooks(reqs))
		opts, err := c.ClientOpts(ctx)
		if err != nil {
			return nil, c.Wrap("client settings", err)
		}
		opts = append(append(append(opts, base...), m.opts.ClientOpts...), extra...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, c.Wrap("client", err)
		}
		return cl, nil
	}
	if s.srcCl, err = build(s.src); err != nil {
		return nil, err
	}
	if s.tgtCl, err = build(s.tgt); err != nil {
		s.close()
		return nil, err
	}
	if s.hasCPC {
		s.cpCl, err = build(s.tgt,
			kgo.ConsumeTopics(s.cpTopic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.KeepControlRecords(),
			kgo.FetchMaxWait(200*time.Millisecond),
			// The first measurement reads every checkpoint, and kgo turns
			// a whole fetch into records of about 150 bytes each while it
			// holds the next: 1 MiB of compressed checkpoints made 100,000
			// of them at once, which set the sidecar's peak memory.
			kgo.FetchMaxBytes(256<<10),
			kgo.FetchMaxPartitionBytes(256<<10),
		)
		if err != nil {
			s.close()
			return nil, err
		}
	}
	s.srcAdm, s.tgtAdm = kadm.NewClient(s.srcCl), kadm.NewClient(s.tgtCl)
	return s, nil
}

// Measure runs one full measurement: the connectors' configs and MM2's
// committed source offsets from Connect; log start and end offsets, groups
// and their offsets from the source; checkpoints, group offsets and end
// offsets from the target. Failing to read Connect or to build the
// clients fails the measurement (a Kafka failure then is a *ClusterError
// naming its alias); an item of either cluster that cannot be read is
// marked unknown with its reason, and every other item is still measured.
func (m *Measurer) Measure(ctx context.Context) (*Snapshot, error) {
	return m.measure(ctx, true)
}

// MeasureSummary measures as Measure does, but each group keeps only its
// verdict and counts, not its partitions: all that metrics need, for a
// fraction of the memory (200 groups of 1,000 partitions are 200,000
// judged partitions).
func (m *Measurer) MeasureSummary(ctx context.Context) (*Snapshot, error) {
	return m.measure(ctx, false)
}

func (m *Measurer) measure(ctx context.Context, detail bool) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()
	phaseStart := start
	var phases []Phase
	phase := func(name string) {
		now := time.Now()
		phases = append(phases, Phase{name, now.Sub(phaseStart)})
		phaseStart = now
	}

	msc, cpc, mscCfg, cpcCfg, err := m.connectors(ctx)
	if err != nil {
		return nil, err
	}
	if fp := fingerprint(mscCfg, cpcCfg); m.state == nil || m.state.fingerprint != fp {
		if m.state != nil {
			m.state.close()
			m.state = nil
		}
		st, err := m.newState(ctx, mscCfg, cpcCfg)
		if err != nil {
			return nil, err
		}
		m.state = st
	}
	s := m.state
	s.srcReqs.n.Store(0)
	s.tgtReqs.n.Store(0)
	snap := &Snapshot{SourceAlias: s.src.Alias, TargetAlias: s.tgt.Alias, SourceConnector: msc, CheckpointConnector: cpc}
	var fails failures
	connectTime := time.Since(start)

	topics := m.sourceTopics(ctx, s, snap, &fails)
	phase(PhaseSourceOffsets)
	copiedStart := time.Now()
	unseen, err := m.copiedOffsets(ctx, s, msc, topics)
	if err != nil {
		return nil, err
	}
	topics = m.refusedTopics(ctx, s, topics, unseen, &fails)
	// Connect's share: the configs read first and MM2's offsets.
	phases = append(phases, Phase{PhaseConnectOffsets, connectTime + time.Since(copiedStart)})
	phaseStart = time.Now()
	snap.Topics = topics
	if s.hasCPC {
		snap.Groups = m.groups(ctx, s, topics, snap, &fails, phase, detail)
	}
	snap.Time = time.Now()
	snap.Duration = snap.Time.Sub(start)
	snap.Phases = phases
	snap.Requests = map[string]int64{s.src.Alias: s.srcReqs.n.Load()}
	snap.Requests[s.tgt.Alias] += s.tgtReqs.n.Load()
	for _, item := range slices.Sorted(maps.Keys(fails.first)) {
		snap.addProblem(fails.first[item])
	}
	return snap, nil
}

// unreachable records that a whole part of the measurement could not
// reach a cluster.
func unreachable(snap *Snapshot, c kafka.Cluster, what string, err error) {
	if snap.Unreachable == nil {
		snap.Unreachable = map[string]string{}
	}
	if _, ok := snap.Unreachable[c.Alias]; !ok {
		cerr := c.Wrap(what, err)
		snap.Unreachable[c.Alias] = cerr.Error()
		snap.addProblem(cerr)
	}
}

// sourceTopics lists the selected source topics with log start and end
// offsets: one metadata request, then one ListOffsets request per
// partition leader for each of start and end. A topic or partition that
// cannot be read is marked unknown; when the metadata cannot be read at
// all, the topics of the last measurement stand in, all unknown.
func (m *Measurer) sourceTopics(ctx context.Context, s *clusterState, snap *Snapshot, fails *failures) []TopicLag {
	kresp, err := metadata(ctx, s.srcCl, nil)
	if err != nil {
		unreachable(snap, s.src, "metadata", err)
		why := fails.add(ItemTopic, s.src.Wrap("metadata", err))
		topics := make([]TopicLag, len(s.lastTopics))
		for i, sh := range s.lastTopics {
			topics[i] = TopicLag{Topic: sh.topic, RemoteTopic: sh.remote, Unknown: why, Partitions: make([]PartitionLag, sh.partitions)}
			for p := range topics[i].Partitions {
				topics[i].Partitions[p] = PartitionLag{Partition: int32(p), Start: -1, End: -1, Copied: -1, Unknown: why}
			}
		}
		return topics
	}
	var topics []TopicLag
	var leaders [][]int32
	ids := topicIDs{}
	last := make(map[string]int, len(s.lastTopics))
	for _, sh := range s.lastTopics {
		last[sh.topic] = sh.partitions
	}
	// addUnknown adds a topic whose metadata could not be read, with the
	// partitions the last measurement saw, all unknown.
	addUnknown := func(name, why string) {
		tl := TopicLag{Topic: name, RemoteTopic: s.policy.RemoteTopic(s.src.Alias, name), Unknown: why, Partitions: make([]PartitionLag, s.lastPartitions(name))}
		for i := range tl.Partitions {
			tl.Partitions[i] = PartitionLag{Partition: int32(i), Start: -1, End: -1, Copied: -1, Unknown: why}
		}
		topics = append(topics, tl)
		leaders = append(leaders, nil)
		// Its ID from last time still names it in group offsets.
		for id, n := range s.ids {
			if n == name {
				ids[id] = name
			}
		}
	}
	add := func(t kmsg.MetadataResponseTopic) {
		if t.Topic == nil || t.IsInternal {
			return
		}
		name := *t.Topic
		if !s.topics.Match(name) || s.policy.IsInternal(name) {
			return
		}
		delete(last, name)
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			addUnknown(name, fails.add(ItemTopic, fmt.Errorf("%s: %w", name, s.src.Wrap("metadata", err))))
			return
		}
		n := len(t.Partitions)
		tl := TopicLag{Topic: name, RemoteTopic: s.policy.RemoteTopic(s.src.Alias, name), Partitions: make([]PartitionLag, n)}
		for i := range tl.Partitions {
			tl.Partitions[i] = PartitionLag{Partition: int32(i), Start: -1, End: -1, Copied: -1}
		}
		topics = append(topics, tl)
		leaders = append(leaders, leadersOf(t, int32(n)))
		ids.add(t)
	}
	for _, t := range kresp.Topics {
		add(t)
	}
	// A listing of all topics leaves out those the sidecar may no longer
	// describe: asked for by name, a topic measured last time answers
	// why (deleted ones are dropped), so that its backlog is unknown
	// instead of silently gone from the total.
	if len(last) > 0 {
		gone := slices.Sorted(maps.Keys(last))
		if kresp, err = metadata(ctx, s.srcCl, gone); err != nil {
			why := fails.add(ItemTopic, s.src.Wrap("metadata of "+strings.Join(gone, ", "), err))
			for _, name := range gone {
				addUnknown(name, why)
			}
		} else {
			for _, t := range kresp.Topics {
				if !errors.Is(kerr.ErrorForCode(t.ErrorCode), kerr.UnknownTopicOrPartition) {
					add(t)
				}
			}
		}
	}
	kresp = nil // release the metadata before the offset requests
	req := make([]topicParts, len(topics))
	for i, t := range topics {
		req[i] = topicParts{t.Topic, leaders[i]}
	}
	// Sorted so that topicLag finds a topic by binary search: metadata
	// answers in no particular order.
	sort.Sort(byTopic{topics, req})
	s.ids = ids
	s.lastTopics = s.lastTopics[:0]
	for _, t := range topics {
		s.lastTopics = append(s.lastTopics, topicShape{t.Topic, t.RemoteTopic, len(t.Partitions)})
	}
	find := topicFinder(topics)
	part := func(topic string, p int32) *PartitionLag {
		t := find(topic)
		if t == nil || p < 0 || int(p) >= len(t.Partitions) {
			return nil
		}
		return &t.Partitions[p]
	}
	failed := map[topicPartition]error{}
	fail := func(topic string, p int32, err error) {
		if _, ok := failed[topicPartition{topic, p}]; !ok {
			failed[topicPartition{topic, p}] = err
		}
	}
	list := func(req []topicParts) {
		listOffsets(ctx, s.srcCl, req, -2, func(topic string, p int32, off int64) {
			if pl := part(topic, p); pl != nil {
				pl.Start = off
			}
		}, fail)
		listOffsets(ctx, s.srcCl, req, -1, func(topic string, p int32, off int64) {
			if pl := part(topic, p); pl != nil {
				pl.End = off
			}
		}, fail)
	}
	list(req)
	// A leader that moved since the metadata was read (a broker
	// restarting) is asked again once, with fresh metadata for its topics.
	if moved := movedTopics(failed); len(moved) > 0 {
		if kresp, err := metadata(ctx, s.srcCl, moved); err == nil {
			var again []topicParts
			for _, t := range kresp.Topics {
				tl := (*TopicLag)(nil)
				if t.Topic != nil && t.ErrorCode == 0 {
					tl = find(*t.Topic)
				}
				if tl == nil {
					continue
				}
				again = append(again, topicParts{tl.Topic, leadersOf(t, int32(len(tl.Partitions)))})
				for p := range tl.Partitions {
					delete(failed, topicPartition{tl.Topic, int32(p)})
				}
			}
			list(again)
		}
	}
	for tp, err := range failed {
		if pl := part(tp.topic, tp.partition); pl != nil {
			pl.Unknown = fails.add(ItemPartition, fmt.Errorf("%s[%d]: %w", tp.topic, tp.partition, s.src.Wrap("list offsets", err)))
		}
	}
	return topics
}

// movedTopics names, sorted, the topics of partitions that failed because
// their leader moved or was being elected: fresh metadata may find it.
func movedTopics(failed map[topicPartition]error) []string {
	var moved []string
	for tp, err := range failed {
		if errors.Is(err, errNoLeader) || errors.Is(err, kerr.NotLeaderForPartition) || errors.Is(err, kerr.LeaderNotAvailable) ||
			errors.Is(err, kerr.FencedLeaderEpoch) || errors.Is(err, kerr.UnknownLeaderEpoch) || errors.Is(err, kerr.OffsetNotAvailable) {
			moved = append(moved, tp.topic)
		}
	}
	slices.Sort(moved)
	return slices.Compact(moved)
}

// topicIDs names topics by the IDs metadata gives them (Kafka 2.8+).
type topicIDs map[[16]byte]string

func (ids topicIDs) add(t kmsg.MetadataResponseTopic) {
	if t.Topic != nil && t.TopicID != ([16]byte{}) {
		ids[t.TopicID] = *t.Topic
	}
}

// topicParts is a topic and the leader of each of its partitions.
type topicParts struct {
	topic   string
	leaders []int32
}

type byTopic struct {
	t []TopicLag
	p []topicParts
}

func (b byTopic) Len() int           { return len(b.t) }
func (b byTopic) Less(i, j int) bool { return b.t[i].Topic < b.t[j].Topic }
func (b byTopic) Swap(i, j int) {
	b.t[i], b.t[j] = b.t[j], b.t[i]
	b.p[i], b.p[j] = b.p[j], b.p[i]
}

// metadata asks for the metadata of topics (nil: all) without passing the
// answer through kgo's metadata cache, which for 100,000 partitions would
// keep a second copy alive between measurements. A no-topic request
// through the client first keeps kgo's broker list current.
func metadata(ctx context.Context, cl *kgo.Client, topics []string) (*kmsg.MetadataResponse, error) {
	brokersOnly := kmsg.NewPtrMetadataRequest()
	brokersOnly.Topics = []kmsg.MetadataRequestTopic{}
	if _, err := brokersOnly.RequestWith(ctx, cl); err != nil {
		return nil, err
	}
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = make([]kmsg.MetadataRequestTopic, len(topics))
		for i, t := range topics {
			req.Topics[i].Default()
			req.Topics[i].Topic = kmsg.StringPtr(t)
		}
	}
	var lastErr error
	for _, b := range cl.DiscoveredBrokers() {
		resp, err := b.RetriableRequest(ctx, req)
		if err == nil {
			return resp.(*kmsg.MetadataResponse), nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = errors.New("no broker known")
	}
	return nil, lastErr
}

// listOffsets sends one ListOffsets request to each partition leader, all
// at once. timestamp -1 asks for end offsets, -2 for log start offsets.
// Unknown partitions report -1. A partition without a leader, a partition
// error or a failed request goes to fail, once per partition.
func listOffsets(ctx context.Context, cl *kgo.Client, tps []topicParts, timestamp int64, set func(string, int32, int64), fail func(string, int32, error)) {
	byLeader := map[int32]*kmsg.ListOffsetsRequest{}
	// Each topic's partitions are counted per leader first, so that every
	// partition list is allocated once at its size: grown by appending,
	// they made a good part of a 100,000-partition cycle's garbage.
	perLeader := map[int32]int{}
	for _, tp := range tps {
		clear(perLeader)
		for p, leader := range tp.leaders {
			if leader < 0 {
				fail(tp.topic, int32(p), errNoLeader)
				continue
			}
			perLeader[leader]++
		}
		for leader, n := range perLeader {
			req := byLeader[leader]
			if req == nil {
				req = kmsg.NewPtrListOffsetsRequest()
				req.ReplicaID = -1
				byLeader[leader] = req
			}
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = tp.topic
			rt.Partitions = make([]kmsg.ListOffsetsRequestTopicPartition, 0, n)
			req.Topics = append(req.Topics, rt)
		}
		for p, leader := range tp.leaders {
			if leader < 0 {
				continue
			}
			req := byLeader[leader]
			rt := &req.Topics[len(req.Topics)-1]
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = int32(p)
			rp.Timestamp = timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	type answer struct {
		req  *kmsg.ListOffsetsRequest
		resp *kmsg.ListOffsetsResponse
		err  error
	}
	answers := make(chan answer, len(byLeader))
	for leader, req := range byLeader {
		go func() {
			resp, err := cl.Broker(int(leader)).RetriableRequest(ctx, req)
			if err != nil {
				answers <- answer{req: req, err: fmt.Errorf("broker %d: %w", leader, err)}
				return
			}
			answers <- answer{req: req, resp: resp.(*kmsg.ListOffsetsResponse)}
		}()
	}
	for range byLeader {
		a := <-answers
		if a.err != nil {
			for _, t := range a.req.Topics {
				for _, p := range t.Partitions {
					fail(t.Topic, p.Partition, a.err)
				}
			}
			continue
		}
		for _, t := range a.resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					err := kerr.ErrorForCode(p.ErrorCode)
					if errors.Is(err, kerr.UnknownTopicOrPartition) {
						set(t.Topic, p.Partition, -1)
						continue
					}
					fail(t.Topic, p.Partition, err)
					continue
				}
				set(t.Topic, p.Partition, p.Offset)
			}
		}
	}
}

// copiedOffsets reads MM2's committed source offsets from Connect and
// computes each partition's lag. MM2 commits the offset of the last record
// it copied, so the next record to copy is that offset + 1; a partition
// never copied counts from its log start.
//
// It returns the selected topics MM2 has copied that the source listed
// not: refusedTopics finds out why.
func (m *Measurer) copiedOffsets(ctx context.Context, s *clusterState, msc string, topics []TopicLag) (map[string]bool, error) {
	find := topicFinder(topics)
	unseen := map[string]bool{}
	err := m.api.SourceOffsets(ctx, msc, func(cluster, topic string, p int32, off int64) error {
		if cluster != s.src.Alias {
			return nil
		}
		t := find(topic)
		if t == nil && !unseen[topic] && s.topics.Match(topic) && !s.policy.IsInternal(topic) {
			unseen[topic] = true
		}
		if t != nil && p >= 0 && int(p) < len(t.Partitions) {
			t.Partitions[p].Copied = off
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("connector %s offsets: %w", msc, err)
	}
	for i := range topics {
		t := &topics[i]
		t.Lag = 0
		for j := range t.Partitions {
			pl := &t.Partitions[j]
			if pl.Unknown != "" {
				pl.Lag = 0
				continue
			}
			next := pl.Copied + 1
			if pl.Copied < 0 || next < pl.Start {
				// Never copied, or retention removed records MM2 had not
				// copied: the backlog starts at the log start.
				next = pl.Start
			}
			if pl.End >= 0 && next >= 0 && pl.End > next {
				pl.Lag = pl.End - next
			}
			t.Lag += pl.Lag
		}
	}
	return unseen, nil
}

// refusedTopics asks the source, by name, about topics MM2 has copied
// that its listing left out. A broker leaves out the topics the principal
// may not describe (losing Read loses Describe), and their backlog must
// read as unknown, never as zero; a topic deleted on the source, or one
// that answers, is left out as before.
func (m *Measurer) refusedTopics(ctx context.Context, s *clusterState, topics []TopicLag, unseen map[string]bool, fails *failures) []TopicLag {
	if len(unseen) == 0 {
		return topics
	}
	names := slices.Sorted(maps.Keys(unseen))
	resp, err := metadata(ctx, s.srcCl, names)
	if err != nil {
		why := fails.add(ItemTopic, s.src.Wrap("metadata of "+strings.Join(names, ", "), err))
		for _, name := range names {
			topics = append(topics, unknownTopic(s, name, why))
		}
	} else {
		for _, t := range resp.Topics {
			err := kerr.ErrorForCode(t.ErrorCode)
			if t.Topic == nil || err == nil || errors.Is(err, kerr.UnknownTopicOrPartition) {
				continue
			}
			why := fails.add(ItemTopic, fmt.Errorf("%s (copied by MM2): %w", *t.Topic, s.src.Wrap("metadata", err)))
			topics = append(topics, unknownTopic(s, *t.Topic, why))
		}
	}
	sort.Slice(topics, func(i, j int) bool { return topics[i].Topic < topics[j].Topic })
	return topics
}

// unknownTopic is a topic row whose lag cannot be read, with no partitions.
func unknownTopic(s *clusterState, name, why string) TopicLag {
	return TopicLag{Topic: name, RemoteTopic: s.policy.RemoteTopic(s.src.Alias, name), Unknown: why}
}

// topicFinder returns topicLag for answers that list a topic's
// partitions one after the other, as Kafka's and Connect's do: the last
// topic found is tried first.
func topicFinder(topics []TopicLag) func(name string) *TopicLag {
	var last *TopicLag
	return func(name string) *TopicLag {
		if last == nil || last.Topic != name {
			last = topicLag(topics, name)
		}
		return last
	}
}

// topicLag finds a topic in topics sorted by name.
func topicLag(topics []TopicLag, name string) *TopicLag {
	i, ok := sort.Find(len(topics), func(i int) int { return strings.Compare(name, topics[i].Topic) })
	if !ok {
		return nil
	}
	return &topics[i]
}
