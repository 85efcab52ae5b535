package preflight

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// replicationPolicy: every MM2 connector of the migration names topics the
// same way, and under IdentityReplicationPolicy no topic would be copied
// back to where it came from.
func (p *run) replicationPolicy(context.Context) Result {
	r := Result{Check: CheckPolicy, Status: Pass}
	type policyOf struct{ class, sep string }
	norm := func(cfg map[string]string) policyOf {
		cls := setting(cfg, "replication.policy.class", "DefaultReplicationPolicy")
		cls = cls[strings.LastIndex(cls, ".")+1:]
		return policyOf{class: cls, sep: setting(cfg, "replication.policy.separator", ".")}
	}
	byPolicy := map[policyOf][]string{}
	for _, c := range p.mig.mirror {
		pol := norm(c.Config)
		byPolicy[pol] = append(byPolicy[pol], c.Name)
	}
	if len(byPolicy) > 1 {
		var parts []string
		for pol, names := range byPolicy {
			sort.Strings(names)
			parts = append(parts, fmt.Sprintf("%s separator %q: %s", pol.class, pol.sep, strings.Join(names, ", ")))
		}
		sort.Strings(parts)
		r.Status = Fail
		r.Found = "connectors differ: " + strings.Join(parts, "; ")
		r.Fix = "set the same replication.policy.class and replication.policy.separator in every MM2 connector file"
		return r
	}
	mine := norm(p.mig.msc.Config)
	r.Found = fmt.Sprintf("%d MM2 connectors use %s with separator %q", len(p.mig.mirror), mine.class, mine.sep)
	if !p.mig.policy.Identity {
		return r
	}
	// A loop: the same cluster on both sides, or a connector of the
	// opposite direction selecting a topic this one copies.
	if strings.Join(p.mig.src.BootstrapServers, ",") == strings.Join(p.mig.tgt.BootstrapServers, ",") {
		r.Status, r.Found = Fail, fmt.Sprintf("IdentityReplicationPolicy with source and target both %s: every topic would be copied onto itself", strings.Join(p.mig.src.BootstrapServers, ","))
		r.Fix = "point target.cluster.bootstrap.servers at the target cluster"
		return r
	}
	var loops []string
	for _, c := range p.mig.mirror {
		if !mm2.IsConnectorClass(c.Config["connector.class"], mm2.SourceConnectorClass) || alias(c.Config, kafka.Source) != p.mig.tgt.Alias || alias(c.Config, kafka.Target) != p.mig.src.Alias {
			continue
		}
		back, err := mm2.TopicFilter(c.Config)
		if err != nil {
			continue
		}
		for _, t := range p.selected {
			if back.Match(t.remote) {
				loops = append(loops, fmt.Sprintf("%s (back by %s)", t.name, c.Name))
			}
		}
	}
	if len(loops) > 0 {
		r.Status = Fail
		r.Found = fmt.Sprintf("IdentityReplicationPolicy and a connector the other way: %d topics would loop: %s", len(loops), strings.Join(trim(loops, 5), ", "))
		r.Fix = "exclude these topics from one direction's \"topics\", or use DefaultReplicationPolicy"
	}
	return r
}
