package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

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
