package preflight

import (
	"context"
	"fmt"
	"strings"

	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// internalTopic is a topic Connect or MM2 creates for itself.
type internalTopic struct {
	name     string
	onTarget bool   // else on the source cluster
	rfKey    string // the setting that gives its replication factor
	rf       int64  // -1: the broker's default.replication.factor
}

// internalTopics lists the Connect worker's topics (when its properties
// are known; the workers of this toolkit run against the target) and
// MM2's offset-syncs, checkpoints and heartbeats topics.
func (p *run) internalTopics() []internalTopic {
	var out []internalTopic
	w := p.in.Worker
	if w != nil {
		for _, k := range []struct{ topic, rf string }{
			{"config.storage.topic", "config.storage.replication.factor"},
			{"offset.storage.topic", "offset.storage.replication.factor"},
			{"status.storage.topic", "status.storage.replication.factor"},
		} {
			if name := strings.TrimSpace(w[k.topic]); name != "" {
				out = append(out, internalTopic{name: name, onTarget: true, rfKey: "worker " + k.rf, rf: atoi(w[k.rf], 3)})
			}
		}
	}
	msc := p.mig.msc.Config
	sep := p.mig.policy.InternalSeparator
	syncs := "mm2-offset-syncs" + sep + p.mig.tgt.Alias + sep + "internal"
	out = append(out, internalTopic{name: syncs, onTarget: setting(msc, "offset-syncs.topic.location", "source") == "target",
		rfKey: "offset-syncs.topic.replication.factor", rf: atoi(setting(msc, "offset-syncs.topic.replication.factor", "3"), 3)})
	if cpc := p.mig.cpc; cpc != nil {
		out = append(out, internalTopic{name: p.mig.policy.CheckpointsTopic(p.mig.src.Alias), onTarget: true,
			rfKey: "checkpoints.topic.replication.factor", rf: atoi(setting(cpc.Config, "checkpoints.topic.replication.factor", "3"), 3)})
	}
	for _, c := range p.mig.mirror {
		if mm2.IsConnectorClass(c.Config["connector.class"], mm2.HeartbeatConnectorClass) {
			out = append(out, internalTopic{name: "heartbeats", onTarget: true,
				rfKey: "heartbeats.topic.replication.factor", rf: atoi(setting(c.Config, "heartbeats.topic.replication.factor", "3"), 3)})
			break
		}
	}
	return out
}

func (p *run) clusterOf(it internalTopic) *side {
	if it.onTarget {
		return p.tgt
	}
	return p.src
}

// internalTopicsCheck: each internal topic's replication factor is one the
// cluster can meet, at least its min.insync.replicas, and an existing one
// is compacted.
func (p *run) internalTopicsCheck(ctx context.Context) Result {
	if r, ok := unreachable(CheckInternal, p.src, p.tgt); ok {
		return r
	}
	r := Result{Check: CheckInternal, Status: Pass}
	its := p.internalTopics()
	var srcCfgs map[string]map[string]string
	var onSource []string
	for _, it := range its {
		if _, ok := p.src.topics[it.name]; ok && !it.onTarget {
			onSource = append(onSource, it.name)
		}
	}
	srcCfgs, srcErr := p.src.topicConfigs(ctx, onSource)
	var srcBroker map[string]string
	if len(onSource) < len(its) {
		srcBroker, _ = p.src.brokerConfigs(ctx)
	}
	var bad, ok []string
	for _, it := range its {
		s, cfgs, broker := p.tgt, p.tgtConfigs, p.tgtBroker
		if !it.onTarget {
			s, cfgs, broker = p.src, srcCfgs, srcBroker
		}
		rf := it.rf
		if rf == -1 {
			rf = atoi(broker["default.replication.factor"], 1)
		}
		minISR := atoi(broker["min.insync.replicas"], 1)
		if cfg, exists := cfgs[it.name]; exists {
			minISR = atoi(cfg["min.insync.replicas"], minISR)
			if cp := cfg["cleanup.policy"]; cp != "compact" {
				bad = append(bad, fmt.Sprintf("%s on %s has cleanup.policy=%s, must be compact", it.name, s.c.Role, cp))
			}
		}
		switch {
		case s.partitions(it.name) == 0 && rf > int64(len(s.brokers)):
			bad = append(bad, fmt.Sprintf("%s: %s=%d but the %s cluster has %d brokers", it.name, it.rfKey, rf, s.c.Role, len(s.brokers)))
		case rf < minISR:
			bad = append(bad, fmt.Sprintf("%s: %s=%d is below min.insync.replicas=%d: writes with acks=all fail", it.name, it.rfKey, rf, minISR))
		default:
			ok = append(ok, fmt.Sprintf("%s(rf %d)", it.name, rf))
		}
	}
	if len(bad) > 0 {
		r.Status = Fail
		r.Found = strings.Join(bad, "; ")
		r.Fix = "set the replication factors to at most the broker count and at least min.insync.replicas, and recreate non-compacted internal topics compacted"
		return r
	}
	r.Found = strings.Join(ok, " ")
	if p.in.Worker == nil {
		r.Found += "; Connect's own topics not checked (no worker properties)"
	}
	if srcErr != nil {
		r.Status, r.Fix = Warn, "grant DESCRIBE_CONFIGS on the source's internal topics"
		r.Found += fmt.Sprintf("; source configs not readable: %v", srcErr)
	}
	return r
}

// sizing: tasks.max against the selected partitions and the service's
// maximum task count.
func (p *run) sizing(context.Context) Result {
	r := Result{Check: CheckSizing, Status: Pass}
	tasks := atoi(setting(p.mig.msc.Config, "tasks.max", "1"), 1)
	parts := int64(p.selectedPartitions())
	var found, fixes []string
	found = append(found, fmt.Sprintf("%s tasks.max=%d, %d selected partitions", p.mig.msc.Name, tasks, parts))
	if p.src.err == nil && tasks > parts {
		r.Status = Warn
		found = append(found, fmt.Sprintf("%d tasks would get no partition", tasks-parts))
		fixes = append(fixes, fmt.Sprintf("lower tasks.max to %d", parts))
	}
	if w := int64(p.in.MaxWorkers); w > 0 {
		found = append(found, fmt.Sprintf("up to %d workers", w))
		if running := min(tasks, max(parts, 1)); running < w {
			r.Status = Warn
			found = append(found, fmt.Sprintf("%d workers would run no MirrorSourceConnector task", w-running))
			fixes = append(fixes, fmt.Sprintf("raise tasks.max to at least %d or lower the service's maximum task count", w))
		}
	} else {
		found = append(found, "maximum workers unknown (--max-workers)")
	}
	r.Found, r.Fix = strings.Join(found, "; "), strings.Join(fixes, "; ")
	return r
}
