// Package mm2acl owns the least-privilege ACL list of MirrorMaker 2 and
// connect-sidecar as connect-image/README.md documents it: reading that
// table, filling in its placeholders and naming each ACL's MSK IAM action.
// It does not talk to Kafka; the integration suite applies the list and
// the taskdefs tests compare it with the IAM policy.
package mm2acl

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Entry is one ALLOW ACL for the MM2 principal.
type Entry struct {
	// Cluster is the cluster the ACL is on: source or target.
	Cluster string
	// Resource is the resource type: Topic, Group or Cluster.
	Resource string
	// Name is the resource name, or a placeholder (TOPICS, GROUPS) until
	// Fill replaces it.
	Name string
	// Prefixed is true for a prefixed resource pattern, false for a
	// literal one.
	Prefixed bool
	// Operation is Read, Write, Create, Describe, Alter, DescribeConfigs
	// or AlterConfigs.
	Operation string
	// FailsWith is what fails without it, as the README documents it.
	FailsWith string
}

// String names the entry as the README's line does.
func (e Entry) String() string {
	name := e.Name
	if e.Prefixed {
		name += " (prefixed)"
	}
	return fmt.Sprintf("%s %s %s %s", e.Cluster, e.Resource, name, e.Operation)
}

// ACLSyncOnly reports whether the entry is needed only when MM2 copies
// topic ACLs (sync.topic.acls.enabled=true).
func (e Entry) ACLSyncOnly() bool { return strings.Contains(e.FailsWith, "sync.topic.acls.enabled") }

const (
	begin = "<!-- mm2-acls:begin -->"
	end   = "<!-- mm2-acls:end -->"
)

// Parse reads the table between the mm2-acls markers of the README.
func Parse(readme []byte) ([]Entry, error) {
	_, rest, ok := bytes.Cut(readme, []byte(begin))
	if !ok {
		return nil, errors.New("acl table: no " + begin + " marker")
	}
	table, _, ok := bytes.Cut(rest, []byte(end))
	if !ok {
		return nil, errors.New("acl table: no " + end + " marker")
	}
	var out []Entry
	for i, line := range strings.Split(string(table), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "| cluster") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 5 {
			return nil, fmt.Errorf("acl table line %d: want 5 cells, got %d: %q", i, len(cells), line)
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		e := Entry{Cluster: cells[0], Resource: cells[1], Name: cells[2], Operation: cells[3], FailsWith: cells[4]}
		if n, ok := strings.CutSuffix(e.Name, " (prefixed)"); ok {
			e.Name, e.Prefixed = n, true
		}
		if e.Cluster != "source" && e.Cluster != "target" {
			return nil, fmt.Errorf("acl table line %d: cluster %q: must be source or target", i, e.Cluster)
		}
		if _, err := e.IAMAction(); err != nil {
			return nil, fmt.Errorf("acl table line %d: %w", i, err)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errors.New("acl table: no entries")
	}
	return out, nil
}

// Fill replaces the placeholders TOPICS and GROUPS with a name (prefixed
// when the value ends in "*").
func Fill(entries []Entry, topics, groups string) []Entry {
	out := make([]Entry, len(entries))
	for i, e := range entries {
		for ph, v := range map[string]string{"TOPICS": topics, "GROUPS": groups} {
			if e.Name == ph {
				e.Name = strings.TrimSuffix(v, "*")
				e.Prefixed = strings.HasSuffix(v, "*")
			}
		}
		out[i] = e
	}
	return out
}

// iamActions maps resource and operation to the kafka-cluster: action of
// MSK IAM access control that authorizes the same requests.
var iamActions = map[string]map[string]string{
	"Topic": {
		"Read": "ReadData", "Write": "WriteData", "Create": "CreateTopic", "Describe": "DescribeTopic",
		"Alter": "AlterTopic", "DescribeConfigs": "DescribeTopicDynamicConfiguration",
		"AlterConfigs": "AlterTopicDynamicConfiguration", "Delete": "DeleteTopic",
	},
	"Group":   {"Read": "AlterGroup", "Describe": "DescribeGroup", "Delete": "DeleteGroup"},
	"Cluster": {"Describe": "DescribeCluster", "Alter": "AlterCluster", "DescribeConfigs": "DescribeClusterDynamicConfiguration"},
}

// iamRequires are the actions MSK IAM access control wants granted
// alongside another, where Kafka's authorizer implies them instead (Read,
// Write and Alter imply Describe; AlterConfigs implies DescribeConfigs).
var iamRequires = map[string][]string{
	"kafka-cluster:ReadData":                       {"kafka-cluster:DescribeTopic"},
	"kafka-cluster:WriteData":                      {"kafka-cluster:DescribeTopic"},
	"kafka-cluster:AlterTopic":                     {"kafka-cluster:DescribeTopic"},
	"kafka-cluster:AlterTopicDynamicConfiguration": {"kafka-cluster:DescribeTopicDynamicConfiguration"},
	"kafka-cluster:AlterGroup":                     {"kafka-cluster:DescribeGroup"},
	"kafka-cluster:AlterCluster":                   {"kafka-cluster:DescribeCluster"},
}

// IAMActions is the entry's kafka-cluster: action and the ones MSK IAM
// requires with it.
func (e Entry) IAMActions() ([]string, error) {
	a, err := e.IAMAction()
	if err != nil {
		return nil, err
	}
	return append([]string{a}, iamRequires[a]...), nil
}

// IAMAction is the entry's kafka-cluster: action.
func (e Entry) IAMAction() (string, error) {
	ops, ok := iamActions[e.Resource]
	if !ok {
		return "", fmt.Errorf("resource %q: must be Topic, Group or Cluster", e.Resource)
	}
	a, ok := ops[e.Operation]
	if !ok {
		return "", fmt.Errorf("%s operation %q: not one MM2 uses", e.Resource, e.Operation)
	}
	return "kafka-cluster:" + a, nil
}
