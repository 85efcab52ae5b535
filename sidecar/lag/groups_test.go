package lag

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// checkScenarioGroups checks the verdicts of scenario's groups.
func checkScenarioGroups(t *testing.T, snap *Snapshot) {
	t.Helper()
	want := map[string]Verdict{"g-behind": Behind, "g-neg": NegativeLag, "g-nocp": NoCheckpoint, "g-synced": Synced}
	if len(snap.Groups) != len(want) {
		t.Fatalf("groups = %+v, want %d", snap.Groups, len(want))
	}
	for _, g := range snap.Groups {
		if g.Verdict != want[g.Group] {
			t.Errorf("group %s = %s, want %s", g.Group, g.Verdict, want[g.Group])
		}
	}
	if p := snap.Groups[0].Partitions[0]; p.SourceOffset != 6 || p.Upstream != 4 || p.TargetOffset != 4 || p.TargetEnd != 6 {
		t.Errorf("g-behind partition = %+v", p)
	}
}

// TestGroupOffsetsVersions reads group offsets with every shape of
// OffsetFetch: v10+ names topics by ID, v8-v9 by name, and before v8 a
// request takes one group.
func TestGroupOffsetsVersions(t *testing.T) {
	for _, max := range []int16{10, 9, 7, 3} {
		t.Run(fmt.Sprintf("OffsetFetch v%d", max), func(t *testing.T) {
			e := scenario(t)
			v := kversion.Stable()
			v.SetMaxKeyVersion(int16(kmsg.OffsetFetch), max)
			m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: []kgo.Opt{kgo.MaxVersions(v)}})
			t.Cleanup(m.Close)
			snap, err := m.Measure(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			checkScenarioGroups(t, snap)
		})
	}
}

// TestGroupOffsetsCoordinatorErrors: a group whose coordinator moved is
// asked again; any other group error makes the group unknown with the
// error's name, and the measurement goes on. kgo's backoffs before asking
// again pass on a bubble's clock.
func TestGroupOffsetsCoordinatorErrors(t *testing.T) {
	for _, tc := range []coordinatorCase{
		{"coordinator moved once", kerr.NotCoordinator.Code, 1, ""},
		{"coordinator loading twice", kerr.CoordinatorLoadInProgress.Code, 2, ""},
		{"not authorized", kerr.GroupAuthorizationFailed.Code, 1, "GROUP_AUTHORIZATION_FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scenarioInBubble(t, func(t *testing.T, e *migration) { testCoordinatorError(t, e, tc) })
		})
	}
}

// coordinatorCase is an error OffsetFetch answers every group with, times
// times, and the reason it leaves the groups unknown with ("": none).
type coordinatorCase struct {
	name    string
	code    int16
	times   int
	unknown string
}

func testCoordinatorError(t *testing.T, e *migration, tc coordinatorCase) {
	failed := 0
	e.src.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		e.src.KeepControl()
		if failed == tc.times {
			return nil, nil, false
		}
		failed++
		req := kreq.(*kmsg.OffsetFetchRequest)
		resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.Version = req.Version
		for _, g := range req.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, tc.code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
	})
	m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: e.clientOpts()})
	t.Cleanup(m.Close)
	snap, err := m.Measure(ctxT(t))
	if failed != tc.times {
		t.Errorf("%d OffsetFetch requests failed, want %d", failed, tc.times)
	}
	if err != nil {
		t.Fatal(err)
	}
	if tc.unknown == "" {
		checkScenarioGroups(t, snap)
		return
	}
	// The one OffsetFetch answered every group with the error.
	for _, g := range snap.Groups {
		if g.Verdict != Unknown || g.Unknown != tc.unknown || len(g.Partitions) != 0 {
			t.Errorf("group %s = %s (%s), want unknown (%s)", g.Group, g.Verdict, g.Unknown, tc.unknown)
		}
	}
	if len(snap.Groups) != 4 || snap.TotalLag() != 14 {
		t.Errorf("%d groups, lag %d: want the 4 groups, unknown, and the lag measured", len(snap.Groups), snap.TotalLag())
	}
}

// TestVerdictPerCase judges one group per case on kfake: source and
// target commits and checkpoints as MM2 and consumers leave them, the
// target partition holding 20 records.
func TestVerdictPerCase(t *testing.T) {
	const none = -1
	tests := []struct {
		name             string
		source           int64
		up, down, target int64 // checkpoint; target commit (none: not committed)
		noCheckpoint     bool
		want             Verdict
		behind, skipped  int64
	}{
		{name: "synced", source: 10, up: 10, down: 10, target: 10, want: Synced},
		{name: "synced-no-target-commit", source: 10, up: 10, down: 10, target: none, want: Synced},
		{name: "behind-source-moved-on", source: 14, up: 10, down: 10, target: 10, want: Behind, behind: 4},
		{name: "behind-target-lags-checkpoint", source: 10, up: 10, down: 10, target: 7, want: Behind, behind: 3},
		{name: "rewound", source: 4, up: 10, down: 10, target: 10, want: Rewound, skipped: 6},
		{name: "rewound-no-target-commit", source: 4, up: 10, down: 10, target: none, want: Rewound, skipped: 6},
		{name: "rewound-target-below-rewind", source: 4, up: 10, down: 10, target: 2, want: Rewound, behind: 2},
		{name: "rewound-target-lands-on-rewind", source: 4, up: 10, down: 10, target: 4, want: Rewound},
		{name: "target-ahead-after-rewind-checkpointed", source: 4, up: 4, down: 4, target: 10, want: TargetAhead, skipped: 6},
		{name: "target-ahead-less-than-source-moved", source: 12, up: 4, down: 4, target: 10, want: Behind, behind: 2},
		{name: "target-ahead-consumers-moved", source: 10, up: 10, down: 10, target: 15, want: TargetAhead, skipped: 5},
		{name: "translated-offset-shifted", source: 10, up: 10, down: 8, target: 8, want: Synced},
		{name: "negative-lag", source: 10, up: 10, down: 10, target: 25, want: NegativeLag},
		{name: "no-checkpoint", source: 10, noCheckpoint: true, target: none, want: NoCheckpoint},
	}
	e := copiedOrders(t)
	for _, tc := range tests {
		e.commit(e.srcAdm, tc.name, "orders", 0, tc.source)
		if !tc.noCheckpoint {
			e.checkpoint(mm2.Checkpoint{Group: tc.name, Topic: "orders", Upstream: tc.up, Downstream: tc.down})
		}
		if tc.target != none {
			e.commit(e.tgtAdm, tc.name, "orders", 0, tc.target)
		}
	}
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	summary, err := m.MeasureSummary(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if g, sg := snap.group(tc.name), summary.group(tc.name); sg == nil || g == nil || sg.Verdict != g.Verdict ||
				sg.RecordsBehind != g.RecordsBehind || sg.RecordsSkipped != g.RecordsSkipped || sg.Partitions != nil {
				t.Errorf("summary = %+v, want the verdict and counts of %+v without partitions", sg, g)
			}
			g := snap.group(tc.name)
			if g == nil {
				t.Fatalf("group missing from %+v", snap.Groups)
			}
			if g.Verdict != tc.want || g.RecordsBehind != tc.behind || g.RecordsSkipped != tc.skipped {
				t.Errorf("verdict %s behind %d skipped %d, want %s %d %d (%+v)", g.Verdict, g.RecordsBehind, g.RecordsSkipped, tc.want, tc.behind, tc.skipped, g.Partitions)
			}
			if err := snap.CutoverCheck([]string{tc.name}); (err == nil) != (tc.want == Synced) {
				t.Errorf("cutover check = %v with verdict %s", err, g.Verdict)
			}
		})
	}
}

// TestRewindThroughCutover follows a group rewound on the source after MM2
// checkpointed it: it is never ready until the target group is reset to
// where the source group stands.
func TestRewindThroughCutover(t *testing.T) {
	e := copiedOrders(t)
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	step := func(want Verdict, skipped int64, reason string) {
		t.Helper()
		snap, err := m.Measure(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		g := snap.group("billing")
		if g == nil || g.Verdict != want || g.RecordsSkipped != skipped {
			t.Fatalf("billing = %+v, want %s skipping %d", g, want, skipped)
		}
		err = snap.CutoverCheck([]string{"billing"})
		if want == Synced {
			if err != nil {
				t.Fatalf("cutover check = %v, want ready", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), reason) {
			t.Fatalf("cutover check = %v, want %q", err, reason)
		}
	}

	// MM2 checkpointed the group at 15 and synced the target group there.
	e.commit(e.srcAdm, "billing", "orders", 0, 15)
	e.checkpoint(mm2.Checkpoint{Group: "billing", Topic: "orders", Upstream: 15, Downstream: 15})
	e.commit(e.tgtAdm, "billing", "orders", 0, 15)
	step(Synced, 0, "")

	// Reset on the source for reprocessing; the checkpoint still says 15.
	e.commit(e.srcAdm, "billing", "orders", 0, 5)
	step(Rewound, 10, "billing: rewound (committed on the source below the latest checkpoint: about 10 records would be skipped")

	// MM2 checkpoints the rewound offset but never moves the target group
	// backwards: it stays at 15.
	e.checkpoint(mm2.Checkpoint{Group: "billing", Topic: "orders", Upstream: 5, Downstream: 5})
	step(TargetAhead, 10, "billing: target-ahead (target offset beyond the checkpoint: about 10 records would be skipped)")

	// The operator resets the target group to the checkpoint.
	e.commit(e.tgtAdm, "billing", "orders", 0, 5)
	step(Synced, 0, "")
}

// TestCheckpointConsumerIdleBetweenMeasurements: the checkpoint consumer
// sends nothing between two measurements, and the second still reads
// checkpoints written in between.
func TestCheckpointConsumerIdleBetweenMeasurements(t *testing.T) {
	scenarioInBubble(t, testCheckpointConsumerIdle)
}

func testCheckpointConsumerIdle(t *testing.T, e *migration) {
	var reqs requestCounter
	m := NewMeasurer(e.api, MeasurerOptions{ClientOpts: e.clientOpts(kgo.WithHooks(&reqs))})
	t.Cleanup(m.Close)
	if _, err := m.Measure(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	before := reqs.n[kmsg.Fetch].Load()
	// Past the consumer's fetch wait (200ms) many times over and past the
	// clients' metadata refresh (5m), on the bubble's clock; then every
	// goroutine of the bubble is blocked, so a fetch sent meanwhile has
	// been counted.
	time.Sleep(6 * time.Minute)
	synctest.Wait()
	if n := reqs.n[kmsg.Fetch].Load() - before; n != 0 {
		t.Errorf("%d fetch requests between measurements, want none", n)
	}
	e.checkpoint(mm2.Checkpoint{Group: "g-behind", Topic: "orders", Partition: 1, Upstream: 6, Downstream: 6})
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if p := snap.group("g-behind").Partitions[0]; p.Upstream != 6 {
		t.Errorf("g-behind checkpoint = %d after a pause, want 6", p.Upstream)
	}
}

// copiedOrders is a migration of one topic, orders, of one partition whose
// 20 records MM2 has all copied, with the checkpoints topic made and empty.
func copiedOrders(t *testing.T) *migration {
	t.Helper()
	e := newMigration(t, nil)
	e.createTopic(e.srcAdm, "orders", 1)
	e.produce(e.srcCl, "orders", 0, 20)
	e.createTopic(e.tgtAdm, "orders", 1)
	e.produce(e.tgtCl, "orders", 0, 20)
	e.copied("orders", 0, 19)
	e.createTopic(e.tgtAdm, e.policy.CheckpointsTopic("src"), 1)
	return e
}
