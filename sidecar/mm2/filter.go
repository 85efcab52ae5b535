package mm2

import (
	"fmt"
	"regexp"
	"strings"
)

// Defaults of Apache Kafka's DefaultTopicFilter and DefaultGroupFilter.
const (
	defaultTopicsInclude = ".*"
	defaultTopicsExclude = `.*[\-\.]internal, .*\.replica, __.*`
	defaultGroupsInclude = ".*"
	defaultGroupsExclude = "console-consumer-.*, connect-.*, __.*"
)

// Filter is an MM2 include/exclude pair of regex lists: a name is selected
// when it fully matches an include pattern and no exclude pattern.
type Filter struct {
	include, exclude *regexp.Regexp // nil matches nothing, as in MM2
}

// Match reports whether name is selected.
func (f Filter) Match(name string) bool {
	return f.include != nil && f.include.MatchString(name) && (f.exclude == nil || !f.exclude.MatchString(name))
}

// TopicFilter reads "topics" and "topics.exclude" (or the older
// "topics.blacklist") from a connector config, with MM2's defaults.
func TopicFilter(conn map[string]string) (Filter, error) {
	return newFilter(conn, "topics", defaultTopicsInclude, []string{"topics.exclude", "topics.blacklist"}, defaultTopicsExclude)
}

// GroupFilter reads "groups" and "groups.exclude" (or "groups.blacklist").
func GroupFilter(conn map[string]string) (Filter, error) {
	return newFilter(conn, "groups", defaultGroupsInclude, []string{"groups.exclude", "groups.blacklist"}, defaultGroupsExclude)
}

func newFilter(conn map[string]string, incKey, incDefault string, excKeys []string, excDefault string) (Filter, error) {
	var f Filter
	inc, ok := conn[incKey]
	if !ok {
		inc = incDefault
	}
	var err error
	if f.include, err = compileList(incKey, inc); err != nil {
		return Filter{}, err
	}
	excKey, exc := excKeys[0], excDefault
	for _, k := range excKeys {
		if v, ok := conn[k]; ok {
			excKey, exc = k, v
			break
		}
	}
	if f.exclude, err = compileList(excKey, exc); err != nil {
		return Filter{}, err
	}
	return f, nil
}

// compileList joins a Kafka LIST value into one whole-name pattern, as
// MirrorUtils.compilePatternList does; an empty list matches nothing.
// MM2 patterns are Java regexes; the common subset is the same in Go, and
// what Go cannot compile (look-arounds, back-references) is an error.
func compileList(key, v string) (*regexp.Regexp, error) {
	var parts []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return nil, nil
	}
	re, err := regexp.Compile("^(?:" + strings.Join(parts, "|") + ")$")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return re, nil
}

// Policy is the part of an MM2 ReplicationPolicy the sidecar needs: the
// name a source topic has on the target, and the checkpoints topic.
type Policy struct {
	// Identity is true for IdentityReplicationPolicy: topics keep their
	// names on the target (heartbeats are still prefixed).
	Identity bool
	// Separator is replication.policy.separator, "." by default.
	Separator string
	// InternalSeparator separates the parts of internal topic names (the
	// checkpoints topic): Separator, or "." when
	// replication.policy.internal.topic.separator.enabled is false.
	InternalSeparator string
}

// PolicyFromConnector reads replication.policy.class,
// replication.policy.separator and
// replication.policy.internal.topic.separator.enabled.
func PolicyFromConnector(conn map[string]string) (Policy, error) {
	p := Policy{Separator: ".", InternalSeparator: "."}
	switch cls := strings.TrimSpace(conn["replication.policy.class"]); cls {
	case "", "org.apache.kafka.connect.mirror.DefaultReplicationPolicy", "DefaultReplicationPolicy":
	case "org.apache.kafka.connect.mirror.IdentityReplicationPolicy", "IdentityReplicationPolicy":
		p.Identity = true
	default:
		return Policy{}, fmt.Errorf("replication.policy.class=%q: only DefaultReplicationPolicy and IdentityReplicationPolicy are understood", cls)
	}
	if sep, ok := conn["replication.policy.separator"]; ok {
		p.Separator, p.InternalSeparator = sep, sep
		if v := strings.TrimSpace(conn["replication.policy.internal.topic.separator.enabled"]); strings.EqualFold(v, "false") {
			p.InternalSeparator = "."
		}
	}
	return p, nil
}

// RemoteTopic is the target-side name of a source topic.
func (p Policy) RemoteTopic(sourceAlias, topic string) string {
	if p.Identity && !p.isHeartbeats(topic) {
		return topic
	}
	return sourceAlias + p.Separator + topic
}

func (p Policy) isHeartbeats(topic string) bool {
	return strings.HasSuffix(topic, "heartbeats")
}

// CheckpointsTopic is "<alias>.checkpoints.internal" with the policy's
// internal separator.
func (p Policy) CheckpointsTopic(sourceAlias string) string {
	return sourceAlias + p.InternalSeparator + "checkpoints" + p.InternalSeparator + "internal"
}

// IsInternal mirrors ReplicationPolicy.isInternalTopic: MM2, Connect and
// Kafka internal topics are never replicated.
func (p Policy) IsInternal(topic string) bool {
	return strings.HasPrefix(topic, "__") || strings.HasPrefix(topic, ".") ||
		strings.HasSuffix(topic, "-internal") || strings.HasSuffix(topic, ".internal") ||
		strings.HasSuffix(topic, p.InternalSeparator+"internal")
}
