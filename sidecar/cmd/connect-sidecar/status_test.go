package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

// statusFixture is a migration with one copied topic, a synced group
// ("ready") and a group behind its checkpoint ("late").
func statusFixture(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	src, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Close)
	tgt, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tgt.Close)
	client := func(c *kfake.Cluster) (*kgo.Client, *kadm.Client) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl, kadm.NewClient(cl)
	}
	srcCl, srcAdm := client(src)
	tgtCl, tgtAdm := client(tgt)
	for _, a := range []*kadm.Client{srcAdm, tgtAdm} {
		if _, err := a.CreateTopic(ctx, 2, 1, nil, "orders"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tgtAdm.CreateTopic(ctx, 1, 1, nil, "src.checkpoints.internal"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for range 5 {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte("x")})
		}
	}
	if err := srcCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tgtCl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	commit := func(a *kadm.Client, g string, p int32, at int64) {
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: "orders", Partition: p, At: at, LeaderEpoch: -1})
		if err := a.CommitAllOffsets(ctx, g, os); err != nil {
			t.Fatal(err)
		}
	}
	commit(srcAdm, "ready", 0, 5)
	commit(srcAdm, "late", 1, 5)
	var cps []*kgo.Record
	for _, cp := range []kafka.Checkpoint{
		{Group: "ready", Topic: "orders", Partition: 0, Upstream: 5, Downstream: 5},
		{Group: "late", Topic: "orders", Partition: 1, Upstream: 2, Downstream: 2},
	} {
		k, v := kafka.EncodeCheckpoint(cp)
		cps = append(cps, &kgo.Record{Topic: "src.checkpoints.internal", Key: k, Value: v})
	}
	if err := tgtCl.ProduceSync(ctx, cps...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	cc := connecttest.NewCluster(t, 1)
	msc := map[string]string{
		"connector.class":                  "org.apache.kafka.connect.mirror.MirrorSourceConnector",
		"source.cluster.alias":             "src",
		"target.cluster.alias":             "tgt",
		"source.cluster.bootstrap.servers": strings.Join(src.ListenAddrs(), ","),
		"target.cluster.bootstrap.servers": strings.Join(tgt.ListenAddrs(), ","),
		"replication.policy.class":         "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
	}
	if err := cc.Put("msc", msc, ""); err != nil {
		t.Fatal(err)
	}
	cpc := map[string]string{"connector.class": "MirrorCheckpointConnector"}
	for k, v := range msc {
		if k != "connector.class" {
			cpc[k] = v
		}
	}
	if err := cc.Put("cpc", cpc, ""); err != nil {
		t.Fatal(err)
	}
	if err := cc.SetTaskState("msc", 0, connecttest.StateFailed, "org.apache.kafka.connect.errors.ConnectException: boom\n\tat Foo.bar(Foo.java:1)"); err != nil {
		t.Fatal(err)
	}
	var offs []connecttest.Offset
	for p := range 2 {
		offs = append(offs, connecttest.Offset{
			Partition: map[string]any{"cluster": "src", "topic": "orders", "partition": p},
			Offset:    map[string]any{"offset": 4},
		})
	}
	if err := cc.SetOffsets("msc", offs); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIDECAR_CONNECT_URL", cc.URL())
}

func TestStatus(t *testing.T) {
	statusFixture(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"table", nil, 0,
			[]string{"msc", "FAILED", "ConnectException: boom", "orders", "total", "ready  synced", "late   behind   3", "orders[1]:behind", "migration ready: no"}, nil},
		{"cutover ready", []string{"--cutover", "ready"}, 0, []string{"ready for cutover: ready"}, nil},
		{"cutover late", []string{"--cutover", "ready", "late"}, 1, nil, []string{"group late: behind (3 records would be consumed twice)"}},
		{"cutover unknown", []string{"--cutover", "nobody"}, 1, nil, []string{"group nobody: not found"}},
		{"cutover without group", []string{"--cutover"}, 2, nil, []string{"--cutover needs at least one GROUP"}},
		{"apply without plan", []string{"--apply", "late"}, 2, nil, []string{"--apply needs --reset-plan"}},
		{"reset plan", []string{"--reset-plan"}, 0, []string{"RESET PLAN (dry run", "nothing to reset"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runStatus(context.Background(), tc.args, &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out.String(), errb.String())
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			if strings.Contains(out.String(), "Foo.java") {
				t.Error("the table shows more than the first line of a trace")
			}
		})
	}

	var out, errb bytes.Buffer
	if code := runStatus(context.Background(), []string{"--json"}, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d: %s", code, errb.String())
	}
	var doc struct {
		Ready       bool  `json:"migration_ready"`
		TotalLag    int64 `json:"total_lag"`
		Measurement struct {
			Groups []struct {
				Group   string `json:"group"`
				Verdict string `json:"verdict"`
			} `json:"groups"`
		} `json:"measurement"`
		Connectors map[string]any `json:"connectors"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out.String())
	}
	if doc.Ready || doc.TotalLag != 0 || len(doc.Measurement.Groups) != 2 || doc.Measurement.Groups[0].Verdict != "behind" || len(doc.Connectors) != 2 {
		t.Errorf("--json = %+v", doc)
	}
}
