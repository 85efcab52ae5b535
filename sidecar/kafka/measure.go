package kafka

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
)

// ConnectAPI is what a measurement needs from Kafka Connect REST.
type ConnectAPI interface {
	ExpandedAll(ctx context.Context) (map[string]connect.Expanded, error)
	Config(ctx context.Context, name string) (map[string]string, error)
	SourceOffsets(ctx context.Context, name string, fn func(cluster, topic string, partition int32, offset int64) error) error
}

// Connector classes of MirrorMaker 2.
const (
	sourceConnectorClass     = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	checkpointConnectorClass = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
)

// MeasurerOptions tune a Measurer.
type MeasurerOptions struct {
	// SourceConnector and CheckpointConnector name the connectors; empty
	// means the one connector of that class.
	SourceConnector     string
	CheckpointConnector string
	// Resolver resolves ${env:...} and ${file:...} in connector configs.
	Resolver Resolver
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

type cpKey struct {
	group, topic string
	partition    int32
}

type cpVal struct{ upstream, downstream int64 }

// clusterState is everything derived from one version of the connector
// configs: the clients and the checkpoints consumed so far.
type clusterState struct {
	fingerprint    [32]byte
	src, tgt       Cluster
	srcCl, tgtCl   *kgo.Client
	cpCl           *kgo.Client
	srcAdm, tgtAdm *kadm.Client
	topics         Filter
	cpTopics       Filter
	groups         Filter
	hasCPC         bool
	policy         Policy
	cpTopic        string
	checkpoints    map[cpKey]cpVal
	cpNext         map[int32]int64
	names          map[string]string // interned group and topic names
}

func (s *clusterState) close() {
	for _, c := range []*kgo.Client{s.srcCl, s.tgtCl, s.cpCl} {
		if c != nil {
			c.Close()
		}
	}
}

func (s *clusterState) intern(b string) string {
	if v, ok := s.names[b]; ok {
		return v
	}
	s.names[b] = b
	return b
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
			case IsConnectorClass(cls, sourceConnectorClass):
				foundMSC = append(foundMSC, n)
			case IsConnectorClass(cls, checkpointConnectorClass):
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

// IsConnectorClass matches a connector.class as Connect resolves it: the
// full name, the simple name, or the simple name without "Connector".
func IsConnectorClass(cls, full string) bool {
	simple := full[strings.LastIndex(full, ".")+1:]
	return cls == full || cls == simple || cls+"Connector" == simple
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
		checkpoints: map[cpKey]cpVal{},
		cpNext:      map[int32]int64{},
		names:       map[string]string{},
	}
	var err error
	if s.src, err = ClusterFromConnector(mscCfg, Source, m.opts.Resolver); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if s.tgt, err = ClusterFromConnector(mscCfg, Target, m.opts.Resolver); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if s.topics, err = TopicFilter(mscCfg); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if s.policy, err = PolicyFromConnector(mscCfg); err != nil {
		return nil, fmt.Errorf("source connector config: %w", err)
	}
	if cpcCfg != nil {
		s.hasCPC = true
		if s.groups, err = GroupFilter(cpcCfg); err != nil {
			return nil, fmt.Errorf("checkpoint connector config: %w", err)
		}
		if s.cpTopics, err = TopicFilter(cpcCfg); err != nil {
			return nil, fmt.Errorf("checkpoint connector config: %w", err)
		}
		// The checkpoint connector's own alias and policy name its topic.
		alias := s.src.Alias
		if a := strings.TrimSpace(cpcCfg["source.cluster.alias"]); a != "" {
			alias = a
		}
		cpPolicy, err := PolicyFromConnector(cpcCfg)
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
	build := func(c Cluster, extra ...kgo.Opt) (*kgo.Client, error) {
		opts, err := c.ClientOpts(ctx)
		if err != nil {
			return nil, clusterErr(c, "client settings", err)
		}
		opts = append(append(append(opts, base...), m.opts.ClientOpts...), extra...)
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return nil, clusterErr(c, "client", err)
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
// offsets from the target. A failure to reach a cluster is a
// *ClusterError naming its alias.
func (m *Measurer) Measure(ctx context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := time.Now()

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
	snap := &Snapshot{SourceAlias: s.src.Alias, TargetAlias: s.tgt.Alias, SourceConnector: msc, CheckpointConnector: cpc}

	topics, ids, err := m.sourceTopics(ctx, s)
	if err != nil {
		return nil, err
	}
	if err := m.copiedOffsets(ctx, s, msc, topics); err != nil {
		return nil, err
	}
	snap.Topics = topics
	if s.hasCPC {
		if snap.Groups, err = m.groups(ctx, s, topics, ids); err != nil {
			return nil, err
		}
	}
	snap.Time = time.Now()
	snap.Duration = snap.Time.Sub(start)
	return snap, nil
}

// sourceTopics lists the selected source topics with log start and end
// offsets: one metadata request, then one ListOffsets request per
// partition leader for each of start and end. ids names the selected
// topics by topic ID.
func (m *Measurer) sourceTopics(ctx context.Context, s *clusterState) ([]TopicLag, topicIDs, error) {
	kresp, err := metadata(ctx, s.srcCl, nil)
	if err != nil {
		return nil, nil, clusterErr(s.src, "metadata", err)
	}
	var topics []TopicLag
	var leaders [][]int32
	ids := topicIDs{}
	for _, t := range kresp.Topics {
		if t.Topic == nil || t.IsInternal || t.ErrorCode != 0 {
			continue
		}
		name := *t.Topic
		if !s.topics.Match(name) || s.policy.IsInternal(name) {
			continue
		}
		tl := TopicLag{Topic: name, RemoteTopic: s.policy.RemoteTopic(s.src.Alias, name), Partitions: make([]PartitionLag, len(t.Partitions))}
		for i := range tl.Partitions {
			tl.Partitions[i] = PartitionLag{Partition: int32(i), Start: -1, End: -1, Copied: -1}
		}
		topics = append(topics, tl)
		leaders = append(leaders, leadersOf(t, int32(len(t.Partitions))))
		ids.add(t)
	}
	kresp = nil // release the metadata before the offset requests
	req := make([]topicParts, len(topics))
	for i, t := range topics {
		req[i] = topicParts{t.Topic, leaders[i]}
	}
	// Sorted so that topicLag finds a topic by binary search: metadata
	// answers in no particular order.
	sort.Sort(byTopic{topics, req})
	set := func(start bool) func(string, int32, int64) {
		return func(topic string, p int32, off int64) {
			t := topicLag(topics, topic)
			if t == nil || p < 0 || int(p) >= len(t.Partitions) {
				return
			}
			if start {
				t.Partitions[p].Start = off
			} else {
				t.Partitions[p].End = off
			}
		}
	}
	if err := listOffsets(ctx, s.srcCl, req, -2, set(true)); err != nil {
		return nil, nil, clusterErr(s.src, "list start offsets", err)
	}
	if err := listOffsets(ctx, s.srcCl, req, -1, set(false)); err != nil {
		return nil, nil, clusterErr(s.src, "list end offsets", err)
	}
	return topics, ids, nil
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
// Unknown partitions report -1; a partition without a leader or another
// partition error fails the call.
func listOffsets(ctx context.Context, cl *kgo.Client, tps []topicParts, timestamp int64, set func(string, int32, int64)) error {
	byLeader := map[int32]*kmsg.ListOffsetsRequest{}
	// Each topic's partitions are counted per leader first, so that every
	// partition list is allocated once at its size: grown by appending,
	// they made a good part of a 100,000-partition cycle's garbage.
	perLeader := map[int32]int{}
	for _, tp := range tps {
		clear(perLeader)
		for p, leader := range tp.leaders {
			if leader < 0 {
				return fmt.Errorf("%s[%d]: no leader", tp.topic, p)
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
			req := byLeader[leader]
			rt := &req.Topics[len(req.Topics)-1]
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = int32(p)
			rp.Timestamp = timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	type answer struct {
		resp *kmsg.ListOffsetsResponse
		err  error
	}
	answers := make(chan answer, len(byLeader))
	for leader, req := range byLeader {
		go func() {
			resp, err := cl.Broker(int(leader)).RetriableRequest(ctx, req)
			if err != nil {
				answers <- answer{err: fmt.Errorf("broker %d: %w", leader, err)}
				return
			}
			answers <- answer{resp: resp.(*kmsg.ListOffsetsResponse)}
		}()
	}
	var firstErr error
	for range byLeader {
		a := <-answers
		if a.err != nil {
			if firstErr == nil {
				firstErr = a.err
			}
			continue
		}
		resp := a.resp
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					err := kerr.ErrorForCode(p.ErrorCode)
					if errors.Is(err, kerr.UnknownTopicOrPartition) {
						set(t.Topic, p.Partition, -1)
						continue
					}
					if firstErr == nil {
						firstErr = fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, err)
					}
					continue
				}
				set(t.Topic, p.Partition, p.Offset)
			}
		}
	}
	return firstErr
}

// copiedOffsets reads MM2's committed source offsets from Connect and
// computes each partition's lag. MM2 commits the offset of the last record
// it copied, so the next record to copy is that offset + 1; a partition
// never copied counts from its log start.
func (m *Measurer) copiedOffsets(ctx context.Context, s *clusterState, msc string, topics []TopicLag) error {
	unseen := map[string]bool{}
	err := m.api.SourceOffsets(ctx, msc, func(cluster, topic string, p int32, off int64) error {
		if cluster != s.src.Alias {
			return nil
		}
		t := topicLag(topics, topic)
		if t == nil {
			unseen[topic] = true
		}
		if t != nil && p >= 0 && int(p) < len(t.Partitions) {
			t.Partitions[p].Copied = off
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("connector %s offsets: %w", msc, err)
	}
	if err := m.checkUnseen(ctx, s, unseen); err != nil {
		return err
	}
	for i := range topics {
		t := &topics[i]
		t.Lag = 0
		for j := range t.Partitions {
			pl := &t.Partitions[j]
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
	return nil
}

// checkUnseen asks the source about topics MM2 has copied that the
// listing of all topics left out. A broker leaves out the topics the
// principal may not describe, and a lag of zero for them would read as
// "nothing left to copy": a refusal is a measurement failure. A topic
// deleted on the source is not.
func (m *Measurer) checkUnseen(ctx context.Context, s *clusterState, unseen map[string]bool) error {
	if len(unseen) == 0 {
		return nil
	}
	names := make([]string, 0, len(unseen))
	for n := range unseen {
		names = append(names, n)
	}
	sort.Strings(names)
	resp, err := metadata(ctx, s.srcCl, names)
	if err != nil {
		return clusterErr(s.src, "metadata", err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || t.ErrorCode == 0 {
			continue
		}
		if kerr.ErrorForCode(t.ErrorCode) == kerr.TopicAuthorizationFailed {
			return clusterErr(s.src, "metadata of "+*t.Topic+", which MM2 has copied", kerr.TopicAuthorizationFailed)
		}
	}
	return nil
}

// topicLag finds a topic in topics sorted by name.
func topicLag(topics []TopicLag, name string) *TopicLag {
	i, ok := sort.Find(len(topics), func(i int) int { return strings.Compare(name, topics[i].Topic) })
	if !ok {
		return nil
	}
	return &topics[i]
}
