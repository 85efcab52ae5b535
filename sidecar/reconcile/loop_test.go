package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

func TestReportReady(t *testing.T) {
	set := func(names ...string) desired.Set {
		var s desired.Set
		for _, n := range names {
			s.Connectors = append(s.Connectors, desired.Connector{Name: n})
		}
		return s
	}
	outcomes := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	withBadFile := set("a")
	withBadFile.Errors = []*desired.FileError{{File: "s3://b/c/x.json", Err: errors.New("invalid JSON near the password")}}
	many := set()
	manyOut := map[string]string{}
	for i := range 25 {
		n := string(rune('a'+i)) + "-conn"
		many.Connectors = append(many.Connectors, desired.Connector{Name: n})
		manyOut[n] = OutcomeError
	}
	tests := []struct {
		name   string
		set    desired.Set
		rep    Report
		ok     bool
		want   string
		absent string
	}{
		{"all applied", set("a", "b"), Report{Reached: true, Applied: true, Outcomes: outcomes("a", "unchanged", "b", "created")}, true, "2 connectors applied", ""},
		{"connect down", set("a"), Report{}, false, "Connect REST did not answer", ""},
		{"backoff", set("a", "b"), Report{Reached: true, Applied: true, Outcomes: outcomes("a", "unchanged", "b", "backoff")}, false, "1 of 2 connectors not applied: b (backoff)", ""},
		{"invalid", set("a"), Report{Reached: true, Applied: true, Outcomes: outcomes("a", "invalid")}, false, "a (invalid)", ""},
		{"not leader", set("a"), Report{Reached: true, Applied: true, Outcomes: outcomes("a", "not_leader")}, false, "a (not_leader)", ""},
		{"not reached", set("a", "b"), Report{Reached: true, Outcomes: outcomes("a", "unchanged")}, false, "b (not reached)", ""},
		{"bad file", withBadFile, Report{Reached: true, Applied: true, Outcomes: outcomes("a", "unchanged")}, false, "1 connector files not applied: s3://b/c/x.json", "password"},
		{"cut short", set(), Report{Reached: true}, false, "the cycle ended before", ""},
		{"long list", many, Report{Reached: true, Outcomes: manyOut}, false, "and 15 more", "p-conn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, body := tt.rep.Ready(tt.set)
			if ok != tt.ok || !strings.Contains(body, tt.want) {
				t.Errorf("Ready = %v %q, want %v with %q", ok, body, tt.ok, tt.want)
			}
			if tt.absent != "" && strings.Contains(body, tt.absent) {
				t.Errorf("%q in %q", tt.absent, body)
			}
		})
	}
}

// Run waits for the leader before its first cycle, and writes nothing
// until the wait is over.
func TestRunWaitsForTheLeaderFirst(t *testing.T) {
	c := connecttest.NewCluster(t, 1)
	dir := t.TempDir()
	writeFile(t, dir, "hbc.json", `{"name":"hbc","config":{"connector.class":"MirrorHeartbeatConnector"}}`)
	files, err := desired.NewLoader(source.New(source.Options{}), "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	r := New(newClient(t, c.URL(), 0), Options{Config: Config{Interval: time.Hour, PollInterval: time.Hour}, Sleep: noSleep})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waited := make(chan struct{})
	release := make(chan struct{})
	cycled := make(chan Report, 1)
	done := make(chan error, 1)
	go func() {
		done <- r.Run(ctx, files, RunOptions{
			WaitForLeader: func(context.Context) bool { close(waited); <-release; return true },
			OnCycle:       func(rep Report) { cycled <- rep },
		})
	}()
	<-waited
	if _, exists := c.ConnectorState("hbc"); exists {
		t.Fatal("hbc created while the leader was awaited")
	}
	close(release)
	if rep := <-cycled; rep.Outcomes["hbc"] != OutcomeCreated {
		t.Fatalf("first cycle after the wait: %v", rep.Outcomes)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
