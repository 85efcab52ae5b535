package connect_test

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

const mscClass = "org.apache.kafka.connect.mirror.MirrorSourceConnector"

func newClient(t *testing.T, cfg connect.Config, observe connect.Observer) *connect.Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c, err := connect.New(cfg, observe)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// observed records what the client reports for metrics.
type observed struct {
	mu    sync.Mutex
	calls []string
}

func (o *observed) observe(method string, code int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, method+" "+http.StatusText(code))
}

func TestClientAgainstConnect(t *testing.T) {
	cluster := connecttest.NewCluster(t, 2)
	obs := &observed{}
	c := newClient(t, connect.Config{URL: cluster.URLs()[1] + "/"}, obs.observe)
	ctx := context.Background()

	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	cfg := map[string]string{"connector.class": mscClass, "tasks.max": "2", "name": "mm2-msc",
		"source.cluster.alias": "src", "target.cluster.alias": "tgt"}
	if err := c.Create(ctx, "mm2-msc", cfg, "PAUSED"); err != nil {
		t.Fatalf("Create: %v", err)
	}
	got, err := c.Config(ctx, "mm2-msc")
	if err != nil || got["tasks.max"] != "2" {
		t.Fatalf("Config = %v, %v", got, err)
	}
	st, err := c.Status(ctx, "mm2-msc")
	if err != nil || st.Connector.State != connect.StatePaused {
		t.Fatalf("Status after create with initial_state PAUSED = %+v, %v", st, err)
	}
	cfg["tasks.max"] = "3"
	created, err := c.PutConfig(ctx, "mm2-msc", cfg)
	if err != nil || created {
		t.Fatalf("PutConfig on an existing connector = created %v, %v; want an update", created, err)
	}
	for _, step := range []struct {
		name string
		op   func(context.Context, string) error
	}{{"Resume", c.Resume}, {"Pause", c.Pause}, {"Resume", c.Resume}} {
		if err := step.op(ctx, "mm2-msc"); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	if err := c.Restart(ctx, "mm2-msc"); err != nil {
		t.Errorf("Restart: %v", err)
	}
	all, err := c.Statuses(ctx)
	if err != nil || all["mm2-msc"].Connector.State != connect.StateRunning || len(all["mm2-msc"].Tasks) != 3 {
		t.Fatalf("Statuses = %+v, %v", all, err)
	}
	names, err := c.Connectors(ctx)
	if err != nil || len(names) != 1 || names[0] != "mm2-msc" {
		t.Fatalf("Connectors = %v, %v", names, err)
	}
	if err := c.Stop(ctx, "mm2-msc"); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status(ctx, "mm2-msc"); err != nil || st.Connector.State != connect.StateStopped {
		t.Fatalf("Status after Stop = %+v, %v", st, err)
	}
	cluster.SetOffsets("mm2-msc", []connecttest.Offset{{
		Partition: map[string]any{"cluster": "src", "topic": "orders", "partition": 0},
		Offset:    map[string]any{"offset": 41},
	}})
	offs, err := c.Offsets(ctx, "mm2-msc")
	if err != nil || len(offs) != 1 || offs[0].Partition["topic"] != "orders" || offs[0].Offset["offset"] != float64(41) {
		t.Fatalf("Offsets = %+v, %v", offs, err)
	}
	if err := c.Delete(ctx, "mm2-msc"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Config(ctx, "mm2-msc"); !connect.IsNotFound(err) {
		t.Fatalf("Config after delete = %v, want a 404", err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.calls) < 15 || obs.calls[len(obs.calls)-1] != "GET Not Found" {
		t.Errorf("observer saw %v", obs.calls)
	}
}

func TestClientErrors(t *testing.T) {
	cluster := connecttest.NewCluster(t, 1)
	c := newClient(t, connect.Config{URL: cluster.URL()}, nil)
	ctx := context.Background()
	tests := []struct {
		name       string
		call       func() error
		status     int
		message    string
		notFound   bool
		conflict   bool
		badRequest bool
		rebalance  bool
		retryable  bool
	}{
		{name: "unknown connector", call: func() error { _, err := c.Config(ctx, "nope"); return err },
			status: 404, message: "Connector nope not found", notFound: true},
		{name: "bad tasks.max", call: func() error {
			return c.Create(ctx, "bad", map[string]string{"connector.class": mscClass, "tasks.max": "zero"}, "")
		}, status: 400, message: "Connector configuration is invalid", badRequest: true},
		{name: "unknown class", call: func() error {
			return c.Create(ctx, "unknown", map[string]string{"connector.class": "com.example.Nope"}, "")
		}, status: 400, message: "Failed to find any class that implements Connector", badRequest: true},
		{name: "rebalance", call: func() error {
			cluster.Conflicts(1, http.MethodGet, "/connectors/x")
			_, err := c.Config(ctx, "x")
			return err
		}, status: 409, conflict: true, rebalance: true, retryable: true},
		{name: "config read during a rebalance", call: func() error {
			cluster.SetRebalancing(true)
			defer cluster.SetRebalancing(false)
			_, err := c.Config(ctx, "x")
			return err
		}, status: 500, message: connecttest.MsgRebalanceExpected, rebalance: true, retryable: true},
		{name: "other server error", call: func() error {
			cluster.ServerErrors(1, http.MethodGet, "/connectors/x", "Request timed out")
			_, err := c.Config(ctx, "x")
			return err
		}, status: 500, message: "Request timed out", retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Status != tt.status {
				t.Fatalf("err = %v, want HTTP %d", err, tt.status)
			}
			if !strings.Contains(ce.Message, tt.message) {
				t.Errorf("message %q lacks Connect's %q", ce.Message, tt.message)
			}
			if connect.IsNotFound(err) != tt.notFound || connect.IsConflict(err) != tt.conflict ||
				connect.IsBadRequest(err) != tt.badRequest || connect.IsRetryable(err) != tt.retryable ||
				connect.IsRebalance(err) != tt.rebalance {
				t.Errorf("classification of %v is wrong", err)
			}
		})
	}

	cluster.Workers()[0].Down()
	err := c.Ping(ctx)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Status != 0 || !connect.IsRetryable(err) {
		t.Fatalf("refused connection = %v, want a retryable error with no status", err)
	}
}

// TestClientTLSAndBasicAuth puts Connect behind HTTPS with basic auth, as a
// secured Connect REST listener is, and checks the CA bundle and credentials
// are used and the password never shows in an error.
func TestClientTLSAndBasicAuth(t *testing.T) {
	const user, password = "mm2-sidecar", "hunter2-marker"
	cluster := connecttest.NewCluster(t, 1)
	backend, err := url.Parse(cluster.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(backend)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error_code":401,"message":"User cannot access the resource."}`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	good := newClient(t, connect.Config{URL: srv.URL, CAFile: caFile, Username: user, Password: password}, nil)
	if err := good.Ping(ctx); err != nil {
		t.Fatalf("Ping over TLS with basic auth: %v", err)
	}

	wrongPassword := newClient(t, connect.Config{URL: srv.URL, CAFile: caFile, Username: user, Password: "wrong-" + password}, nil)
	err = wrongPassword.Ping(ctx)
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
		t.Fatalf("wrong password = %v, want 401", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Fatalf("error %q carries the password", err)
	}

	noCA := newClient(t, connect.Config{URL: srv.URL}, nil)
	if err := noCA.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Ping without the CA bundle = %v, want a certificate error", err)
	}

	if _, err := connect.New(connect.Config{URL: srv.URL, CAFile: filepath.Join(t.TempDir(), "missing.pem")}, nil); err == nil ||
		!strings.Contains(err.Error(), "SIDECAR_CONNECT_CA_FILE") {
		t.Fatalf("missing CA file = %v, want an error naming SIDECAR_CONNECT_CA_FILE", err)
	}
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	if _, err := connect.New(connect.Config{URL: srv.URL, CAFile: notPEM}, nil); err == nil ||
		!strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("CA file without PEM = %v", err)
	}
}

// Config refuses credentials in SIDECAR_CONNECT_URL; the client still never
// shows one, whether in BaseURL (which is logged), a parse error or a
// transport error.
func TestClientHidesURLPassword(t *testing.T) {
	const password = "MARKER-SECRET-5e0a"
	c := newClient(t, connect.Config{URL: "http://admin:" + password + "@127.0.0.1:1", Timeout: time.Second}, nil)
	if strings.Contains(c.BaseURL(), password) {
		t.Errorf("BaseURL() = %q shows the password", c.BaseURL())
	}
	if err := c.Ping(context.Background()); err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("Ping to a closed port = %v, want an error without the password", err)
	}
	_, err := connect.New(connect.Config{URL: "http://admin:" + password + "@host:80%zz"}, nil)
	if err == nil || !strings.Contains(err.Error(), "SIDECAR_CONNECT_URL") || strings.Contains(err.Error(), password) {
		t.Errorf("unparsable URL = %v, want an error naming SIDECAR_CONNECT_URL without the password", err)
	}
}

// namesAnswer is a valid GET /connectors answer of exactly n bytes.
func namesAnswer(n int) []byte {
	b := make([]byte, 0, n)
	b = append(b, `["`...)
	for len(b) < n-2 {
		b = append(b, 'a')
	}
	return append(b, `"]`...)
}

// An answer longer than the sidecar reads is an error saying so, not a
// silently cut answer (a cut listing could read as complete) nor a buffer
// of whatever size Connect, or whatever answers in its place, sends.
func TestClientCapsAnswers(t *testing.T) {
	tests := []struct {
		name string
		size int
		ok   bool
	}{
		{"at the cap", connect.MaxAnswerBytes, true},
		{"one byte over", connect.MaxAnswerBytes + 1, false},
		{"far over", 4 * connect.MaxAnswerBytes, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := namesAnswer(tt.size)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write(body)
			}))
			defer srv.Close()
			names, err := newClient(t, connect.Config{URL: srv.URL}, nil).Connectors(context.Background())
			if tt.ok {
				if err != nil || len(names) != 1 || len(names[0]) != tt.size-4 {
					t.Fatalf("answer at the cap: %d names, %v", len(names), err)
				}
				return
			}
			if !errors.Is(err, connect.ErrAnswerTooLarge) || !strings.Contains(err.Error(), "GET /connectors") || !strings.Contains(err.Error(), "16 MiB") {
				t.Fatalf("error %v, want ErrAnswerTooLarge naming the request and the cap", err)
			}
		})
	}
}
