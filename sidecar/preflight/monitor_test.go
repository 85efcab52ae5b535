package preflight

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

// TestMonitor keeps the latest report of a real run, one result per
// check, and none on a follower.
func TestMonitor(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.seed()
	in := Input{Connectors: []desired.Connector{e.msc(map[string]string{"topics": "orders, nosuch"}), e.cpc(nil)}, Worker: map[string]string{},
		ClientOpts: []kgo.Opt{kgo.RetryTimeout(2 * time.Second)}}
	leader := true
	m := NewMonitor(func(ctx context.Context) (*Report, error) { return Run(ctx, in) },
		MonitorOptions{Interval: time.Minute, IsLeader: func() bool { return leader }})
	if m.Latest() != nil {
		t.Fatal("a report before any run")
	}

	m.Once(ctxT(t))
	rep := m.Latest()
	if rep == nil || len(rep.Results) != len(Checks()) {
		t.Fatalf("report %+v: want one result per check (%d)", rep, len(Checks()))
	}
	statuses := map[string]Status{}
	for _, r := range rep.Results {
		statuses[r.Check] = r.Status
	}
	if statuses[CheckTopics] != Fail || statuses[CheckReach] != Pass || statuses[CheckConnect] != Warn {
		t.Errorf("statuses %v: want topic-selection FAIL, reach PASS, connect WARN (no URL)", statuses)
	}

	leader = false
	m.Once(ctxT(t))
	if rep := m.Latest(); rep != nil {
		t.Errorf("a follower keeps a report: %+v", rep)
	}
}

func TestStatusRank(t *testing.T) {
	for s, want := range map[Status]int{Pass: 0, Warn: 1, Fail: 2} {
		if got := s.Rank(); got != want {
			t.Errorf("%s.Rank() = %d, want %d", s, got, want)
		}
	}
}
