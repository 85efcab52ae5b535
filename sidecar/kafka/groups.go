package kafka

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groups judges every consumer group the checkpoint connector covers.
func (m *Measurer) groups(ctx context.Context, s *clusterState, topics []TopicLag) ([]GroupReadiness, error) {
	listed, err := s.srcAdm.ListGroups(ctx)
	if err != nil {
		return nil, clusterErr(s.src, "list groups", err)
	}
	var names []string
	for name := range listed {
		if s.groups.Match(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	selected := make(map[string]*TopicLag, len(topics))
	for i := range topics {
		if s.cpTopics.Match(topics[i].Topic) {
			selected[topics[i].Topic] = &topics[i]
		}
	}

	out := make([]GroupReadiness, len(names))
	byName := make(map[string]int, len(names))
	for i, name := range names {
		out[i].Group = name
		byName[name] = i
	}
	err = eachGroupOffset(ctx, s.srcCl, names, func(group, topic string, p int32, at int64) {
		t, ok := selected[topic]
		if !ok || at < 0 {
			return
		}
		g := &out[byName[group]]
		g.Partitions = append(g.Partitions, GroupPartition{
			Topic: t.Topic, RemoteTopic: t.RemoteTopic, Partition: p, SourceOffset: at,
			Upstream: -1, Downstream: -1, TargetOffset: -1,
		})
	})
	if err != nil {
		return nil, clusterErr(s.src, "fetch group offsets", err)
	}
	// Only groups with offsets MM2 would checkpoint are covered.
	kept := out[:0]
	for _, g := range out {
		if len(g.Partitions) == 0 {
			continue
		}
		sort.Slice(g.Partitions, func(i, j int) bool {
			a, b := g.Partitions[i], g.Partitions[j]
			return a.Topic < b.Topic || a.Topic == b.Topic && a.Partition < b.Partition
		})
		kept = append(kept, g)
	}
	out = kept
	if len(out) == 0 {
		return nil, nil
	}

	if err := m.catchUpCheckpoints(ctx, s); err != nil {
		return nil, clusterErr(s.tgt, "read "+s.cpTopic, err)
	}
	groupNames := make([]string, len(out))
	clear(byName)
	for i := range out {
		groupNames[i] = out[i].Group
		byName[out[i].Group] = i
	}
	upstream := make(map[string]string, len(topics))
	for _, t := range topics {
		upstream[t.RemoteTopic] = t.Topic
	}
	err = eachGroupOffset(ctx, s.tgtCl, groupNames, func(group, remote string, p int32, at int64) {
		topic, ok := upstream[remote]
		if !ok || at < 0 {
			return
		}
		parts := out[byName[group]].Partitions
		i := sort.Search(len(parts), func(i int) bool {
			return parts[i].Topic > topic || parts[i].Topic == topic && parts[i].Partition >= p
		})
		if i < len(parts) && parts[i].Topic == topic && parts[i].Partition == p {
			parts[i].TargetOffset = at
		}
	})
	if err != nil {
		return nil, clusterErr(s.tgt, "fetch group offsets", err)
	}
	ends, err := targetEnds(ctx, s.tgtCl, out)
	if err != nil {
		return nil, clusterErr(s.tgt, "list end offsets", err)
	}
	for i := range out {
		g := &out[i]
		for j := range g.Partitions {
			p := &g.Partitions[j]
			if cp, ok := s.checkpoints[cpKey{g.Group, p.Topic, p.Partition}]; ok {
				p.HasCheckpoint, p.Upstream, p.Downstream = true, cp.upstream, cp.downstream
			}
			p.TargetEnd = max(ends[p.RemoteTopic][p.Partition], 0)
		}
		g.judge()
	}
	return out, nil
}

// eachGroupOffset fetches the committed offsets of many groups with one
// OffsetFetch request that kgo splits per group coordinator, and calls fn
// for each. A group the cluster does not know has no offsets.
func eachGroupOffset(ctx context.Context, cl *kgo.Client, groups []string, fn func(group, topic string, partition int32, at int64)) error {
	if len(groups) == 0 {
		return nil
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Groups = make([]kmsg.OffsetFetchRequestGroup, len(groups))
	for i, g := range groups {
		req.Groups[i].Default()
		req.Groups[i].Group = g
	}
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return shard.Err
		}
		resp := shard.Resp.(*kmsg.OffsetFetchResponse)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return err
		}
		for _, g := range resp.Groups {
			if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
				if errors.Is(err, kerr.GroupIDNotFound) {
					continue
				}
				return fmt.Errorf("group %s: %w", g.Group, err)
			}
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 {
						fn(g.Group, t.Topic, p.Partition, p.Offset)
					}
				}
			}
		}
	}
	return nil
}

// targetEnds lists the end offsets of the target topics the groups use.
// A topic missing on the target has no records: its end is 0.
func targetEnds(ctx context.Context, cl *kgo.Client, groups []GroupReadiness) (map[string]map[int32]int64, error) {
	want := map[string]int32{}
	for _, g := range groups {
		for _, p := range g.Partitions {
			want[p.RemoteTopic] = max(want[p.RemoteTopic], p.Partition+1)
		}
	}
	names := make([]string, 0, len(want))
	for t := range want {
		names = append(names, t)
	}
	sort.Strings(names)
	mresp, err := metadata(ctx, cl, names)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	ends := map[string]map[int32]int64{}
	var tps []topicParts
	for _, t := range mresp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 {
			continue
		}
		tps = append(tps, topicParts{*t.Topic, leadersOf(t, want[*t.Topic])})
		ends[*t.Topic] = make(map[int32]int64, want[*t.Topic])
	}
	err = listOffsets(ctx, cl, tps, -1, func(t string, p int32, off int64) {
		if m, ok := ends[t]; ok {
			m[p] = off
		}
	})
	return ends, err
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
	starts, ends := map[int32]int64{}, map[int32]int64{}
	if err := listOffsets(ctx, s.tgtCl, tps, -2, func(_ string, p int32, o int64) { starts[p] = o }); err != nil {
		return err
	}
	if err := listOffsets(ctx, s.tgtCl, tps, -1, func(_ string, p int32, o int64) { ends[p] = o }); err != nil {
		return err
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
				if c, err := decodeCheckpointKey(r.Key); err == nil {
					delete(s.checkpoints, cpKey{c.Group, c.Topic, c.Partition})
				}
				return
			}
			cp, err := DecodeCheckpoint(r.Key, r.Value)
			if err != nil {
				decodeErrs++
				return
			}
			s.checkpoints[cpKey{s.intern(cp.Group), s.intern(cp.Topic), cp.Partition}] = cpVal{cp.Upstream, cp.Downstream}
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
		return clusterErr(s.tgt, "describe groups", err)
	}
	for _, g := range groups {
		d, ok := described[g]
		if ok && d.Err != nil && !errors.Is(d.Err, kerr.GroupIDNotFound) {
			return clusterErr(s.tgt, "describe group "+g, d.Err)
		}
		if ok && d.Err == nil && d.State != "Empty" && d.State != "Dead" || len(d.Members) > 0 {
			return fmt.Errorf("apply reset: group %s is %s with %d members on the target %q: stop its consumers first", g, d.State, len(d.Members), s.tgt.Alias)
		}
	}
	for _, g := range groups {
		if err := s.tgtAdm.CommitAllOffsets(ctx, g, byGroup[g]); err != nil {
			return clusterErr(s.tgt, "commit offsets of group "+g, err)
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
