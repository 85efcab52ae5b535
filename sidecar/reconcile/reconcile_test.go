package reconcile

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/worker"
)

func TestThreeSidecarsAreIdempotent(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	c.SetLeader(1)
	dir := copyDir(t, "mm2")
	set := load(t, dir)
	rs := sidecars(t, c, Options{Config: Config{AutoRestart: true}})

	cycleAll(rs, set)
	if !converged(c, set) {
		t.Fatal("not converged after one cycle")
	}
	if c.TotalWrites() != 3 || c.TotalRestarts() != 0 {
		t.Fatalf("creating 3 connectors took %d writes, %d restarts", c.TotalWrites(), c.TotalRestarts())
	}
	c.ResetCounters()
	for range 10 {
		for _, rep := range cycleAll(rs, set) {
			if !rep.Applied || len(rep.Errors) > 0 {
				t.Fatalf("steady cycle: %+v", rep)
			}
		}
	}
	if c.TotalWrites() != 0 || c.TotalRestarts() != 0 {
		t.Fatalf("steady state made %d writes, %d restarts", c.TotalWrites(), c.TotalRestarts())
	}
	if reqs := c.Requests(); len(reqs) != 1 || reqs["GET"] != 30 {
		t.Fatalf("steady state requests %v, want only 30 GETs (one per sidecar per cycle)", reqs)
	}

	writeFile(t, dir, "mm2-msc.json", strings.Replace(mustRead(t, "testdata/mm2/mm2-msc.json"), `"tasks.max": 4`, `"tasks.max": 6`, 1))
	set = load(t, dir)
	cycleAll(rs, set)
	if c.Writes("mm2-msc") != 1 || c.TotalWrites() != 1 || c.Restarts("mm2-msc") != 1 {
		t.Fatalf("one changed file: msc writes %d, total writes %d, restarts %d", c.Writes("mm2-msc"), c.TotalWrites(), c.Restarts("mm2-msc"))
	}
	if cfg, _ := c.Config("mm2-msc"); cfg["tasks.max"] != "6" {
		t.Fatalf("tasks.max = %q", cfg["tasks.max"])
	}
}

// With no leader known every sidecar may write, after jitter, and reads
// again first: the cluster converges and never takes more than one write
// per connector per sidecar.
func TestUnknownLeaderConverges(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	set := load(t, copyDir(t, "mm2"))
	rs := sidecars(t, c, Options{Config: Config{WriteJitter: time.Millisecond}, Leadership: worker.NewLeader("", nil)})
	cycleAll(rs, set)
	if !converged(c, set) {
		t.Fatal("not converged")
	}
	if w := c.TotalWrites(); w < 3 || w > 9 {
		t.Fatalf("writes %d", w)
	}
	c.ResetCounters()
	cycleAll(rs, set)
	if c.TotalWrites() != 0 {
		t.Fatalf("second cycle wrote %d", c.TotalWrites())
	}
}

func TestFaultsStillConverge(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		inject  func(c *connecttest.Cluster)
		heal    func(c *connecttest.Cluster)
	}{
		{name: "409 storm on writes", inject: func(c *connecttest.Cluster) { c.Conflicts(15, "POST", "/connectors") }},
		{name: "409 storm on the listing", inject: func(c *connecttest.Cluster) { c.Conflicts(5, "GET", "/connectors") }},
		{name: "rebalance", inject: func(c *connecttest.Cluster) { c.SetRebalancing(true) }, heal: func(c *connecttest.Cluster) { c.SetRebalancing(false) }},
		{name: "500 request timed out", inject: func(c *connecttest.Cluster) { c.ServerErrors(8, "", "", "") }},
		{name: "refused connections", inject: func(c *connecttest.Cluster) {
			for _, w := range c.Workers() {
				w.Down()
			}
		}, heal: func(c *connecttest.Cluster) {
			for _, w := range c.Workers() {
				w.Up()
			}
		}},
		{name: "slow answers past the timeout", timeout: 100 * time.Millisecond, inject: func(c *connecttest.Cluster) {
			c.InjectFault(connecttest.Fault{Worker: connecttest.AnyWorker, Delay: time.Second, Times: 4})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connecttest.NewCluster(t, 3)
			set := load(t, copyDir(t, "mm2"))
			clock := newClock()
			var rs []*Reconciler
			for _, w := range c.Workers() {
				rs = append(rs, New(newClient(t, w.URL(), tt.timeout), Options{
					Leadership: worker.NewLeader(w.URL(), c.Leader), Sleep: noSleep, Now: clock.Now,
				}))
			}
			tt.inject(c)
			first := cycleAll(rs, set)
			if tt.heal != nil {
				if first[0].Applied {
					t.Fatal("cycle during the fault reported applied")
				}
				tt.heal(c)
			}
			for i := 0; i < 10 && !converged(c, set); i++ {
				clock.Advance(11 * time.Minute) // past any failure backoff
				cycleAll(rs, set)
			}
			if !converged(c, set) {
				t.Fatal("did not converge")
			}
			if w := c.TotalWrites(); w != 3 {
				t.Fatalf("writes %d, want 3", w)
			}
			if rep := rs[0].Cycle(context.Background(), set); !rep.Applied {
				t.Fatalf("after convergence: %+v", rep)
			}
		})
	}
}

func TestBadFilesAndRefusedConfigs(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	dir := copyDir(t, "mm2", "bad")
	set := load(t, dir)
	clock := newClock()
	m := &recMetrics{}
	var logs bytes.Buffer
	r := New(newClient(t, c.URL(), 0), Options{Sleep: noSleep, Now: clock.Now, Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rep := r.Cycle(context.Background(), set)

	for _, name := range []string{"mm2-msc", "mm2-cpc", "mm2-hbc"} {
		if _, ok := c.Config(name); !ok {
			t.Errorf("good connector %s not applied", name)
		}
		if m.configError[name] {
			t.Errorf("good connector %s reported as a config error", name)
		}
	}
	// Connect's refusals reach the metric and the log, for that connector.
	for _, name := range []string{"bad-tasks", "bad-class"} {
		if !m.configError[name] {
			t.Errorf("%s: connect_sidecar_connector_config_error not set", name)
		}
	}
	if !strings.Contains(logs.String(), "connector=bad-tasks") || !strings.Contains(logs.String(), "Invalid value 0 for configuration tasks.max") {
		t.Errorf("the 400 is not logged with Connect's message:\n%s", logs.String())
	}
	wantErrs := map[string]string{
		"invalid.json":   "invalid JSON",
		"no-name.json":   "no connector name",
		"twin-a.json":    "duplicate connector name",
		"twin-b.json":    "duplicate connector name",
		"mismatch.json":  `"name" is "mm2-new" but config's "name" is "mm2-old"`,
		"bad-tasks.json": "Connect answered 400: Connector configuration is invalid and contains the following 1 error(s):\nInvalid value 0 for configuration tasks.max: Value must be at least 1",
		"bad-class.json": "Connect answered 400: Failed to find any class that implements Connector and which name matches org.apache.kafka.connect.mirror.MirrorSourceConnecter",
	}
	got := map[string]int{}
	for _, err := range rep.Errors {
		for file, want := range wantErrs {
			if strings.Contains(err.Error(), "/"+file+":") || strings.Contains(err.Error(), "/"+file+" (") {
				got[file]++
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%s: error %q lacks %q", file, err, want)
				}
			}
		}
	}
	for file := range wantErrs {
		if got[file] != 1 {
			t.Errorf("%s: %d errors, want exactly 1 (all: %v)", file, got[file], rep.Errors)
		}
	}
	if len(rep.Errors) != len(wantErrs) {
		t.Errorf("%d errors, want %d: %v", len(rep.Errors), len(wantErrs), rep.Errors)
	}
	if _, ok := c.Config("twin"); ok {
		t.Error("a duplicated name was applied")
	}
	var ce *ConnectorError
	for _, err := range rep.Errors {
		if errors.As(err, &ce) && ce.Connector == "bad-tasks" && !connect.IsBadRequest(err) {
			t.Error("the 400 is not reachable with connect.IsBadRequest")
		}
	}

	// Next cycles: a 400 (a bad value, or a class Connect does not have) is
	// not retried until its file changes, not even after a backoff; nothing
	// else is written.
	before := c.Requests()
	r.Cycle(context.Background(), set)
	after := c.Requests()
	if after["POST"] != before["POST"] || after["PUT"] != before["PUT"] {
		t.Fatalf("bad connectors retried at once: %v -> %v", before, after)
	}
	clock.Advance(time.Hour)
	r.Cycle(context.Background(), set)
	if got := c.Requests()["POST"] - after["POST"]; got != 0 {
		t.Fatalf("an hour later %d POSTs, want none until the files change", got)
	}
	writeFile(t, dir, "bad-tasks.json", `{"name":"bad-tasks","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","tasks.max":2}}`)
	rep = r.Cycle(context.Background(), load(t, dir))
	if rep.Outcomes["bad-tasks"] != OutcomeCreated {
		t.Fatalf("fixed file: outcome %q", rep.Outcomes["bad-tasks"])
	}
}

func TestDesiredStates(t *testing.T) {
	c := connecttest.NewCluster(t, 1)
	dir := t.TempDir()
	body := func(state string) string {
		return `{"name":"hbc","config":{"connector.class":"MirrorHeartbeatConnector"},"state":"` + state + `"}`
	}
	r := New(newClient(t, c.URL(), 0), Options{Sleep: noSleep})
	steps := []struct {
		state, outcome, want string
	}{
		{"paused", OutcomeCreated, connecttest.StatePaused},
		{"paused", OutcomeUnchanged, connecttest.StatePaused},
		{"running", OutcomeResumed, connecttest.StateRunning},
		{"stopped", OutcomeStopped, connecttest.StateStopped},
		{"paused", OutcomePaused, connecttest.StatePaused},
		{"running", OutcomeResumed, connecttest.StateRunning},
	}
	for _, s := range steps {
		writeFile(t, dir, "hbc.json", body(s.state))
		rep := r.Cycle(context.Background(), load(t, dir))
		got, _ := c.ConnectorState("hbc")
		if rep.Outcomes["hbc"] != s.outcome || got != s.want {
			t.Fatalf("state %s: outcome %q, Connect %s; want %q, %s", s.state, rep.Outcomes["hbc"], got, s.outcome, s.want)
		}
	}
	// Without a desired state an operator's pause is left alone.
	writeFile(t, dir, "hbc.json", `{"name":"hbc","config":{"connector.class":"MirrorHeartbeatConnector"}}`)
	if _, err := http.DefaultClient.Do(mustReq(t, "PUT", c.URL()+"/connectors/hbc/pause")); err != nil {
		t.Fatal(err)
	}
	r.Cycle(context.Background(), load(t, dir))
	if got, _ := c.ConnectorState("hbc"); got != connecttest.StatePaused {
		t.Fatalf("operator's pause undone: %s", got)
	}
}

func TestPruneAndUnmanaged(t *testing.T) {
	for _, prune := range []bool{false, true} {
		c := connecttest.NewCluster(t, 1)
		if err := c.Put("legacy", map[string]string{"connector.class": "FileStreamSource"}, ""); err != nil {
			t.Fatal(err)
		}
		m := &recMetrics{}
		r := New(newClient(t, c.URL(), 0), Options{Config: Config{Prune: prune}, Sleep: noSleep, Metrics: m})
		dir := copyDir(t, "mm2")
		rep := r.Cycle(context.Background(), load(t, dir))
		_, still := c.Config("legacy")
		if still == prune {
			t.Fatalf("prune=%v: legacy still there: %v", prune, still)
		}
		if !prune && (len(rep.Unmanaged) != 1 || m.unmanaged != 1) {
			t.Fatalf("unmanaged not reported: %v, metric %d", rep.Unmanaged, m.unmanaged)
		}
		// A bad file suspends pruning: its connector might be the one missing.
		if prune {
			if err := c.Put("legacy", map[string]string{"connector.class": "FileStreamSource"}, ""); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "broken.json", "{")
			r.Cycle(context.Background(), load(t, dir))
			if _, ok := c.Config("legacy"); !ok {
				t.Fatal("pruned while a file was unreadable")
			}
		}
	}
}

type recMetrics struct {
	NopMetrics
	unmanaged   int
	restarts    int
	configError map[string]bool
}

func (m *recMetrics) SetUnmanaged(n int)  { m.unmanaged = n }
func (m *recMetrics) CountRestart(string) { m.restarts++ }
func (m *recMetrics) SetConfigError(connector string, failed bool) {
	if m.configError == nil {
		m.configError = map[string]bool{}
	}
	m.configError[connector] = failed
}

func TestAutoRestartSchedule(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	dir := copyDir(t, "mm2")
	set := load(t, dir)
	clock := newClock()
	m := &recMetrics{}
	var logs bytes.Buffer
	r := New(newClient(t, c.URL(), 0), Options{Config: Config{AutoRestart: true, MaxRestarts: 10}, Sleep: noSleep, Now: clock.Now, Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r.Cycle(context.Background(), set)

	// The task fails again after every restart.
	sticky := true
	c.OnEvent(func(e connecttest.Event) {
		if e.Kind == connecttest.EventRestarted && sticky {
			_ = c.SetTaskState("mm2-msc", 2, connecttest.StateFailed, "org.apache.kafka.connect.errors.ConnectException: source cluster unreachable\n\tat Foo")
		}
	})
	if err := c.SetTaskState("mm2-msc", 2, connecttest.StateFailed, "org.apache.kafka.connect.errors.ConnectException: source cluster unreachable\n\tat Foo"); err != nil {
		t.Fatal(err)
	}
	// Minute marks at which a restart is due: at once, then 2, 6, 12, 20,
	// 30, 42, 56 minutes after the previous one, then hourly.
	var restartsAt []int
	for minute := 0; minute <= 300; minute++ {
		before := c.Restarts("mm2-msc")
		r.Cycle(context.Background(), set)
		if c.Restarts("mm2-msc") > before {
			restartsAt = append(restartsAt, minute)
		}
		clock.Advance(time.Minute)
	}
	want := []int{0, 2, 8, 20, 40, 70, 112, 168, 228, 288}
	if len(restartsAt) != len(want) {
		t.Fatalf("restarts at minutes %v, want %v", restartsAt, want)
	}
	for i := range want {
		if restartsAt[i] != want[i] {
			t.Fatalf("restarts at minutes %v, want %v", restartsAt, want)
		}
	}
	if m.restarts != 10 {
		t.Fatalf("restart metric %d", m.restarts)
	}
	// Each restart is logged with the task and its trace's first line.
	restartLogs := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "restarted FAILED task 2") {
			restartLogs++
			if !strings.Contains(line, "source cluster unreachable") || strings.Contains(line, "at Foo") {
				t.Errorf("restart log without the trace summary: %s", line)
			}
		}
	}
	if restartLogs != 10 {
		t.Errorf("%d restart log lines, want 10:\n%s", restartLogs, logs.String())
	}
	// SIDECAR_MAX_RESTARTS=10 reached: no more.
	clock.Advance(3 * time.Hour)
	r.Cycle(context.Background(), set)
	if c.Restarts("mm2-msc") != 10 {
		t.Fatalf("restarted past the maximum: %d", c.Restarts("mm2-msc"))
	}

	// Recovery: running longer than the next interval resets the count.
	sticky = false
	_ = c.SetTaskState("mm2-msc", 2, connecttest.StateRunning, "")
	r.Cycle(context.Background(), set)
	clock.Advance(61 * time.Minute)
	r.Cycle(context.Background(), set)
	_ = c.SetTaskState("mm2-msc", 2, connecttest.StateFailed, "java.lang.OutOfMemoryError: Java heap space")
	r.Cycle(context.Background(), set)
	if c.Restarts("mm2-msc") != 11 {
		t.Fatalf("after a reset the first restart is not immediate: %d", c.Restarts("mm2-msc"))
	}
}

func TestRestartDelay(t *testing.T) {
	want := []int{0, 2, 6, 12, 20, 30, 42, 56, 60, 60, 60}
	for n, m := range want {
		if got := restartDelay(n); got != time.Duration(m)*time.Minute {
			t.Errorf("restartDelay(%d) = %s, want %dm", n, got, m)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustReq(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// While the leader is unknown a sidecar waits, then reads the connector
// again, its state included, and acts on what another sidecar did in the
// meantime rather than on the listing it started from.
func TestUnknownLeaderActsOnFreshState(t *testing.T) {
	tests := []struct {
		name      string
		initial   string // the connector's state in the cycle's listing
		desired   string
		meanwhile func(ctx context.Context, c *connect.Client) error // another sidecar, during the wait
		outcome   string
		want      string
		writes    int
	}{
		{
			name: "resumed meanwhile", initial: connecttest.StatePaused, desired: desired.StateRunning,
			meanwhile: func(ctx context.Context, c *connect.Client) error { return c.Resume(ctx, "hbc") },
			outcome:   OutcomeUnchanged, want: connecttest.StateRunning, writes: 0,
		},
		{
			name: "paused meanwhile", initial: connecttest.StateRunning, desired: desired.StateStopped,
			meanwhile: func(ctx context.Context, c *connect.Client) error { return c.Pause(ctx, "hbc") },
			outcome:   OutcomeStopped, want: connecttest.StateStopped, writes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connecttest.NewCluster(t, 1)
			if err := c.Put("hbc", map[string]string{"connector.class": "MirrorHeartbeatConnector"}, tt.initial); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFile(t, dir, "hbc.json", `{"name":"hbc","config":{"connector.class":"MirrorHeartbeatConnector"},"state":"`+tt.desired+`"}`)
			other := newClient(t, c.URL(), 0)
			r := New(newClient(t, c.URL(), 0), Options{Config: Config{WriteJitter: time.Millisecond}, Leadership: worker.NewLeader("", nil), Sleep: func(ctx context.Context, _ time.Duration) error { return tt.meanwhile(ctx, other) }})
			rep := r.Cycle(context.Background(), load(t, dir))
			got, _ := c.ConnectorState("hbc")
			if rep.Outcomes["hbc"] != tt.outcome || rep.Writes != tt.writes || got != tt.want {
				t.Fatalf("outcome %q, %d writes, Connect %s; want %q, %d writes, %s (errors %v)",
					rep.Outcomes["hbc"], rep.Writes, got, tt.outcome, tt.writes, tt.want, rep.Errors)
			}
		})
	}
}

// TestAutoRestartFailedConnector: a FAILED connector, not only a task, is
// restarted at once, with the first line of its trace in the log.
func TestAutoRestartFailedConnector(t *testing.T) {
	c := connecttest.NewCluster(t, 2)
	set := load(t, copyDir(t, "mm2"))
	var logs bytes.Buffer
	r := New(newClient(t, c.URL(), 0), Options{Config: Config{AutoRestart: true}, Sleep: noSleep, Now: newClock().Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	r.Cycle(context.Background(), set)
	if err := c.SetConnectorFailed("mm2-cpc", "org.apache.kafka.connect.errors.ConnectException: target cluster unreachable\n\tat Foo"); err != nil {
		t.Fatal(err)
	}
	r.Cycle(context.Background(), set)
	if got := c.Restarts("mm2-cpc"); got != 1 {
		t.Fatalf("restarts of the FAILED connector = %d, want 1", got)
	}
	if got, _ := c.ConnectorState("mm2-cpc"); got != connecttest.StateRunning {
		t.Errorf("state after the restart = %s, want RUNNING", got)
	}
	if !strings.Contains(logs.String(), "target cluster unreachable") {
		t.Errorf("restart not logged with the trace's first line:\n%s", logs.String())
	}
	if c.Restarts("mm2-msc") != 0 || c.Restarts("mm2-hbc") != 0 {
		t.Error("a healthy connector was restarted")
	}
}
