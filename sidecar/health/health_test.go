package health

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func readyz(t *testing.T, r *Readiness) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	r.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// A good cycle is ready only while it is recent: once it is older than
// twice the interval (a cycle stuck on a hung Connect), /readyz says so.
func TestReadinessAges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(30 * time.Second)
		if code, body := readyz(t, r); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
			t.Fatalf("before any cycle: %d %q", code, body)
		}
		r.Starting("waiting for Connect REST")
		if code, body := readyz(t, r); code != http.StatusServiceUnavailable || !strings.Contains(body, "waiting for Connect REST") {
			t.Fatalf("waiting: %d %q", code, body)
		}
		r.Cycle(true, "connect reachable, 3 connectors applied")
		cycled := time.Now()
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
			time.Sleep(time.Until(cycled.Add(tt.after)))
			if code, body := readyz(t, r); code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("%s after the cycle: %d %q, want %d with %q", tt.after, code, body, tt.code, tt.want)
			}
		}
		// A later cycle's failure is not hidden by an earlier success.
		r.Cycle(false, "connect reachable; 1 of 3 connectors not applied: mm2-msc (backoff)")
		if code, body := readyz(t, r); code != http.StatusServiceUnavailable || !strings.Contains(body, "mm2-msc (backoff)") {
			t.Errorf("failed cycle: %d %q", code, body)
		}
		// Progress reported after the first cycle does not replace its verdict.
		r.Starting("reading connector files")
		if _, body := readyz(t, r); strings.Contains(body, "reading connector files") {
			t.Errorf("Starting after a cycle changed the answer: %q", body)
		}
	})
}

func TestHealthzAlwaysOK(t *testing.T) {
	mux := http.NewServeMux()
	New(time.Second).Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok\n" {
		t.Errorf("/healthz = %d %q", rec.Code, rec.Body.String())
	}
}
