package taskdefs_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/mm2acl"
)

// iamOnly are the cluster actions the IAM policy grants beyond the ACL
// list, and why: every MSK IAM client needs Connect; Connect's admin
// client asks for the cluster's description (DescribeCluster) when the
// worker starts and MM2's admin clients do too; the worker's idempotent
// producer needs WriteDataIdempotently on the target.
var iamOnly = map[string][]string{
	"source": {"kafka-cluster:Connect", "kafka-cluster:DescribeCluster"},
	"target": {"kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"},
}

// TestIAMPolicyMatchesACLList keeps taskdefs/iam/msk-iam-access.json and
// the least-privilege ACL list of connect-image/README.md in step: each
// ACL (but those only MM2's ACL sync needs, which MSK IAM does not serve)
// maps to its kafka-cluster: action on the same cluster and resource
// kind, and the policy grants nothing else.
func TestIAMPolicyMatchesACLList(t *testing.T) {
	entries, err := mm2acl.Parse(mustRead(t, "../connect-image/README.md"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{}
	add := func(key, action string) {
		if want[key] == nil {
			want[key] = map[string]bool{}
		}
		want[key][action] = true
	}
	for _, e := range entries {
		if e.ACLSyncOnly() {
			continue
		}
		actions, err := e.IAMActions()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range actions {
			add(e.Cluster+"/"+strings.ToLower(e.Resource), a)
		}
	}
	for cluster, actions := range iamOnly {
		for _, a := range actions {
			add(cluster+"/cluster", a)
		}
	}

	var policy struct {
		Statement []struct {
			Sid      string
			Action   []string
			Resource []string
		}
	}
	if err := json.Unmarshal(mustRead(t, "iam/msk-iam-access.json"), &policy); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]bool{}
	for _, st := range policy.Statement {
		for _, r := range st.Resource {
			key, ok := resourceKey(r)
			if !ok {
				t.Errorf("%s: resource %s names neither cluster", st.Sid, r)
				continue
			}
			if got[key] == nil {
				got[key] = map[string]bool{}
			}
			for _, a := range st.Action {
				got[key][a] = true
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(want)) {
		for _, a := range slices.Sorted(maps.Keys(want[key])) {
			if !got[key][a] {
				t.Errorf("%s: the ACL list needs %s, the IAM policy does not grant it", key, a)
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		for _, a := range slices.Sorted(maps.Keys(got[key])) {
			if !want[key][a] {
				t.Errorf("%s: the IAM policy grants %s, which no ACL of the list maps to", key, a)
			}
		}
	}
}

// resourceKey turns arn:aws:kafka:…:topic/${SOURCE_MSK_CLUSTER}/* into
// "source/topic".
func resourceKey(arn string) (string, bool) {
	_, rest, ok := strings.Cut(arn, ":kafka:")
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, ":")
	kindAndName := parts[len(parts)-1]
	kind, name, _ := strings.Cut(kindAndName, "/")
	switch {
	case strings.HasPrefix(name, "${SOURCE_MSK_CLUSTER}"):
		return "source/" + kind, true
	case strings.HasPrefix(name, "${TARGET_MSK_CLUSTER}"):
		return "target/" + kind, true
	}
	return "", false
}
