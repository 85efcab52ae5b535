package lag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
	"github.com/mm2-fargate/mm2-ecs/sidecar/retry"
)

// partState is one partition of a group while a measurement runs: what
// GroupPartition holds but for what the checkpoint index and the target's
// end offsets give when it is judged, in a quarter of the memory.
type partState struct {
	topic     int32 // the source topic, by its index in the measurement's topics
	partition int32
	source    int64
	target    int64   // -1: no offset committed on the target
	unknown   *string // why an offset could not be read; nil when all were
}

// byTopicPartition orders partStates as their GroupPartitions are listed:
// topics are sorted by name.
func byTopicPartition(a, b partState) int {
	if c := cmp.Compare(a.topic, b.topic); c != 0 {
		return c
	}
	return cmp.Compare(a.partition, b.partition)
}

// groups judges every consumer group the checkpoint connector covers.
// A group or partition whose offsets cannot be read is marked unknown and
// judged so; the others are judged as usual. With detail, each group keeps
// its judged partitions; without, only its verdict and counts (and the
// snapshot the count of unknown partitions by reason). phase is called as
// each phase of the measurement ends.
func (m *Measurer) groups(ctx context.Context, s *clusterState, topics []TopicLag, snap *Snapshot, fails *failures, phase func(string), detail bool) []GroupReadiness {
	listed, err := s.srcAdm.ListGroups(ctx)
	if err != nil && len(listed) == 0 {
		unreachable(snap, s.src, "list groups", err)
	}
	var names []string
	for name := range listed {
		if s.groups.Match(name) {
			names = append(names, name)
		}
	}
	if err != nil {
		// Groups of a coordinator that did not answer are not listed: ask
		// for the ones seen last time all the same, so that they turn
		// unknown instead of disappearing.
		names = append(names, s.lastGroups...)
		slices.Sort(names)
		names = slices.Compact(names)
	}
	sort.Strings(names)
	selected := make(map[string]int32, len(topics))
	for i := range topics {
		if s.cpTopics.Match(topics[i].Topic) {
			selected[topics[i].Topic] = int32(i)
		}
	}

	out := make([]GroupReadiness, len(names))
	parts := make([][]partState, len(names))
	byName := make(map[string]int, len(names))
	for i, name := range names {
		out[i].Group = name
		byName[name] = i
	}
	eachGroupOffsets(ctx, s.srcAdm, s.srcCl, names, s.ids, func(group string, committed []kmsg.OffsetFetchResponseGroupTopic, err error) {
		i := byName[group]
		if err != nil {
			out[i].Unknown = fails.add(ItemGroup, s.src.Wrap("group "+group+" offsets", err))
			return
		}
		// Topics are looked up once each, not once per partition.
		n := 0
		for j := range committed {
			if _, ok := selected[committed[j].Topic]; ok {
				eachPartition(committed[j:j+1], func(string, int32, int64, error) { n++ })
			}
		}
		ps := make([]partState, 0, n)
		for j := range committed {
			t, ok := selected[committed[j].Topic]
			if !ok {
				continue
			}
			eachPartition(committed[j:j+1], func(topic string, p int32, at int64, err error) {
				st := partState{topic: t, partition: p, source: at, target: -1}
				if err != nil {
					why := fails.add(ItemGroupPartition, s.src.Wrap(fmt.Sprintf("group %s %s[%d] offset", group, topic, p), err))
					st.unknown = &why
				}
				ps = append(ps, st)
			})
		}
		slices.SortFunc(ps, byTopicPartition)
		parts[i] = ps
	})
	// Only groups with offsets MM2 would checkpoint are covered, and those
	// that could not be read.
	kept := 0
	for i := range out {
		if len(parts[i]) == 0 && out[i].Unknown == "" {
			continue
		}
		out[kept], parts[kept] = out[i], parts[i]
		kept++
	}
	out, parts = out[:kept], parts[:kept]
	s.lastGroups = s.lastGroups[:0]
	for _, g := range out {
		s.lastGroups = append(s.lastGroups, g.Group)
	}
	phase(PhaseSourceGroups)
	if len(out) == 0 {
		phase(PhaseCheckpoints)
		phase(PhaseTargetOffsets)
		return nil
	}
	markAll := func(why string) {
		for _, ps := range parts {
			for j := range ps {
				if ps[j].unknown == nil {
					ps[j].unknown = &why
				}
			}
		}
	}
	var ends map[string][]int64
	var endErrs map[topicPartition]error
	judge := func() []GroupReadiness {
		for i := range out {
			m.judgeGroup(s, topics, &out[i], parts[i], ends, endErrs, snap, fails, detail)
			parts[i] = nil // judged: let it go before the next group's partitions are built
		}
		return out
	}

	// Checkpoints read only in part would judge by old ones: every
	// partition is unknown until the topic is read to its end.
	err = m.catchUpCheckpoints(ctx, s)
	phase(PhaseCheckpoints)
	defer phase(PhaseTargetOffsets)
	if err != nil {
		unreachable(snap, s.tgt, "read "+s.cpTopic, err)
		markAll("checkpoints " + fails.add(ItemGroupPartition, s.tgt.Wrap("read "+s.cpTopic, err)))
		return judge()
	}
	remote, err := targetTopics(ctx, s.tgtCl, topics, parts)
	if err != nil {
		unreachable(snap, s.tgt, "metadata", err)
		markAll("target " + fails.add(ItemGroupPartition, s.tgt.Wrap("metadata", err)))
		return judge()
	}
	groupNames := make([]string, 0, len(out))
	clear(byName)
	for i := range out {
		if out[i].Unknown == "" {
			groupNames = append(groupNames, out[i].Group)
			byName[out[i].Group] = i
		}
	}
	upstream := make(map[string]int32, len(topics))
	for i, t := range topics {
		upstream[t.RemoteTopic] = int32(i)
	}
	find := func(ps []partState, topic, p int32) *partState {
		i, ok := slices.BinarySearchFunc(ps, partState{topic: topic, partition: p}, byTopicPartition)
		if !ok {
			return nil
		}
		return &ps[i]
	}
	eachGroupOffsets(ctx, s.tgtAdm, s.tgtCl, groupNames, remote.ids, func(group string, committed []kmsg.OffsetFetchResponseGroupTopic, err error) {
		ps := parts[byName[group]]
		if err != nil {
			why := "target " + fails.add(ItemGroupPartition, s.tgt.Wrap("group "+group+" offsets", err))
			for j := range ps {
				if ps[j].unknown == nil {
					ps[j].unknown = &why
				}
			}
			return
		}
		for j := range committed {
			topic, ok := upstream[committed[j].Topic]
			if !ok {
				continue
			}
			eachPartition(committed[j:j+1], func(remote string, p int32, at int64, err error) {
				st := find(ps, topic, p)
				switch {
				case st == nil:
				case err != nil:
					if st.unknown == nil {
						why := "target " + fails.add(ItemGroupPartition, s.tgt.Wrap(fmt.Sprintf("group %s %s[%d] offset", group, remote, p), err))
						st.unknown = &why
					}
				default:
					st.target = at
				}
			})
		}
	})
	ends, endErrs = remote.ends(ctx, s.tgtCl)
	return judge()
}

// judgeGroup judges a group's partitions from their state, the
// checkpoints and the target's end offsets, and sets the group's verdict.
// With detail the group keeps its partitions; without, the snapshot
// counts the unknown ones.
func (m *Measurer) judgeGroup(s *clusterState, topics []TopicLag, g *GroupReadiness, parts []partState, ends map[string][]int64, endErrs map[topicPartition]error, snap *Snapshot, fails *failures, detail bool) {
	var v groupVerdict
	if detail {
		g.Partitions = make([]GroupPartition, 0, len(parts))
	}
	// Names are looked up once per group and topic, not per partition:
	// parts are sorted by topic.
	var topic *TopicLag
	var cps *cpPartitions
	var end []int64
	for i := range parts {
		st := &parts[i]
		if topic == nil || &topics[st.topic] != topic {
			topic = &topics[st.topic]
			end = ends[topic.RemoteTopic]
			cps = s.checkpoints.of(g.Group, topic.Topic)
		}
		p := GroupPartition{
			Topic: topic.Topic, RemoteTopic: topic.RemoteTopic, Partition: st.partition,
			SourceOffset: st.source, Upstream: -1, Downstream: -1, TargetOffset: st.target,
		}
		if st.unknown != nil {
			p.Unknown = *st.unknown
		}
		if cp, ok := cps.get(p.Partition); ok {
			p.HasCheckpoint, p.Upstream, p.Downstream = true, cp.upstream, cp.downstream
		}
		if int(p.Partition) < len(end) {
			p.TargetEnd = max(end[p.Partition], 0)
		}
		if len(endErrs) > 0 && p.Unknown == "" {
			if err := endErrs[topicPartition{p.RemoteTopic, p.Partition}]; err != nil {
				p.Unknown = "target " + fails.add(ItemGroupPartition, s.tgt.Wrap(fmt.Sprintf("%s[%d] end offset", p.RemoteTopic, p.Partition), err))
			}
		}

		p.judge()
		v.add(&p)
		switch {
		case detail:
			g.Partitions = append(g.Partitions, p)
		case p.Unknown != "":
			if snap.unknownGroupPartitions == nil {
				snap.unknownGroupPartitions = map[string]int{}
			}
			snap.unknownGroupPartitions[p.Unknown]++
		}
	}
	v.set(g)
}

type topicPartition struct {
	topic     string
	partition int32
}

// eachPartition calls fn for every partition of an OffsetFetch answer
// that has a committed offset or an error.
func eachPartition(topics []kmsg.OffsetFetchResponseGroupTopic, fn func(topic string, partition int32, at int64, err error)) {
	for _, t := range topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				fn(t.Topic, p.Partition, -1, err)
			} else if p.Offset >= 0 {
				fn(t.Topic, p.Partition, p.Offset, nil)
			}
		}
	}
}

// Bounds of the retries of groups whose coordinator moved or is loading.
const (
	groupAttempts = 6
	groupBackoff  = 250 * time.Millisecond
)

// eachGroupOffsets fetches the committed offsets of groups and calls fn
// with each group's topics, or with the error that kept them from being
// read, one group at a time. A group the cluster does not know has no
// offsets and fn does not see it. Topics an answer gives only by ID
// (OffsetFetch v10+) are named from ids; fn does not see the others.
//
// It finds the groups' coordinators (one batched FindCoordinator) and
// sends each coordinator one OffsetFetch for all its groups, instead of
// using kgo's sharded OffsetFetch: that one resolves topic IDs through the
// client's metadata cache, which then holds every partition of every
// committed topic between measurements (about 25 MB per cluster for
// 100,000 partitions). Groups whose coordinator moved or is loading are
// asked again, a bounded number of times; a coordinator that fails only
// fails its own groups.
func eachGroupOffsets(ctx context.Context, adm *kadm.Client, cl *kgo.Client, groups []string, ids topicIDs, fn func(group string, topics []kmsg.OffsetFetchResponseGroupTopic, err error)) {
	for attempt := 1; len(groups) > 0; attempt++ {
		again := fetchGroupOffsets(ctx, adm, cl, groups, ids, fn)
		if len(again) == 0 {
			return
		}
		if attempt == groupAttempts {
			for _, r := range again {
				fn(r.group, nil, r.err)
			}
			return
		}
		if err := retry.Wait(ctx, time.Duration(attempt)*groupBackoff); err != nil {
			for _, r := range again {
				fn(r.group, nil, fmt.Errorf("%w (after %v)", err, r.err))
			}
			return
		}
		groups = groups[:0]
		for _, r := range again {
			groups = append(groups, r.group)
		}
	}
}

// groupRetry is a group to ask again and why.
type groupRetry struct {
	group string
	err   error
}

// fetchGroupOffsets makes one attempt of eachGroupOffsets and returns the
// groups to ask again.
func fetchGroupOffsets(ctx context.Context, adm *kadm.Client, cl *kgo.Client, groups []string, ids topicIDs, fn func(string, []kmsg.OffsetFetchResponseGroupTopic, error)) (again []groupRetry) {
	byNode := map[int32][]string{}
	coordinators := adm.FindGroupCoordinators(ctx, groups...)
	for _, g := range groups {
		c, ok := coordinators[g]
		switch {
		case !ok:
			again = append(again, groupRetry{g, kerr.CoordinatorNotAvailable})
		case c.Err == nil:
			byNode[c.NodeID] = append(byNode[c.NodeID], g)
		case coordinatorMoved(c.Err):
			again = append(again, groupRetry{g, c.Err})
		default:
			fn(g, nil, fmt.Errorf("coordinator: %w", c.Err))
		}
	}
	type answer struct {
		asked  []string
		groups []kmsg.OffsetFetchResponseGroup
		err    error
	}
	answers := make(chan answer, len(byNode))
	for node, gs := range byNode {
		go func() {
			resp, err := offsetFetch(ctx, cl.Broker(int(node)), gs)
			if err != nil {
				err = fmt.Errorf("broker %d: %w", node, err)
			}
			answers <- answer{gs, resp, err}
		}()
	}
	for range byNode {
		a := <-answers
		if a.err != nil {
			for _, g := range a.asked {
				fn(g, nil, a.err)
			}
			continue
		}
		for i := range a.groups {
			g := &a.groups[i]
			switch gerr := kerr.ErrorForCode(g.ErrorCode); {
			case gerr == nil:
				nameTopics(g.Topics, ids)
				fn(g.Group, g.Topics, nil)
			case errors.Is(gerr, kerr.GroupIDNotFound):
			case coordinatorMoved(gerr):
				again = append(again, groupRetry{g.Group, gerr})
			default:
				fn(g.Group, nil, gerr)
			}
		}
	}
	return again
}

// coordinatorMoved reports errors after which the group's coordinator is
// to be found again.
func coordinatorMoved(err error) bool {
	return errors.Is(err, kerr.NotCoordinator) || errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.CoordinatorLoadInProgress)
}

// offsetFetch asks one coordinator for the committed offsets of groups.
// Brokers before Kafka 3.0 (OffsetFetch v7 and older) take one group per
// request: the batched request then carries the first group the old way,
// and the others follow one by one.
func offsetFetch(ctx context.Context, b *kgo.Broker, groups []string) ([]kmsg.OffsetFetchResponseGroup, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = groups[0]
	req.Groups = make([]kmsg.OffsetFetchRequestGroup, len(groups))
	for i, g := range groups {
		req.Groups[i].Default()
		req.Groups[i].Group = g
	}
	kresp, err := b.RetriableRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.OffsetFetchResponse)
	if resp.Version >= 8 {
		return resp.Groups, nil
	}
	out := make([]kmsg.OffsetFetchResponseGroup, 0, len(groups))
	for i, g := range groups {
		if i > 0 {
			one := kmsg.NewPtrOffsetFetchRequest()
			one.Group = g
			if kresp, err = b.RetriableRequest(ctx, one); err != nil {
				return nil, err
			}
			resp = kresp.(*kmsg.OffsetFetchResponse)
		}
		out = append(out, singleGroup(g, resp))
	}
	return out, nil
}

// singleGroup turns an OffsetFetch answer before v8 into the shape of a
// group in later answers.
func singleGroup(group string, resp *kmsg.OffsetFetchResponse) kmsg.OffsetFetchResponseGroup {
	g := kmsg.NewOffsetFetchResponseGroup()
	g.Group, g.ErrorCode = group, resp.ErrorCode
	g.Topics = make([]kmsg.OffsetFetchResponseGroupTopic, len(resp.Topics))
	for i, t := range resp.Topics {
		g.Topics[i].Topic = t.Topic
		g.Topics[i].Partitions = make([]kmsg.OffsetFetchResponseGroupTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			g.Topics[i].Partitions[j] = kmsg.OffsetFetchResponseGroupTopicPartition{Partition: p.Partition, Offset: p.Offset, ErrorCode: p.ErrorCode}
		}
	}
	return g
}

// nameTopics fills in the names of topics given by ID only; a topic not in
// ids loses its partitions, as nobody asked for it.
func nameTopics(topics []kmsg.OffsetFetchResponseGroupTopic, ids topicIDs) {
	for i := range topics {
		t := &topics[i]
		if t.Topic != "" {
			continue
		}
		if t.Topic = ids[t.TopicID]; t.Topic == "" {
			t.Partitions = nil
		}
	}
}

// remoteTopics are the target topics the groups use: their leaders and
// IDs.
type remoteTopics struct {
	tps  []topicParts
	ids  topicIDs
	errs map[topicPartition]error // partitions of topics whose metadata failed
}

// targetTopics asks the target for the metadata of the topics the groups
// use. A topic missing on the target is left out; the partitions of a
// topic whose metadata is refused (not authorized, for one) are in errs.
func targetTopics(ctx context.Context, cl *kgo.Client, topics []TopicLag, groups [][]partState) (remoteTopics, error) {
	// The partitions each topic needs, by index first: a map lookup per
	// topic instead of one per partition. -1: no group uses the topic.
	need := make([]int32, len(topics))
	for i := range need {
		need[i] = -1
	}
	for _, ps := range groups {
		for _, p := range ps {
			need[p.topic] = max(need[p.topic], p.partition+1, 0)
		}
	}
	want := map[string]int32{}
	for i, n := range need {
		if n >= 0 {
			want[topics[i].RemoteTopic] = max(want[topics[i].RemoteTopic], n)
		}
	}
	names := make([]string, 0, len(want))
	for t := range want {
		names = append(names, t)
	}
	sort.Strings(names)
	mresp, err := metadata(ctx, cl, names)
	if err != nil {
		return remoteTopics{}, err
	}
	r := remoteTopics{ids: topicIDs{}, errs: map[topicPartition]error{}}
	for _, t := range mresp.Topics {
		if t.Topic == nil {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			if !errors.Is(err, kerr.UnknownTopicOrPartition) {
				for p := range want[*t.Topic] {
					r.errs[topicPartition{*t.Topic, p}] = err
				}
			}
			continue
		}
		r.tps = append(r.tps, topicParts{*t.Topic, leadersOf(t, want[*t.Topic])})
		r.ids.add(t)
	}
	return r, nil
}

// ends lists the end offsets of the topics, by partition; partitions
// without one (missing or unknown) read 0, as a topic without records.
// errs holds the partitions whose end offset could not be read.
func (r remoteTopics) ends(ctx context.Context, cl *kgo.Client) (ends map[string][]int64, errs map[topicPartition]error) {
	ends = make(map[string][]int64, len(r.tps))
	for _, tp := range r.tps {
		ends[tp.topic] = make([]int64, len(tp.leaders))
	}
	errs = map[topicPartition]error{}
	list := func(tps []topicParts) {
		listOffsets(ctx, cl, tps, -1, func(t string, p int32, off int64) {
			if e := ends[t]; p >= 0 && int(p) < len(e) {
				e[p] = off
			}
		}, func(t string, p int32, err error) {
			errs[topicPartition{t, p}] = err
		})
	}
	list(r.tps)
	// A leader that moved since the metadata was read is asked again once.
	if moved := movedTopics(errs); len(moved) > 0 {
		if mresp, err := metadata(ctx, cl, moved); err == nil {
			var again []topicParts
			for _, t := range mresp.Topics {
				if t.Topic == nil || t.ErrorCode != 0 {
					continue
				}
				if e, ok := ends[*t.Topic]; ok {
					again = append(again, topicParts{*t.Topic, leadersOf(t, int32(len(e)))})
					for p := range e {
						delete(errs, topicPartition{*t.Topic, int32(p)})
					}
				}
			}
			list(again)
		}
	}
	for tp, err := range r.errs {
		errs[tp] = err
	}
	return ends, errs
}

// catchUpCheckpoints reads the checkpoints topic from where the last
// measurement stopped up to its current end, keeping the latest checkpoint
// per group and partition, as MM2's own checkpoint store does.
func (m *Measurer) catchUpCheckpoints(ctx context.Context, s *clusterState) error {
	mresp, err := metadata(ctx, s.tgtCl, []string{s.cpTopic})
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	var tps []topicParts
	for _, t := range mresp.Topics {
		if t.Topic != nil && *t.Topic == s.cpTopic && t.ErrorCode == 0 && len(t.Partitions) > 0 {
			tps = append(tps, topicParts{s.cpTopic, leadersOf(t, int32(len(t.Partitions)))})
		}
	}
	if len(tps) == 0 {
		return nil // MM2 has not written a checkpoint yet
	}
	// Between measurements the consumer is paused: a running one long-polls
	// the topic every FetchMaxWait, five requests a second for nothing. kgo
	// rewinds to the first record it had buffered and not handed out.
	s.cpCl.ResumeFetchTopics(s.cpTopic)
	defer s.cpCl.PauseFetchTopics(s.cpTopic)
	starts, ends := map[int32]int64{}, map[int32]int64{}
	var listErr error
	fail := func(_ string, p int32, err error) {
		if listErr == nil {
			listErr = fmt.Errorf("partition %d: %w", p, err)
		}
	}
	listOffsets(ctx, s.tgtCl, tps, -2, func(_ string, p int32, o int64) { starts[p] = o }, fail)
	listOffsets(ctx, s.tgtCl, tps, -1, func(_ string, p int32, o int64) { ends[p] = o }, fail)
	if listErr != nil {
		return listErr
	}
	behind := func() (int32, int64, int64, bool) {
		for p, end := range ends {
			next := max(s.cpNext[p], starts[p])
			if next < end {
				return p, next, end, true
			}
		}
		return 0, 0, 0, false
	}
	var decodeErrs int
	for {
		p, next, end, ok := behind()
		if !ok {
			break
		}
		fs := s.cpCl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("partition %d at offset %d of %d: %w", p, next, end, err)
		}
		var fatal error
		fs.EachError(func(_ string, _ int32, err error) {
			if fatal == nil && !kerr.IsRetriable(err) && !errors.Is(err, kerr.UnknownTopicOrPartition) {
				fatal = err
			}
		})
		if fatal != nil {
			return fatal
		}
		fs.EachRecord(func(r *kgo.Record) {
			s.cpNext[r.Partition] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			if r.Value == nil {
				// A tombstone deletes the group's checkpoint.
				if g, t, p, err := mm2.DecodeCheckpointKey(r.Key); err == nil {
					s.checkpoints.delete(g, t, p)
				}
				return
			}
			g, t, p, up, down, err := mm2.DecodeCheckpointInPlace(r.Key, r.Value)
			if err != nil {
				decodeErrs++
				return
			}
			s.checkpoints.set(g, t, p, cpVal{up, down})
		})
	}
	if decodeErrs > 0 {
		m.log.Warn("skipped records that are not MM2 checkpoints", "topic", s.cpTopic, "records", decodeErrs)
	}
	return nil
}

// ApplyResets commits a reset plan on the target. Each group must be
// empty there (no member that would overwrite or race the commit); a
// group with members is refused as a whole and nothing of it is written.
// It uses the clients of the latest measurement.
func (m *Measurer) ApplyResets(ctx context.Context, plan []Reset) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return errors.New("apply reset: no measurement yet")
	}
	s := m.state
	byGroup := map[string]kadm.Offsets{}
	for _, r := range plan {
		os := byGroup[r.Group]
		os.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.To, LeaderEpoch: -1})
		byGroup[r.Group] = os
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	described, err := s.tgtAdm.DescribeGroups(ctx, groups...)
	if err != nil {
		return s.tgt.Wrap("describe groups", err)
	}
	for _, g := range groups {
		d, ok := described[g]
		if ok && d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			return s.tgt.Wrap("describe group "+g, d.Err)
		}
		if ok && d.Err == nil && d.State != "Empty" && d.State != "Dead" || len(d.Members) > 0 {
			return fmt.Errorf("apply reset: group %s is %s with %d members on the target %q: stop its consumers first", g, d.State, len(d.Members), s.tgt.Alias)
		}
	}
	for _, g := range groups {
		if err := s.tgtAdm.CommitAllOffsets(ctx, g, byGroup[g]); err != nil {
			return s.tgt.Wrap("commit offsets of group "+g, err)
		}
	}
	return nil
}

// leadersOf returns the leaders of a topic's first n partitions (-1 where
// unknown).
func leadersOf(t kmsg.MetadataResponseTopic, n int32) []int32 {
	n = min(n, int32(len(t.Partitions)))
	ls := make([]int32, n)
	for i := range ls {
		ls[i] = -1
	}
	for _, p := range t.Partitions {
		if p.Partition >= 0 && p.Partition < n {
			ls[p.Partition] = p.Leader
		}
	}
	return ls
}
