package preflight

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

// TestCollector exports the latest results of a real run by check, and
// nothing on a follower.
func TestCollector(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.seed()
	in := Input{Connectors: []desired.Connector{e.msc(map[string]string{"topics": "orders, nosuch"}), e.cpc(nil)}, Worker: map[string]string{},
		ClientOpts: []kgo.Opt{kgo.RetryTimeout(2 * time.Second)}}
	leader := true
	c := NewCollector(func(ctx context.Context) (*Report, error) { return Run(ctx, in) },
		CollectorOptions{Interval: time.Minute, IsLeader: func() bool { return leader }})
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	c.Once(ctxT(t))
	if n := testutil.CollectAndCount(c); n != len(Checks()) {
		t.Fatalf("%d series, want one per check (%d)", n, len(Checks()))
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]float64{}
	for _, m := range mfs[0].Metric {
		values[m.Label[0].GetValue()] = m.Gauge.GetValue()
	}
	if values[CheckTopics] != 2 || values[CheckReach] != 0 || values[CheckConnect] != 1 {
		t.Errorf("values %v: want topic-selection 2 (FAIL), reach 0 (PASS), connect 1 (WARN: no URL)", values)
	}

	leader = false
	c.Once(ctxT(t))
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("a follower exports %d series, want none", n)
	}
}
