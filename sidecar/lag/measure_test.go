package lag

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// scenario builds a migration in every state the measurement must tell
// apart, MM2's work done by hand.
func scenario(t *testing.T) *migration {
	t.Helper()
	e := newMigration(t, nil)
	e.fillScenario()
	return e
}

// fillScenario makes scenario's topics, records, copies, commits and
// checkpoints.
func (e *migration) fillScenario() {
	e.t.Helper()
	e.createTopic(e.srcAdm, "orders", 3)
	e.createTopic(e.srcAdm, "payments", 1)
	e.createTopic(e.srcAdm, "audit.internal", 1) // excluded by MM2's default filter
	for p := int32(0); p < 3; p++ {
		e.produce(e.srcCl, "orders", p, 10)
	}
	e.produce(e.srcCl, "payments", 0, 10)
	e.produce(e.srcCl, "audit.internal", 0, 5)

	e.createTopic(e.tgtAdm, "orders", 3)
	e.createTopic(e.tgtAdm, "payments", 1)
	e.createTopic(e.tgtAdm, e.policy.CheckpointsTopic("src"), 1)
	// orders[0] fully copied; orders[1] copied up to offset 5; orders[2]
	// never copied.
	e.produce(e.tgtCl, "orders", 0, 10)
	e.copied("orders", 0, 9)
	e.produce(e.tgtCl, "orders", 1, 6)
	e.copied("orders", 1, 5)
	// payments[0]: emptied on the source by retention before MM2 copied it
	// (KAFKA-12635): log start = end = 10, nothing on the target.
	if err := e.src.DeleteRecords("payments", 0, 10); err != nil {
		e.t.Fatal(err)
	}

	e.commit(e.srcAdm, "g-synced", "orders", 0, 10)
	e.commit(e.tgtAdm, "g-synced", "orders", 0, 10)
	e.commit(e.srcAdm, "g-behind", "orders", 1, 6)
	e.commit(e.tgtAdm, "g-behind", "orders", 1, 4)
	e.commit(e.srcAdm, "g-nocp", "orders", 2, 3)
	e.commit(e.srcAdm, "g-neg", "payments", 0, 10)
	e.commit(e.tgtAdm, "g-neg", "payments", 0, 10)
	e.commit(e.srcAdm, "console-consumer-42", "orders", 0, 10) // excluded by MM2's default group filter
	e.checkpoint(
		mm2.Checkpoint{Group: "g-synced", Topic: "orders", Partition: 0, Upstream: 10, Downstream: 10},
		mm2.Checkpoint{Group: "g-behind", Topic: "orders", Partition: 1, Upstream: 2, Downstream: 2},
		mm2.Checkpoint{Group: "g-behind", Topic: "orders", Partition: 1, Upstream: 4, Downstream: 4},
		mm2.Checkpoint{Group: "g-neg", Topic: "payments", Partition: 0, Upstream: 10, Downstream: 10},
	)
}

func TestMeasureLagAndVerdicts(t *testing.T) {
	e := scenario(t)
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if snap.SourceConnector != mscName || snap.CheckpointConnector != cpcName {
		t.Errorf("connectors found by class = %q, %q", snap.SourceConnector, snap.CheckpointConnector)
	}

	wantPart := map[string][]PartitionLag{
		"orders": {
			{Partition: 0, Start: 0, End: 10, Copied: 9, Lag: 0},
			{Partition: 1, Start: 0, End: 10, Copied: 5, Lag: 4},
			{Partition: 2, Start: 0, End: 10, Copied: -1, Lag: 10},
		},
		"payments": {{Partition: 0, Start: 10, End: 10, Copied: -1, Lag: 0}},
	}
	if len(snap.Topics) != len(wantPart) {
		t.Fatalf("topics = %+v, want orders and payments only", snap.Topics)
	}
	for _, tl := range snap.Topics {
		want := wantPart[tl.Topic]
		var sum int64
		for i, p := range tl.Partitions {
			if p != want[i] {
				t.Errorf("%s[%d] = %+v, want %+v", tl.Topic, i, p, want[i])
			}
			sum += want[i].Lag
		}
		if tl.Lag != sum || tl.RemoteTopic != tl.Topic {
			t.Errorf("%s lag = %d remote %q, want %d and the same name (identity policy)", tl.Topic, tl.Lag, tl.RemoteTopic, sum)
		}
	}
	if snap.TotalLag() != 14 {
		t.Errorf("total lag = %d, want 14", snap.TotalLag())
	}

	tests := []struct {
		group  string
		want   Verdict
		behind int64
	}{
		{"g-behind", Behind, 2 + 0},
		{"g-neg", NegativeLag, 0},
		{"g-nocp", NoCheckpoint, 0},
		{"g-synced", Synced, 0},
	}
	if len(snap.Groups) != len(tests) {
		t.Fatalf("groups = %+v, want %d (console-consumer-* excluded)", snap.Groups, len(tests))
	}
	for i, tc := range tests {
		g := snap.Groups[i]
		if g.Group != tc.group || g.Verdict != tc.want || g.RecordsBehind != tc.behind {
			t.Errorf("group %d = %s %s behind %d, want %s %s behind %d", i, g.Group, g.Verdict, g.RecordsBehind, tc.group, tc.want, tc.behind)
		}
	}
	// g-behind: source at 6, checkpoint at 4 and the target group at 4.
	if p := snap.Groups[0].Partitions[0]; p.SourceOffset != 6 || p.Upstream != 4 || p.Downstream != 4 || p.TargetOffset != 4 || p.TargetEnd != 6 {
		t.Errorf("g-behind partition = %+v", p)
	}
	if snap.GroupsNotReady() != 3 || snap.Ready() {
		t.Errorf("groups not ready = %d, ready = %v", snap.GroupsNotReady(), snap.Ready())
	}

	err = snap.CutoverCheck([]string{"g-synced", "g-behind", "nope"})
	var nr *NotReadyError
	if !errors.As(err, &nr) || len(nr.Reasons) != 4 {
		t.Fatalf("cutover check = %v, want four reasons", err)
	}
	for _, want := range []string{"g-synced: topic orders has 14 records", "g-behind: behind (2 records", "g-behind: topic orders has 14 records", "nope: not found"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("cutover reasons %q lack %q", err, want)
		}
	}

	plan := snap.ResetPlan()
	if len(plan) != 1 || plan[0] != (Reset{Group: "g-neg", Topic: "payments", Partition: 0, From: 10, To: 0}) {
		t.Fatalf("reset plan = %+v", plan)
	}
	if err := m.ApplyResets(ctxT(t), plan); err != nil {
		t.Fatal(err)
	}

	// MM2 moves on: the rest copied, a new checkpoint for g-behind.
	e.produce(e.tgtCl, "orders", 1, 4)
	e.copied("orders", 1, 9)
	e.produce(e.tgtCl, "orders", 2, 10)
	e.copied("orders", 2, 9)
	e.checkpoint(mm2.Checkpoint{Group: "g-behind", Topic: "orders", Partition: 1, Upstream: 6, Downstream: 6})
	e.commit(e.tgtAdm, "g-behind", "orders", 1, 6)
	snap, err = m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Verdict{}
	for _, g := range snap.Groups {
		got[g.Group] = g.Verdict
	}
	if got["g-neg"] != Synced || got["g-behind"] != Synced || got["g-nocp"] != NoCheckpoint {
		t.Errorf("after reset and new checkpoints: %v", got)
	}
	if err := snap.CutoverCheck([]string{"g-synced", "g-behind", "g-neg"}); err != nil || snap.TotalLag() != 0 {
		t.Errorf("cutover after catching up = %v (lag %d), want ready", err, snap.TotalLag())
	}
	if err := snap.CutoverCheck([]string{"g-nocp"}); err == nil {
		t.Error("cutover of a group without checkpoint passed")
	}
}

func TestApplyResetRefusesActiveGroup(t *testing.T) {
	e := scenario(t)
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	// A consumer of g-neg still runs on the target: it has its
	// partitions once the group is Stable.
	assigned := make(chan struct{})
	var once sync.Once
	newClient(t, e.tgt.ListenAddrs(), kgo.ConsumerGroup("g-neg"), kgo.ConsumeTopics("payments"),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { once.Do(func() { close(assigned) }) }))
	select {
	case <-assigned:
	case <-ctxT(t).Done():
		t.Fatal("consumer never joined")
	}
	err = m.ApplyResets(ctxT(t), snap.ResetPlan("g-neg"))
	if err == nil || !strings.Contains(err.Error(), "group g-neg is Stable") {
		t.Fatalf("apply with a live member = %v, want a refusal", err)
	}
	off, ferr := e.tgtAdm.FetchOffsets(ctxT(t), "g-neg")
	if ferr != nil {
		t.Fatal(ferr)
	}
	if o, _ := off.Lookup("payments", 0); o.At != 10 {
		t.Errorf("offset after refusal = %d, want 10 untouched", o.At)
	}
}

func TestMeasureDefaultReplicationPolicy(t *testing.T) {
	e := newMigration(t, map[string]string{"replication.policy.class": "", "topics": "orders"})
	e.createTopic(e.srcAdm, "orders", 1)
	e.createTopic(e.srcAdm, "other", 1)
	e.produce(e.srcCl, "orders", 0, 3)
	e.createTopic(e.tgtAdm, "src.orders", 1)
	e.createTopic(e.tgtAdm, "src.checkpoints.internal", 1)
	e.produce(e.tgtCl, "src.orders", 0, 3)
	e.copied("orders", 0, 2)
	e.commit(e.srcAdm, "app", "orders", 0, 3)
	e.commit(e.tgtAdm, "app", "src.orders", 0, 3)
	e.checkpoint(mm2.Checkpoint{Group: "app", Topic: "orders", Partition: 0, Upstream: 3, Downstream: 3})

	m := NewMeasurer(e.api, MeasurerOptions{Config: Config{SourceConnector: mscName, CheckpointConnector: cpcName}})
	t.Cleanup(m.Close)
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Topics) != 1 || snap.Topics[0].RemoteTopic != "src.orders" || snap.Topics[0].Lag != 0 {
		t.Fatalf("topics = %+v, want orders only, copied to src.orders", snap.Topics)
	}
	if len(snap.Groups) != 1 || snap.Groups[0].Verdict != Synced || snap.Groups[0].Partitions[0].TargetOffset != 3 {
		t.Fatalf("groups = %+v, want app synced through src.orders", snap.Groups)
	}
	if !snap.Ready() {
		t.Error("migration not ready")
	}
}

// TestMeasureManyTopics gives every topic its own end offset, so that an
// offset filed under the wrong topic shows whatever order the source's
// metadata lists the topics in.
func TestMeasureManyTopics(t *testing.T) {
	e := newMigration(t, nil)
	const n = 26
	for i := range n {
		topic := "t-" + string(rune('a'+i))
		e.createTopic(e.srcAdm, topic, 2)
		e.produce(e.srcCl, topic, 0, i+1)
		e.produce(e.srcCl, topic, 1, 2*i+1)
		e.copied(topic, 1, int64(i)) // copied up to offset i of 2i+1 records
	}
	snap, err := NewMeasurer(e.api, MeasurerOptions{}).Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Topics) != n {
		t.Fatalf("%d topics, want %d", len(snap.Topics), n)
	}
	for i, tl := range snap.Topics {
		want := []PartitionLag{
			{Partition: 0, Start: 0, End: int64(i + 1), Copied: -1, Lag: int64(i + 1)},
			{Partition: 1, Start: 0, End: int64(2*i + 1), Copied: int64(i), Lag: int64(i)},
		}
		if tl.Topic != "t-"+string(rune('a'+i)) || len(tl.Partitions) != 2 || tl.Partitions[0] != want[0] || tl.Partitions[1] != want[1] {
			t.Errorf("topic %d = %s %+v, want t-%c %+v", i, tl.Topic, tl.Partitions, 'a'+i, want)
		}
	}
}

// TestMeasureFindsConnectorsByClass covers how a Measurer without
// configured names finds the MM2 connectors, and that it does so with one
// listing, not one request per connector Connect runs.
func TestMeasureFindsConnectorsByClass(t *testing.T) {
	const others = 5
	tests := []struct {
		name    string
		setup   func(t *testing.T, e *migration)
		opts    MeasurerOptions
		wantMSC string
		wantCPC string
		wantErr string
	}{
		{name: "by class", wantMSC: mscName, wantCPC: cpcName},
		{
			name: "no checkpoint connector",
			setup: func(t *testing.T, e *migration) {
				deleteConnector(t, e, cpcName)
			},
			wantMSC: mscName,
		},
		{
			name: "configured names",
			opts: MeasurerOptions{Config: Config{SourceConnector: mscName, CheckpointConnector: cpcName}},
			setup: func(t *testing.T, e *migration) {
				e.putLike(t, "mm2-msc-2", mscName)
			},
			wantMSC: mscName, wantCPC: cpcName,
		},
		{
			name:    "two source connectors",
			setup:   func(t *testing.T, e *migration) { e.putLike(t, "mm2-msc-2", mscName) },
			wantErr: "want exactly one MirrorSourceConnector, found 2 (mm2-msc, mm2-msc-2)",
		},
		{
			name:    "two checkpoint connectors",
			setup:   func(t *testing.T, e *migration) { e.putLike(t, "mm2-cpc-2", cpcName) },
			wantErr: "found 2 MirrorCheckpointConnectors (mm2-cpc, mm2-cpc-2)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newMigration(t, nil)
			for i := range others {
				if err := e.connect.Put(fmt.Sprintf("file-%d", i), map[string]string{"connector.class": "FileStreamSource"}, ""); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(t, e)
			}
			m := NewMeasurer(e.api, tt.opts)
			t.Cleanup(m.Close)
			for round := range 2 {
				e.connect.ResetCounters()
				snap, err := m.Measure(ctxT(t))
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("measure = %v, want an error containing %q", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if snap.SourceConnector != tt.wantMSC || snap.CheckpointConnector != tt.wantCPC {
					t.Errorf("round %d: connectors = %q, %q, want %q, %q", round, snap.SourceConnector, snap.CheckpointConnector, tt.wantMSC, tt.wantCPC)
				}
				// At most: the listing or the two configs, the source
				// offsets, and a config read before the listing.
				if gets := e.connect.Requests()["GET"]; gets > 4 {
					t.Errorf("round %d: %d GET requests to Connect with %d other connectors, want at most 4", round, gets, others)
				}
			}
		})
	}
}

// TestMeasureFindsRenamedSourceConnector: a source connector found by
// class and then deleted is looked for again, and its successor is used.
func TestMeasureFindsRenamedSourceConnector(t *testing.T) {
	e := newMigration(t, nil)
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	if _, err := m.Measure(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	e.putLike(t, "mm2-msc-new", mscName)
	deleteConnector(t, e, mscName)
	snap, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if snap.SourceConnector != "mm2-msc-new" {
		t.Errorf("source connector = %q, want mm2-msc-new", snap.SourceConnector)
	}
}

// putLike creates connector name with the config of connector like.
func (e *migration) putLike(t *testing.T, name, like string) {
	t.Helper()
	cfg, ok := e.connect.Config(like)
	if !ok {
		t.Fatalf("no connector %s", like)
	}
	if err := e.connect.Put(name, cfg, ""); err != nil {
		t.Fatal(err)
	}
}

func deleteConnector(t *testing.T, e *migration, name string) {
	t.Helper()
	if err := e.api.Delete(ctxT(t), name); err != nil {
		t.Fatal(err)
	}
}
