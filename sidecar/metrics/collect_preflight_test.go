package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mm2-fargate/mm2-ecs/sidecar/preflight"
)

type latestReport struct{ rep *preflight.Report }

func (l *latestReport) Latest() *preflight.Report { return l.rep }

// TestPreflightCollector exports the latest report by check, and nothing
// without one.
func TestPreflightCollector(t *testing.T) {
	src := &latestReport{rep: &preflight.Report{Results: []preflight.Result{
		{Check: preflight.CheckReach, Status: preflight.Pass},
		{Check: preflight.CheckTopics, Status: preflight.Fail, Found: "nosuch: not on the source"},
		{Check: preflight.CheckConnect, Status: preflight.Warn},
	}}}
	c := NewPreflightCollector(src)
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Fatalf("promlint: %v %+v", err, problems)
	}
	want := `
# HELP connect_sidecar_preflight_result Latest preflight result by check: 0 PASS, 1 WARN, 2 FAIL.
# TYPE connect_sidecar_preflight_result gauge
connect_sidecar_preflight_result{check="connect"} 1
connect_sidecar_preflight_result{check="reach"} 0
connect_sidecar_preflight_result{check="topic-selection"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}

	src.rep = nil
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d series without a report, want none", n)
	}
}
