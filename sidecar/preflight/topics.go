package preflight

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// topicSelection: each pattern of `topics` matches some source topic, the
// selection is not empty, and no internal or heartbeats topic is caught by
// the patterns.
func (p *run) topicSelection(context.Context) Result {
	if r, ok := unreachable(CheckTopics, p.src); ok {
		return r
	}
	r := Result{Check: CheckTopics, Status: Pass}
	all := make([]string, 0, len(p.src.topics))
	for n := range p.src.topics {
		all = append(all, n)
	}
	sort.Strings(all)
	var empty []string
	for _, pat := range strings.Split(setting(p.mig.msc.Config, "topics", ".*"), ",") {
		if pat = strings.TrimSpace(pat); pat == "" {
			continue
		}
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			// TopicFilter compiled the whole list already; a part alone
			// that does not compile is matched as part of it.
			continue
		}
		hit := false
		for _, n := range all {
			if re.MatchString(n) {
				hit = true
				break
			}
		}
		if !hit {
			empty = append(empty, pat)
		}
	}
	var caught []string
	for _, n := range all {
		if p.mig.topics.Match(n) && (p.mig.policy.IsInternal(n) || strings.HasSuffix(n, "heartbeats")) {
			caught = append(caught, n)
		}
	}
	var found []string
	switch {
	case len(empty) > 0:
		r.Status = Fail
		found = append(found, fmt.Sprintf("topics pattern %s matches no source topic", quoteList(empty)))
		r.Fix = fmt.Sprintf("correct %s's \"topics\" in %s", p.mig.msc.Name, p.mig.msc.File)
	case len(p.selected) == 0:
		r.Status = Fail
		found = append(found, "no source topic selected")
		r.Fix = fmt.Sprintf("correct %s's \"topics\" and \"topics.exclude\" in %s", p.mig.msc.Name, p.mig.msc.File)
	case len(caught) > 0:
		r.Status = Warn
		r.Fix = "add them to \"topics.exclude\" (internal topics are never copied; heartbeats are copied to every target)"
	}
	if len(caught) > 0 {
		found = append(found, "internal or heartbeats topics caught: "+strings.Join(trim(caught, 10), ", "))
	}
	parts := make([]string, len(p.selected))
	for i, t := range p.selected {
		parts[i] = fmt.Sprintf("%s(%d)", t.name, len(t.leaders))
	}
	found = append(found, fmt.Sprintf("%d topics, %d partitions selected: %s", len(p.selected), p.selectedPartitions(), strings.Join(trim(parts, 10), " ")))
	r.Found = strings.Join(found, "; ")
	return r
}

// logOverhead is the offset and size prefix of a record batch (Kafka's
// Records.LOG_OVERHEAD): message.max.bytes counts it, max.request.size
// does not, which is why their defaults differ by exactly this much.
const logOverhead = 12

// Kafka's defaults.
const (
	defaultMaxMessageBytes = 1048588
	defaultMaxRequestSize  = 1048576
)

// messageSize: no selected topic accepts records larger than the target
// (broker or existing topic) or the Connect worker's producer accepts.
func (p *run) messageSize(context.Context) Result {
	if r, ok := unreachable(CheckMessageSize, p.src, p.tgt); ok {
		return r
	}
	r := Result{Check: CheckMessageSize, Status: Pass}
	if p.srcConfigsErr != nil || p.tgtBrokerErr != nil || p.tgtConfigsErr != nil {
		r.Status, r.Found = Warn, fmt.Sprintf("configs not readable: %v", firstErr(p.srcConfigsErr, p.tgtBrokerErr, p.tgtConfigsErr))
		r.Fix = "grant DESCRIBE_CONFIGS on the topics and the target cluster"
		return r
	}
	// MM2 in Connect produces with the worker's producer: its
	// producer.max.request.size, or the connector's override.
	reqKey, reqSize := "max.request.size (default)", int64(defaultMaxRequestSize)
	if v, ok := p.in.Worker["producer.max.request.size"]; ok {
		reqKey, reqSize = "worker producer.max.request.size", atoi(v, reqSize)
	}
	if v, ok := p.mig.msc.Config["producer.override.max.request.size"]; ok {
		reqKey, reqSize = "producer.override.max.request.size", atoi(v, reqSize)
	}
	broker := atoi(p.tgtBroker["message.max.bytes"], defaultMaxMessageBytes)
	var bad []string
	var need, largest int64
	for _, t := range p.selected {
		src := atoi(p.srcConfigs[t.name]["max.message.bytes"], defaultMaxMessageBytes)
		largest = max(largest, src)
		limit, what := broker, "target message.max.bytes"
		if cfg, ok := p.tgtConfigs[t.remote]; ok {
			limit, what = atoi(cfg["max.message.bytes"], broker), "target topic "+t.remote+" max.message.bytes"
		}
		if reqSize+logOverhead < limit {
			limit, what = reqSize+logOverhead, reqKey
		}
		if src > limit {
			bad = append(bad, fmt.Sprintf("%s allows %d bytes, %s %d", t.name, src, what, limit))
			need = max(need, src)
		}
	}
	if len(bad) > 0 {
		r.Status = Fail
		r.Found = fmt.Sprintf("%d topics accept records the target refuses: %s", len(bad), strings.Join(trim(bad, 5), "; "))
		r.Fix = fmt.Sprintf("raise the target's message.max.bytes (and existing topics' max.message.bytes) to %d and producer.override.max.request.size to %d, or lower the source topics' max.message.bytes", need, need-logOverhead)
		return r
	}
	r.Found = fmt.Sprintf("largest source max.message.bytes %d; target message.max.bytes %d, %s %d", largest, broker, reqKey, reqSize)
	return r
}

// targetTopics: a target topic that already exists has at least the
// source's partitions, the same cleanup.policy, and no data.
func (p *run) targetTopics(ctx context.Context) Result {
	if r, ok := unreachable(CheckTargetTopics, p.src, p.tgt); ok {
		return r
	}
	r := Result{Check: CheckTargetTopics, Status: Pass}
	var existing []string
	var fewer, policy []string
	for _, t := range p.selected {
		tgtParts := p.tgt.partitions(t.remote)
		if tgtParts == 0 {
			continue
		}
		existing = append(existing, t.remote)
		if tgtParts < len(t.leaders) {
			fewer = append(fewer, fmt.Sprintf("%s %d<%d", t.remote, tgtParts, len(t.leaders)))
		}
		sp, tp := p.srcConfigs[t.name]["cleanup.policy"], p.tgtConfigs[t.remote]["cleanup.policy"]
		if sp != "" && tp != "" && sp != tp {
			policy = append(policy, fmt.Sprintf("%s %s vs source %s", t.remote, tp, sp))
		}
	}
	if len(existing) == 0 {
		r.Found = fmt.Sprintf("none of the %d target topics exists yet", len(p.selected))
		return r
	}
	var withData []string
	starts, err := p.tgt.adm.ListStartOffsets(ctx, existing...)
	if err == nil {
		var ends map[string]map[int32]int64
		if e, err2 := p.tgt.adm.ListEndOffsets(ctx, existing...); err2 == nil {
			ends = map[string]map[int32]int64{}
			e.Each(func(o kadm.ListedOffset) {
				if ends[o.Topic] == nil {
					ends[o.Topic] = map[int32]int64{}
				}
				ends[o.Topic][o.Partition] = o.Offset
			})
		} else {
			err = err2
		}
		records := map[string]int64{}
		starts.Each(func(o kadm.ListedOffset) {
			if end, ok := ends[o.Topic][o.Partition]; ok && o.Err == nil && end > o.Offset {
				records[o.Topic] += end - o.Offset
			}
		})
		for _, n := range existing {
			if records[n] > 0 {
				withData = append(withData, fmt.Sprintf("%s (%d records)", n, records[n]))
			}
		}
	}
	var found, fixes []string
	if len(policy) > 0 {
		r.Status = Fail
		found = append(found, "cleanup.policy differs: "+strings.Join(trim(policy, 5), ", "))
		fixes = append(fixes, "set the target topics' cleanup.policy to the source's or delete them")
	}
	if len(fewer) > 0 {
		r.Status = worse(r.Status, Warn)
		found = append(found, "fewer partitions than the source: "+strings.Join(trim(fewer, 5), ", "))
		fixes = append(fixes, "let MM2 add partitions (it needs ALTER) or recreate the topics with the source's count")
	}
	if len(withData) > 0 {
		r.Status = worse(r.Status, Warn)
		found = append(found, "already hold data: "+strings.Join(trim(withData, 5), ", "))
		fixes = append(fixes, "empty or delete them unless the data is meant to stay")
	}
	if err != nil {
		r.Status = worse(r.Status, Warn)
		found = append(found, fmt.Sprintf("offsets not readable: %v", err))
	}
	found = append(found, fmt.Sprintf("%d of %d target topics exist", len(existing), len(p.selected)))
	r.Found, r.Fix = strings.Join(found, "; "), strings.Join(fixes, "; ")
	return r
}

func atoi(s string, def int64) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return def
	}
	return n
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// trim keeps the first n items and says how many more there were.
func trim(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(items[:n:n], fmt.Sprintf("+%d more", len(items)-n))
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
