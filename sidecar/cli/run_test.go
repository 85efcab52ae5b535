package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const hbc = `{"name":"mm2-hbc","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorHeartbeatConnector","tasks.max":1,"source.cluster.alias":"source","target.cluster.alias":"target"}}`
const msc = `{"name":"mm2-msc","connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","tasks.max":"2","source.cluster.alias":"source","target.cluster.alias":"target","topics":".*"}`

// startRun runs `connect-sidecar run` until the returned stop is called,
// which reports its exit code.
func startRun(t *testing.T) (stop func() int, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	code := make(chan int, 1)
	go func() { code <- runRun(ctx, nil, &syncBuffer{}, logs) }()
	return func() int {
		cancel()
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("run did not stop after cancel")
			return -1
		}
	}, logs
}

func ready(t *testing.T, addr string) bool {
	t.Helper()
	var out, errOut bytes.Buffer
	return runHealthcheck(context.Background(), []string{"--addr", addr, "--timeout", "1s"}, &out, &errOut) == 0
}

// reconcilePass is a series of the reconcile counter: one pass over a
// connector, by outcome.
var reconcilePass = regexp.MustCompile(`(?m)^connect_sidecar_reconcile_total\{connector="([^"]*)",outcome="([^"]*)"\} (\d+)$`)

// reconcilePasses counts the reconcile passes over connector the sidecar
// serving /metrics at addr made, those with outcome only when it is set.
func reconcilePasses(t *testing.T, addr, connector, outcome string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range reconcilePass.FindAllStringSubmatch(string(body), -1) {
		if m[1] == connector && (outcome == "" || m[2] == outcome) {
			c, _ := strconv.Atoi(m[3])
			n += c
		}
	}
	return n
}

func TestRun(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hbc.json"), []byte(hbc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "msc.json"), []byte(msc), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	t.Setenv("SIDECAR_CONNECT_URL", c.URLs()[2])
	t.Setenv("SIDECAR_CONNECTORS_URI", "file://"+dir)
	t.Setenv("SIDECAR_METRICS_ADDR", addr)
	t.Setenv("SIDECAR_RECONCILE_INTERVAL", "100ms")
	t.Setenv("SIDECAR_WRITE_JITTER", "10ms")
	t.Setenv("SIDECAR_LOG_FORMAT", "text")
	// No JMX exporter and no lag measurement: whatever listens on this
	// machine's default exporter port must not decide leadership here.
	t.Setenv("SIDECAR_JMX_URL", "")
	t.Setenv("SIDECAR_LAG_INTERVAL", "0s")

	// Connect comes up after the sidecar: run waits for it.
	w := c.Workers()[2]
	w.Down()
	stop, logs := startRun(t)
	eventually(t, "the wait to be logged", func() bool { return strings.Contains(logs.String(), "waiting for Connect REST") })
	var out, errOut bytes.Buffer
	if runHealthcheck(context.Background(), []string{"--addr", addr, "--healthz"}, &out, &errOut) != 0 {
		t.Fatalf("/healthz while waiting: %s %s", out.String(), errOut.String())
	}
	if ready(t, addr) {
		t.Fatal("ready before Connect answered")
	}
	w.Up()
	eventually(t, "readiness", func() bool { return ready(t, addr) })
	if len(c.Connectors()) != 2 || c.TotalWrites() != 2 {
		t.Fatalf("connectors %v, writes %d", c.Connectors(), c.TotalWrites())
	}

	// An edit is applied without a restart, with one write.
	edited := strings.Replace(msc, `"tasks.max":"2"`, `"tasks.max":"3"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "msc.json"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the edit", func() bool { cfg, _ := c.Config("mm2-msc"); return cfg["tasks.max"] == "3" })
	// Two passes over mm2-msc after the one that wrote the edit, each of
	// which would have written again had it seen a difference.
	eventually(t, "the pass that wrote the edit", func() bool { return reconcilePasses(t, addr, "mm2-msc", "updated") >= 1 })
	after := reconcilePasses(t, addr, "mm2-msc", "")
	eventually(t, "two more passes", func() bool { return reconcilePasses(t, addr, "mm2-msc", "") >= after+2 })
	if c.Writes("mm2-msc") != 2 {
		t.Fatalf("msc writes %d, want 2 (create, edit)", c.Writes("mm2-msc"))
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d on cancel; logs:\n%s", code, logs.String())
	}

	// A second start writes nothing.
	c.ResetCounters()
	stop, logs = startRun(t)
	eventually(t, "readiness after restart", func() bool { return ready(t, addr) })
	// Ready: the first pass is done; two more, as above.
	eventually(t, "three passes", func() bool { return reconcilePasses(t, addr, "mm2-msc", "") >= 3 })
	if code := stop(); code != 0 || c.TotalWrites() != 0 || c.TotalRestarts() != 0 {
		t.Fatalf("second start: exit %d, writes %d, restarts %d; logs:\n%s", code, c.TotalWrites(), c.TotalRestarts(), logs.String())
	}
}

// SIGTERM while a Connect request hangs: the request is abandoned after
// SIDECAR_SHUTDOWN_GRACE and run exits 0, long before the request's own
// timeout.
func TestRunAbandonsHungRequestOnShutdown(t *testing.T) {
	c := connecttest.NewCluster(t, 1)
	c.InjectFault(connecttest.Fault{Path: "/connectors", Worker: connecttest.AnyWorker, Delay: time.Minute})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hbc.json"), []byte(hbc), 0o644); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"SIDECAR_CONNECT_URL":     c.URL(),
		"SIDECAR_CONNECTORS_URI":  "file://" + dir,
		"SIDECAR_METRICS_ADDR":    freeAddr(t),
		"SIDECAR_CONNECT_TIMEOUT": "2m",
		"SIDECAR_SHUTDOWN_GRACE":  "200ms",
		"SIDECAR_JMX_URL":         "",
		"SIDECAR_LAG_INTERVAL":    "0s",
		"SIDECAR_LOG_FORMAT":      "text",
	} {
		t.Setenv(k, v)
	}
	stop, logs := startRun(t)
	// GET / answered, then the listing GET /connectors hangs.
	eventually(t, "the listing to be under way", func() bool { return c.Requests()["GET"] >= 2 })
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d; logs:\n%s", code, logs.String())
	}
}

func TestLocalAddr(t *testing.T) {
	for in, want := range map[string]string{":9400": "127.0.0.1:9400", "0.0.0.0:9400": "127.0.0.1:9400", "10.0.0.5:9400": "10.0.0.5:9400", "[::]:9400": "127.0.0.1:9400"} {
		if got := localAddr(in); got != want {
			t.Errorf("localAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// leaderName is the leader-name series' label, whoever the fixture's
// capture names.
var leaderName = regexp.MustCompile(`leader_name="[^"]*"`)

// withLeader names leader as the Connect group leader in a JMX exposition.
func withLeader(exposition, leader string) string {
	return leaderName.ReplaceAllLiteralString(exposition, `leader_name="`+leader+`"`)
}

// TestRunExportsMetricsAndEMF runs the whole `run` wiring: the JMX
// passthrough with task labels, the leader check from the exporter's
// leader-name, Connect state from REST, and EMF lines on stdout. Connector
// state, a cluster-wide fact, comes only from the leader's sidecar: not from
// another worker's, and not from anyone while the leader is unknown.
func TestRunExportsMetricsAndEMF(t *testing.T) {
	fixture, err := os.ReadFile("../../connect-image/testdata/jmx-exposition.prom")
	if err != nil {
		t.Fatal(err)
	}
	const connectorState = `connect_sidecar_connector_state{connector="mm2-hbc",state="RUNNING"} 1`
	tests := []struct {
		name     string
		leader   func(c *connecttest.Cluster) string // "" drops the leader series
		isLeader string
		exports  bool
	}{
		{"this worker leads", func(c *connecttest.Cluster) string { u, _ := c.Leader(); return u }, "connect_sidecar_is_leader 1", true},
		{"another worker leads", func(*connecttest.Cluster) string { return "http://10.9.9.9:8083/" }, "connect_sidecar_is_leader 0", false},
		{"leader unknown", func(*connecttest.Cluster) string { return "" }, "connect_sidecar_is_leader 0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connecttest.NewCluster(t, 2)
			exposition := string(fixture)
			if leader := tt.leader(c); leader != "" {
				exposition = withLeader(exposition, leader)
			} else {
				var kept []string
				for _, line := range strings.Split(exposition, "\n") {
					if !strings.Contains(line, "kafka_connect_worker_rebalance_leader") {
						kept = append(kept, line)
					}
				}
				exposition = strings.Join(kept, "\n")
			}
			jmx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				io.WriteString(w, exposition)
			}))
			t.Cleanup(jmx.Close)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "hbc.json"), []byte(hbc), 0o644); err != nil {
				t.Fatal(err)
			}
			addr := freeAddr(t)
			for k, v := range map[string]string{
				"SIDECAR_CONNECT_URL":         c.URLs()[0],
				"SIDECAR_ADVERTISED_URL":      c.URLs()[0],
				"SIDECAR_CONNECTORS_URI":      "file://" + dir,
				"SIDECAR_METRICS_ADDR":        addr,
				"SIDECAR_JMX_URL":             jmx.URL,
				"SIDECAR_RECONCILE_INTERVAL":  "300ms",
				"SIDECAR_WRITE_JITTER":        "10ms",
				"SIDECAR_LEADER_WAIT":         "300ms",
				"SIDECAR_LAG_INTERVAL":        "0s",
				"SIDECAR_CLOUDWATCH_MODE":     "emf",
				"SIDECAR_CLOUDWATCH_INTERVAL": "200ms",
				"SIDECAR_CLUSTER_NAME":        "demo",
				"SIDECAR_SERVICE_NAME":        "mm2",
				"SIDECAR_LOG_FORMAT":          "text",
			} {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithCancel(context.Background())
			stdout, logs := &syncBuffer{}, &syncBuffer{}
			code := make(chan int, 1)
			go func() { code <- runRun(ctx, nil, stdout, logs) }()
			defer func() {
				cancel()
				if c := <-code; c != 0 {
					t.Errorf("exit code %d; logs:\n%s", c, logs.String())
				}
			}()

			scrape := func() string {
				resp, err := http.Get("http://" + addr + "/metrics")
				if err != nil {
					return ""
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return string(b)
			}
			want := []string{tt.isLeader, `ecs_cluster="demo"`, "connect_sidecar_jmx_up 1",
				`connect_sidecar_reconcile_total{connector="mm2-hbc"`}
			if tt.exports {
				want = append(want, connectorState)
			}
			var body string
			eventually(t, "metrics from every part", func() bool {
				body = scrape()
				for _, w := range want {
					if !strings.Contains(body, w) {
						return false
					}
				}
				return true
			})
			if !tt.exports && strings.Contains(body, "connect_sidecar_connector_state{") {
				t.Errorf("connector state exported by a sidecar that does not lead:\n%s", body)
			}
			eventually(t, "an EMF line", func() bool {
				return strings.Contains(stdout.String(), `"ReplicationBacklogRecords"`) && strings.Contains(stdout.String(), `"_aws"`)
			})
		})
	}
}

// Bad command lines and bad settings give one line per problem on stderr,
// each naming what is wrong, and a non-zero exit before anything starts.
func TestRunAndHealthcheckRefuseBadInput(t *testing.T) {
	tests := []struct {
		name  string
		run   func(stdout, stderr io.Writer) int
		env   map[string]string
		code  int
		lines []string
	}{
		{
			name:  "run: unknown argument",
			run:   func(o, e io.Writer) int { return runRun(context.Background(), []string{"--once"}, o, e) },
			code:  2,
			lines: []string{`connect-sidecar run: unknown argument "--once"`},
		},
		{
			name: "run: two bad settings",
			run:  func(o, e io.Writer) int { return runRun(context.Background(), nil, o, e) },
			env:  map[string]string{"SIDECAR_LOG_FORMAT": "xml", "SIDECAR_METRICS_ADDR": "9400"},
			code: 2,
			lines: []string{
				`connect-sidecar run: SIDECAR_LOG_FORMAT="xml"`,
				`connect-sidecar run: SIDECAR_METRICS_ADDR="9400"`,
			},
		},
		{
			name: "healthcheck: two bad settings",
			run:  func(o, e io.Writer) int { return runHealthcheck(context.Background(), nil, o, e) },
			env:  map[string]string{"SIDECAR_CONNECT_URL": "localhost:8083", "SIDECAR_METRICS_ADDR": "9400"},
			code: 2,
			lines: []string{
				`connect-sidecar healthcheck: SIDECAR_CONNECT_URL="localhost:8083"`,
				`connect-sidecar healthcheck: SIDECAR_METRICS_ADDR="9400"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := tt.run(&stdout, &stderr); code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			got := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(got) != len(tt.lines) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(got), len(tt.lines), stderr.String())
			}
			for i, want := range tt.lines {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("line %d = %q, want it to start with %q", i+1, got[i], want)
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}
