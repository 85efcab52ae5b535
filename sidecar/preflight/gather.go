package preflight

import (
	"context"
	"sort"
	"strings"
	"sync"
)

// gather reads what several checks share: both clusters' metadata, the
// selected topics, their configs on both sides and the target's broker
// configs. Each read that fails leaves its error for the checks that
// need it.
func (p *run) gather(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range []*side{p.src, p.tgt} {
		wg.Add(1)
		go func() { defer wg.Done(); s.load(ctx) }()
	}
	wg.Wait()
	if p.src.err != nil {
		return
	}
	names := make([]string, 0, len(p.src.topics))
	for n := range p.src.topics {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if p.replicates(n) {
			t := p.src.topics[n]
			t.remote = p.mig.policy.RemoteTopic(p.mig.src.Alias, n)
			p.selected = append(p.selected, *t)
		}
	}
	sel := make([]string, len(p.selected))
	for i, t := range p.selected {
		sel[i] = t.name
	}
	p.srcConfigs, p.srcConfigsErr = p.src.topicConfigs(ctx, sel)
	if p.tgt.err != nil {
		return
	}
	p.tgtBroker, p.tgtBrokerErr = p.tgt.brokerConfigs(ctx)
	var existing []string
	for _, t := range p.selected {
		if _, ok := p.tgt.topics[t.remote]; ok {
			existing = append(existing, t.remote)
		}
	}
	for _, it := range p.internalTopics() {
		if _, ok := p.clusterOf(it).topics[it.name]; ok && it.onTarget {
			existing = append(existing, it.name)
		}
	}
	p.tgtConfigs, p.tgtConfigsErr = p.tgt.topicConfigs(ctx, existing)
}

// replicates is MirrorSourceConnector.shouldReplicateTopic: selected by the
// topic filter, not internal, and not a topic that came from the target
// (a cycle).
func (p *run) replicates(topic string) bool {
	if !p.mig.topics.Match(topic) || p.mig.policy.IsInternal(topic) {
		return false
	}
	return !p.isCycle(topic)
}

// isCycle reports a topic that is the target's own, replicated here
// before: under the default policy its name starts with the target alias.
func (p *run) isCycle(topic string) bool {
	if p.mig.policy.Identity {
		return false
	}
	return strings.HasPrefix(topic, p.mig.tgt.Alias+p.mig.policy.Separator)
}

// selectedPartitions is the number of partitions MM2 will replicate.
func (p *run) selectedPartitions() int {
	n := 0
	for _, t := range p.selected {
		n += len(t.leaders)
	}
	return n
}
