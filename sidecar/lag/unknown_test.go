package lag

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// unknownCase is what one failure leaves unknown in the scenario, and
// what it must leave measured.
type unknownCase struct {
	name string
	// fail breaks something after a first, complete measurement.
	fail func(t *testing.T, e *migration)
	// unknown maps "topic[partition]" (source lag) or "group" to the
	// reason it must show; every other topic keeps its lag and every
	// other group its verdict from the complete measurement.
	unknown     map[string]string
	unreachable string // alias of a cluster no part of the measurement reached
}

func TestUnknownItems(t *testing.T) {
	tests := []unknownCase{
		{
			name: "partition leader gone",
			fail: func(t *testing.T, e *migration) {
				e.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "orders", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: -1})
			},
			unknown: map[string]string{"orders[1]": "NOT_LEADER_FOR_PARTITION"},
		},
		{
			// The leader moved between metadata and ListOffsets: asked
			// again with fresh metadata, nothing is unknown.
			name: "partition leader moved",
			fail: func(t *testing.T, e *migration) {
				e.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "orders", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: 2})
			},
		},
		{
			name: "target partition leader moved",
			fail: func(t *testing.T, e *migration) {
				e.tgt.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "orders", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: 1})
			},
		},
		{
			name: "target partition leader gone",
			fail: func(t *testing.T, e *migration) {
				e.tgt.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "orders", Partitions: []int32{1}, Err: kerr.NotLeaderForPartition, Count: -1})
			},
			unknown: map[string]string{"g-behind": "target NOT_LEADER_FOR_PARTITION"},
		},
		{
			name: "one group's coordinator failing",
			fail: func(t *testing.T, e *migration) {
				e.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "g-synced", Err: kerr.CoordinatorNotAvailable, Count: -1})
			},
			unknown: map[string]string{"g-synced": "COORDINATOR_NOT_AVAILABLE"},
		},
		{
			name: "one group's coordinator not found on the target",
			fail: func(t *testing.T, e *migration) {
				e.tgt.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.FindCoordinator}, Group: "g-behind", Err: kerr.GroupAuthorizationFailed, Count: -1})
			},
			unknown: map[string]string{"g-behind": "target GROUP_AUTHORIZATION_FAILED"},
		},
		{
			name: "auth refused for one topic on the source",
			fail: func(t *testing.T, e *migration) {
				e.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "payments", Err: kerr.TopicAuthorizationFailed, Count: -1})
			},
			unknown: map[string]string{"payments[0]": "TOPIC_AUTHORIZATION_FAILED"},
		},
		{
			// A listing of all topics leaves the topic out; asked for by
			// name it answers why.
			name: "auth refused for one topic's metadata on the source",
			fail: func(t *testing.T, e *migration) {
				e.src.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "payments", Err: kerr.TopicAuthorizationFailed, Count: -1})
			},
			unknown: map[string]string{"payments[0]": "TOPIC_AUTHORIZATION_FAILED"},
		},
		{
			name: "auth refused for one topic on the target",
			fail: func(t *testing.T, e *migration) {
				e.tgt.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "payments", Err: kerr.TopicAuthorizationFailed, Count: -1})
			},
			unknown: map[string]string{"g-neg": "target TOPIC_AUTHORIZATION_FAILED"},
		},
		{
			name: "target down, source up",
			fail: func(t *testing.T, e *migration) { e.tgt.Close() },
			unknown: map[string]string{
				"g-behind": "checkpoints unreachable", "g-neg": "checkpoints unreachable",
				"g-nocp": "checkpoints unreachable", "g-synced": "checkpoints unreachable",
			},
			unreachable: "tgt",
		},
		{
			name: "source down, target up",
			fail: func(t *testing.T, e *migration) { e.src.Close() },
			unknown: map[string]string{
				"orders[0]": "unreachable", "orders[1]": "unreachable", "orders[2]": "unreachable", "payments[0]": "unreachable",
				"g-behind": "unreachable", "g-neg": "unreachable", "g-nocp": "unreachable", "g-synced": "unreachable",
			},
			unreachable: "src",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The clients give up on what keeps failing after their retry
			// timeout, on the bubble's clock.
			scenarioInBubble(t, func(t *testing.T, e *migration) {
				m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: e.clientOpts(kgo.RetryTimeout(time.Second), kgo.DialTimeout(time.Second))})
				t.Cleanup(m.Close)
				whole, err := m.Measure(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				tc.fail(t, e)
				snap, err := m.Measure(ctxT(t))
				if err != nil {
					t.Fatalf("measurement failed as a whole: %v", err)
				}
				checkUnknown(t, tc, whole, snap)
			})
		})
	}
}

func checkUnknown(t *testing.T, tc unknownCase, whole, snap *Snapshot) {
	t.Helper()
	if len(snap.Topics) != len(whole.Topics) || len(snap.Groups) != len(whole.Groups) {
		t.Fatalf("%d topics and %d groups, want the %d and %d of the complete measurement", len(snap.Topics), len(snap.Groups), len(whole.Topics), len(whole.Groups))
	}
	wantItems := 0
	for i, tl := range snap.Topics {
		for j, p := range tl.Partitions {
			key := fmt.Sprintf("%s[%d]", tl.Topic, p.Partition)
			want := tc.unknown[key]
			if want != "" {
				wantItems++
			}
			if p.Unknown != want {
				t.Errorf("%s unknown = %q, want %q", key, p.Unknown, want)
			}
			if want == "" && p != whole.Topics[i].Partitions[j] {
				t.Errorf("%s = %+v, want %+v as measured before", key, p, whole.Topics[i].Partitions[j])
			}
		}
		if tl.LagKnown() && tl.Lag != whole.Topics[i].Lag {
			t.Errorf("%s lag = %d, want %d", tl.Topic, tl.Lag, whole.Topics[i].Lag)
		}
	}
	for i, g := range snap.Groups {
		want := tc.unknown[g.Group]
		if want == "" {
			if g.Verdict != whole.Groups[i].Verdict || g.RecordsBehind != whole.Groups[i].RecordsBehind {
				t.Errorf("group %s = %s behind %d, want %s behind %d as measured before", g.Group, g.Verdict, g.RecordsBehind, whole.Groups[i].Verdict, whole.Groups[i].RecordsBehind)
			}
			continue
		}
		wantItems++
		if g.Verdict != Unknown || g.UnknownReason() != want {
			t.Errorf("group %s = %s (%s), want unknown (%s)", g.Group, g.Verdict, g.UnknownReason(), want)
		}
		err := snap.CutoverCheck([]string{g.Group})
		if err == nil || !strings.Contains(err.Error(), "group "+g.Group+": unknown ("+want+")") {
			t.Errorf("cutover check of %s = %v, want unknown (%s)", g.Group, err, want)
		}
	}
	if _, ok := snap.Unreachable[tc.unreachable]; tc.unreachable != "" && !ok || len(snap.Unreachable) > 0 && tc.unreachable == "" {
		t.Errorf("unreachable = %v, want %q", snap.Unreachable, tc.unreachable)
	}
	if snap.Ready() {
		t.Error("a measurement with unknown items is ready")
	}
	got := 0
	for _, e := range snap.ItemErrors() {
		if e.Item != ItemTopic && e.Item != ItemGroup || tc.unreachable == "" {
			got += e.Count
		}
	}
	if tc.unreachable == "" && got < wantItems {
		t.Errorf("item errors %+v count %d, want at least %d", snap.ItemErrors(), got, wantItems)
	}
}

// TestListOffsetsWithoutLeader: a partition whose metadata names no
// leader is unknown; the others of the topic are read.
func TestListOffsetsWithoutLeader(t *testing.T) {
	e := scenario(t)
	leader := e.src.LeaderFor("orders", 0)
	got := map[int32]int64{}
	failed := map[int32]error{}
	listOffsets(context.Background(), e.srcCl, []topicParts{{"orders", []int32{leader, -1, leader}}}, -1,
		func(_ string, p int32, off int64) { got[p] = off },
		func(_ string, p int32, err error) { failed[p] = err })
	if len(got) != 2 || got[0] != 10 || got[2] != 10 {
		t.Errorf("end offsets = %v, want partitions 0 and 2 at 10", got)
	}
	if len(failed) != 1 || reasonOf(failed[1]) != "no leader" {
		t.Errorf("failed = %v, want partition 1 without leader", failed)
	}
}

// TestDeletedTopicIsDropped: a topic deleted on the source leaves the
// measurement instead of turning unknown.
func TestDeletedTopicIsDropped(t *testing.T) {
	e := scenario(t)
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	if _, err := m.Measure(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srcAdm.DeleteTopic(ctxT(t), "payments"); err != nil {
		t.Fatal(err)
	}
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Topics) != 1 || snap.Topics[0].Topic != "orders" || len(snap.ItemErrors()) != 0 {
		t.Errorf("topics %+v, item errors %+v: want orders alone and nothing unknown", snap.Topics, snap.ItemErrors())
	}
}
