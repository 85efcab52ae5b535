package preflight

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// certWarning is how close to expiry a broker certificate turns the check
// to WARN, as bootstrap warns about the worker's own stores.
const certWarning = 30 * 24 * time.Hour

// reach: each cluster answered a metadata request (so the principal
// authenticated) and its TLS chain, when there is one, is not expiring.
func (p *run) reach(context.Context) Result {
	r := Result{Check: CheckReach, Status: Pass}
	var found, fixes []string
	for _, s := range []*side{p.src, p.tgt} {
		if s.err != nil {
			r.Status = Fail
			found = append(found, fmt.Sprintf("%s: %v", s.c, s.err))
			fixes = append(fixes, fmt.Sprintf("check %s and the credentials in the MirrorSourceConnector's %s.cluster.* settings", strings.Join(s.c.BootstrapServers, ","), s.c.Role))
			continue
		}
		desc := fmt.Sprintf("%s %q: %d brokers", s.c.Role, s.c.Alias, len(s.brokers))
		if s.c.SASLMechanism != "" {
			desc += ", authenticated with " + s.c.SASLMechanism
		}
		if cert, ok := s.certs.earliest(); ok {
			left := cert.NotAfter.Sub(p.in.Now)
			desc += fmt.Sprintf(", TLS chain trusted, first expiry %s (%s)", cert.NotAfter.UTC().Format(time.DateOnly), cert.Subject.CommonName)
			if left < certWarning {
				r.Status = worse(r.Status, Warn)
				fixes = append(fixes, fmt.Sprintf("renew the %s cluster's certificate %q before %s", s.c.Role, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly)))
			}
		}
		found = append(found, desc)
	}
	r.Found, r.Fix = strings.Join(found, "; "), strings.Join(fixes, "; ")
	return r
}

// unreachable is the row of a check that needs a cluster it could not read.
func unreachable(check string, sides ...*side) (Result, bool) {
	for _, s := range sides {
		if s.err != nil {
			return Result{Check: check, Status: Fail, Found: fmt.Sprintf("not checked: the %s cluster is unreachable", s.c.Role), Fix: "fix the reach check first"}, true
		}
	}
	return Result{}, false
}

// permissions: the operations MM2 needs on each side, from the authorized
// operations brokers report in metadata and DescribeCluster (KIP-430),
// each missing one named. A broker that does not report them (an
// authorizer-less cluster allows everything) is a WARN, not a guess.
func (p *run) permissions(context.Context) Result {
	if r, ok := unreachable(CheckPermissions, p.src, p.tgt); ok {
		return r
	}
	r := Result{Check: CheckPermissions, Status: Pass}
	var missing []string
	unknown := false
	need := func(role, resource string, ops int32, want ...kadm.ACLOperation) {
		if ops == opsUnknown {
			unknown = true
			return
		}
		var lack []string
		for _, op := range want {
			if ops&(1<<int32(op)) == 0 && ops&(1<<int32(kadm.OpAll)) == 0 {
				lack = append(lack, op.String())
			}
		}
		if len(lack) > 0 {
			missing = append(missing, fmt.Sprintf("%s %s: %s", role, resource, strings.Join(lack, ",")))
		}
	}
	syncConfigs := setting(p.mig.msc.Config, "sync.topic.configs.enabled", "true") != "false"
	srcTopicOps := []kadm.ACLOperation{kadm.OpRead, kadm.OpDescribe}
	if syncConfigs {
		srcTopicOps = append(srcTopicOps, kadm.OpDescribeConfigs)
	}
	for _, t := range p.selected {
		need("source", "topic "+t.name, t.ops, srcTopicOps...)
	}
	tgtTopicOps := []kadm.ACLOperation{kadm.OpWrite, kadm.OpDescribe, kadm.OpAlter}
	if syncConfigs {
		tgtTopicOps = append(tgtTopicOps, kadm.OpDescribeConfigs, kadm.OpAlterConfigs)
	}
	toCreate := 0
	for _, t := range p.selected {
		if tt, ok := p.tgt.topics[t.remote]; ok {
			need("target", "topic "+t.remote, tt.ops, tgtTopicOps...)
		} else {
			toCreate++
		}
	}
	if toCreate > 0 {
		// A prefixed CREATE on topics would also do; metadata cannot show
		// it, so a missing cluster CREATE is named but only warned about.
		if p.tgt.clusterOps == opsUnknown {
			unknown = true
		} else if p.tgt.clusterOps&(1<<int32(kadm.OpCreate)) == 0 && p.tgt.clusterOps&(1<<int32(kadm.OpAll)) == 0 {
			r.Status = Warn
			r.Fix = "grant CREATE on the target cluster, or CREATE on the topics' prefix"
			missing = append(missing, fmt.Sprintf("target cluster: CREATE (%d topics to create; fine if a prefixed topic CREATE ACL exists)", toCreate))
		}
	}
	if p.mig.cpc != nil {
		need("source", "cluster", p.src.clusterOps, kadm.OpDescribe)
	}
	n := len(missing)
	if n > 0 && (r.Status != Warn || n > 1) {
		r.Status, r.Fix = Fail, "grant the operations named to the principals of the MirrorSourceConnector's source.cluster.* and target.cluster.* settings"
	}
	switch {
	case n > 0:
		if n > 10 {
			missing = append(missing[:10], fmt.Sprintf("+%d more", n-10))
		}
		r.Found = "missing: " + strings.Join(missing, "; ")
	case unknown:
		r.Status, r.Found = Warn, "a broker did not report authorized operations (Kafka < 2.3 or no answer to DescribeCluster); not checked"
		r.Fix = "check the ACLs by hand with kafka-acls --list"
	default:
		r.Found = fmt.Sprintf("READ/DESCRIBE on %d source topics, WRITE/ALTER on the target, all authorized", len(p.selected))
	}
	return r
}
