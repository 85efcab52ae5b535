package taskdefs_test

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
)

// TestSidecarHealthCheckIsLiveness runs the connect-sidecar container's
// health-check command, as the task definition spells it, against a sidecar
// that is alive but not ready (/readyz 503: a connector Connect refuses with
// a 500, or S3 briefly unreadable). ECS replaces a task whose essential
// container is unhealthy, so a readiness check there would restart healthy
// Connect workers, and with them the whole group, over one bad connector file.
func TestSidecarHealthCheckIsLiveness(t *testing.T) {
	hc := containers(loadTask(t, render(t, "plaintext"), "connect-task.json"))["connect-sidecar"].HealthCheck
	if hc == nil || len(hc.Command) < 3 {
		t.Fatalf("connect-sidecar health check %v: want [CMD <binary> healthcheck ...]", hc)
	}
	bin := filepath.Join(t.TempDir(), "connect-sidecar")
	build := exec.Command(externaltool.Path(t, "go"), "build", "-o", bin, "github.com/mm2-fargate/mm2-ecs/sidecar/cmd/connect-sidecar")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build connect-sidecar: %v\n%s", err, out)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok\n"))
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("connect reachable: true, applied: false, connectors: 3, errors: 1\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	args := append(append([]string{}, hc.Command[3:]...), "--addr", addr)
	if out, err := exec.Command(bin, append([]string{hc.Command[2]}, args...)...).CombinedOutput(); err != nil {
		t.Errorf("health check %v fails on a live sidecar that is not ready (%v): ECS would replace the task\n%s", hc.Command, err, out)
	}
	// The same server fails a readiness check, so the pass above is the
	// command's doing, not the server's.
	if out, err := exec.Command(bin, "healthcheck", "--addr", addr).CombinedOutput(); err == nil {
		t.Fatalf("readiness check passed against /readyz 503: %s", out)
	}
}
