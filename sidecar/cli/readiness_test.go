package cli

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/reconcile"
)

func readyz(t *testing.T, h *health) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	h.register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// A good cycle is ready only while it is recent: once it is older than
// twice the interval (a cycle stuck on a hung Connect), /readyz says so.
func TestReadinessAges(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHealth(30 * time.Second)
	h.now = func() time.Time { return now }

	if code, body := readyz(t, h); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Fatalf("before any cycle: %d %q", code, body)
	}
	h.starting("waiting for Connect REST")
	if code, body := readyz(t, h); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for Connect REST") {
		t.Fatalf("waiting: %d %q", code, body)
	}
	h.cycle(true, "connect reachable, 3 connectors applied")
	for _, tt := range []struct {
		after time.Duration
		code  int
		want  string
	}{
		{0, http.StatusOK, "ready: connect reachable, 3 connectors applied"},
		{60 * time.Second, http.StatusOK, "cycle finished 1m0s ago"},
		{60*time.Second + time.Millisecond, http.StatusServiceUnavailable, "over twice SIDECAR_RECONCILE_INTERVAL (30s)"},
		{10 * time.Minute, http.StatusServiceUnavailable, "finished 10m0s ago"},
	} {
		now = h.at.Add(tt.after)
		if code, body := readyz(t, h); code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s after the cycle: %d %q, want %d with %q", tt.after, code, body, tt.code, tt.want)
		}
	}
	// A later cycle's failure is not hidden by an earlier success.
	h.cycle(false, "connect reachable; 1 of 3 connectors not applied: mm2-msc (backoff)")
	if code, body := readyz(t, h); code != http.StatusServiceUnavailable || !strings.Contains(body, "mm2-msc (backoff)") {
		t.Errorf("failed cycle: %d %q", code, body)
	}
}

func TestJudge(t *testing.T) {
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
		manyOut[n] = reconcile.OutcomeError
	}
	tests := []struct {
		name   string
		set    desired.Set
		rep    reconcile.Report
		ok     bool
		want   string
		absent string
	}{
		{"all applied", set("a", "b"), reconcile.Report{Reached: true, Applied: true, Outcomes: outcomes("a", "unchanged", "b", "created")}, true, "2 connectors applied", ""},
		{"connect down", set("a"), reconcile.Report{}, false, "Connect REST did not answer", ""},
		{"backoff", set("a", "b"), reconcile.Report{Reached: true, Applied: true, Outcomes: outcomes("a", "unchanged", "b", "backoff")}, false, "1 of 2 connectors not applied: b (backoff)", ""},
		{"invalid", set("a"), reconcile.Report{Reached: true, Applied: true, Outcomes: outcomes("a", "invalid")}, false, "a (invalid)", ""},
		{"not leader", set("a"), reconcile.Report{Reached: true, Applied: true, Outcomes: outcomes("a", "not_leader")}, false, "a (not_leader)", ""},
		{"not reached", set("a", "b"), reconcile.Report{Reached: true, Outcomes: outcomes("a", "unchanged")}, false, "b (not reached)", ""},
		{"bad file", withBadFile, reconcile.Report{Reached: true, Applied: true, Outcomes: outcomes("a", "unchanged")}, false, "1 connector files not applied: s3://b/c/x.json", "password"},
		{"cut short", set(), reconcile.Report{Reached: true}, false, "the cycle ended before", ""},
		{"long list", many, reconcile.Report{Reached: true, Outcomes: manyOut}, false, "and 15 more", "p-conn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, body := judge(tt.set, tt.rep)
			if ok != tt.ok || !strings.Contains(body, tt.want) {
				t.Errorf("judge = %v %q, want %v with %q", ok, body, tt.ok, tt.want)
			}
			if tt.absent != "" && strings.Contains(body, tt.absent) {
				t.Errorf("%q in %q", tt.absent, body)
			}
		})
	}
}

func readyBody(addr string) (int, string) {
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The running sidecar stops saying ready when Connect begins to hang (the
// cycle under way never finishes) and while a connector waits in backoff
// after failing, with the reason in the body.
func TestRunReadinessFollowsCycles(t *testing.T) {
	c := connecttest.NewCluster(t, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hbc.json"), []byte(hbc), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	for k, v := range map[string]string{
		"SIDECAR_CONNECT_URL":        c.URL(),
		"SIDECAR_CONNECTORS_URI":     "file://" + dir,
		"SIDECAR_METRICS_ADDR":       addr,
		"SIDECAR_RECONCILE_INTERVAL": "200ms",
		"SIDECAR_WRITE_JITTER":       "1ms",
		"SIDECAR_CONNECT_TIMEOUT":    "2m",
		"SIDECAR_SHUTDOWN_GRACE":     "100ms",
		"SIDECAR_JMX_URL":            "",
		"SIDECAR_LAG_INTERVAL":       "0s",
		"SIDECAR_LOG_FORMAT":         "text",
	} {
		t.Setenv(k, v)
	}
	stop, logs := startRun(t)
	defer func() {
		if code := stop(); code != 0 {
			t.Errorf("exit %d; logs:\n%s", code, logs.String())
		}
	}()
	eventually(t, "readiness", func() bool { code, _ := readyBody(addr); return code == http.StatusOK })

	// A connector Connect keeps failing: an error, then backoff.
	if err := os.WriteFile(filepath.Join(dir, "msc.json"), []byte(msc), 0o644); err != nil {
		t.Fatal(err)
	}
	c.InjectFault(connecttest.Fault{Method: http.MethodPost, Path: "/connectors", Worker: connecttest.AnyWorker, Status: http.StatusInternalServerError, Message: "boom"})
	var body string
	eventually(t, "not ready while mm2-msc waits in backoff", func() bool {
		_, body = readyBody(addr)
		return strings.Contains(body, "mm2-msc (backoff)")
	})
	if code, body := readyBody(addr); code != http.StatusServiceUnavailable {
		t.Fatalf("ready while a connector is in backoff: %d %q", code, body)
	}
	if err := os.Remove(filepath.Join(dir, "msc.json")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ready again", func() bool { code, _ := readyBody(addr); return code == http.StatusOK })

	// Connect hangs: the cycle under way never ends, and readiness goes
	// within twice the interval (plus the cycle that was running).
	c.InjectFault(connecttest.Fault{Worker: connecttest.AnyWorker, Delay: time.Minute})
	eventually(t, "not ready while Connect hangs", func() bool {
		code, b := readyBody(addr)
		body = b
		return code == http.StatusServiceUnavailable
	})
	if !strings.Contains(body, "over twice SIDECAR_RECONCILE_INTERVAL") {
		t.Errorf("reason %q", body)
	}
}
