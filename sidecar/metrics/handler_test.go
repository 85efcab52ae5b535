package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/mm2-fargate/mm2-ecs/internal/memnet"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
)

// exporter answers as the JMX exporter would, after delay.
func exporter(status int, body []byte, delay time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// jmxExporter serves body as the JMX exporter would, after delay, on loopback.
func jmxExporter(t *testing.T, status int, body []byte, delay time.Duration) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(exporter(status, body, delay))
	t.Cleanup(srv.Close)
	return srv
}

func scrapeHandler(t *testing.T, h http.Handler) []byte {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	return scrape(t, http.DefaultClient, srv.URL)
}

// scrape GETs url/metrics through c and checks the answer is an exposition.
func scrape(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	resp, err := c.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("content type %q", ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each case runs in a synctest bubble on an in-memory network, so the
// exporter that does not answer in time costs no real time.
func TestHandlerWhateverTheExporterDoes(t *testing.T) {
	fixture := readFixture(t, "connect_mm2.prom")
	const timeout = 10 * time.Second
	tests := []struct {
		name        string
		exporter    http.Handler // nil: nothing listens
		url         string
		wantUp      float64
		passthrough bool
	}{
		{"ok", exporter(200, fixture, 0), "http://worker:9404/metrics", 1, true},
		{"http 500", exporter(500, []byte("boom"), 0), "http://worker:9404/metrics", 0, false},
		{"timeout", exporter(200, fixture, 2*timeout), "http://worker:9404/metrics", 0, false},
		{"refused", nil, "http://worker:9404/metrics", 0, false},
		{"off", nil, "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n memnet.Network
				if tt.exporter != nil {
					n.Serve(t, "worker:9404", tt.exporter)
				}
				reg := NewRegistry("test")
				jmx := NewJMX(JMXOptions{URL: tt.url, Timeout: timeout, Labels: testLabels(), PerTopic: true, Client: n.Client()}, reg)
				began := time.Now()
				out := scrape(t, n.Client(), n.Serve(t, "sidecar:9100", Handler(reg, jmx, nil)))
				if took := time.Since(began); took > timeout {
					t.Errorf("the scrape took %s, longer than the JMX timeout %s", took, timeout)
				}
				got, mfs := parseText(t, out)
				if v, ok := got["connect_sidecar_jmx_up{}"]; !ok || v != tt.wantUp {
					t.Fatalf("connect_sidecar_jmx_up = %v (present %v), want %v", v, ok, tt.wantUp)
				}
				if _, ok := mfs["connect_sidecar_build_info"]; !ok {
					t.Fatal("sidecar metrics missing")
				}
				_, has := mfs["kafka_connect_mirror_source_connector_record_count"]
				if has != tt.passthrough {
					t.Fatalf("passthrough present = %v, want %v", has, tt.passthrough)
				}
				snap := jmx.Snapshot()
				if snap.Up != (tt.wantUp == 1) || snap.At.IsZero() {
					t.Fatalf("snapshot = %+v", snap)
				}
				if tt.passthrough && snap.BacklogRecords != 390 {
					t.Fatalf("snapshot backlog = %v, want 390", snap.BacklogRecords)
				}
			})
		})
	}
}

func TestHandlerOutputIsLintClean(t *testing.T) {
	reg := NewRegistry("1.2.3")
	reg.ObserveReconcile("msc", "unchanged", 20*time.Millisecond)
	reg.CountRequest("PUT", 200)
	reg.CountRestart("msc")
	reg.SetConfigError("cpc", true)
	reg.SetUnmanaged(1)
	reg.SetLeader(true)
	reg.CountS3Fetch("ok")
	reg.SetCertificateExpiry("truststore", "CN=Example Root CA", time.Unix(1893456000, 0))
	reg.CountCloudWatchDropped(3)
	reg.CountCloudWatchPut("ok")
	reg.State().Update(map[string]connect.ConnectorStatus{
		"msc": {Name: "msc", Connector: connect.State{State: "RUNNING", WorkerID: "10.0.1.5:8083"},
			Tasks: []connect.TaskState{{ID: 0, State: "RUNNING", WorkerID: "10.0.1.5:8083"}}},
	}, "10.0.1.5:8083", true)

	problems, err := testutil.GatherAndLint(reg.Gatherer())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("sidecar metric %s: %s", p.Metric, p.Text)
	}

	jmx := NewJMX(JMXOptions{URL: jmxExporter(t, 200, readFixture(t, "connect_mm2.prom"), 0).URL, Timeout: time.Second, Labels: testLabels()}, reg)
	out := scrapeHandler(t, Handler(reg, jmx, nil))
	problems, err = promlint.New(bytes.NewReader(out)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	// The only findings allowed are on names the metric-name contract fixes
	// for the JMX exporter (they keep Kafka's own attribute names): "_ms"
	// units and gauges named "*_count". Everything the sidecar names itself,
	// and every label it adds, is clean.
	contractCounts := map[string]bool{
		"kafka_connect_mirror_source_connector_byte_count":   true,
		"kafka_connect_mirror_source_connector_record_count": true,
		"kafka_connect_worker_connector_count":               true,
		"kafka_connect_worker_task_count":                    true,
	}
	for _, p := range problems {
		switch {
		case strings.HasPrefix(p.Metric, ownPrefix):
			t.Errorf("%s: %s", p.Metric, p.Text)
		case strings.Contains(p.Metric, "_ms") && p.Text == "metric names should not contain abbreviated units":
		case contractCounts[p.Metric] && strings.Contains(p.Text, `should not have "_count" suffix`):
		default:
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

func TestStateExportedOnceAcrossWorkers(t *testing.T) {
	statuses := map[string]connect.ConnectorStatus{
		"msc": {Name: "msc", Connector: connect.State{State: "RUNNING", WorkerID: "w1:8083"}, Tasks: []connect.TaskState{
			{ID: 0, State: "RUNNING", WorkerID: "w1:8083"},
			{ID: 1, State: "FAILED", WorkerID: "w2:8083"},
			{ID: 2, State: "UNASSIGNED", WorkerID: "w2:8083"},
			{ID: 3, State: "RUNNING", WorkerID: "w2:8083"},
		}},
		"cpc": {Name: "cpc", Connector: connect.State{State: "PAUSED", WorkerID: "w2:8083"}, Tasks: []connect.TaskState{
			{ID: 0, State: "PAUSED", WorkerID: "w1:8083"},
		}},
	}
	workers := []struct {
		id      string
		leader  bool
		running int
		failed  int
	}{
		{"w1:8083", true, 1, 0},
		{"w2:8083", false, 1, 1},
		{"w3:8083", false, 0, 0},
	}
	connectorSeries := map[string]int{}
	taskSeries := map[string]int{}
	for _, w := range workers {
		reg := NewRegistry("test")
		reg.State().Update(statuses, w.id, w.leader)
		running, failed, ok := reg.State().LocalTaskCounts()
		if !ok || running != w.running || failed != w.failed {
			t.Errorf("%s: running=%d failed=%d ok=%v, want %d %d", w.id, running, failed, ok, w.running, w.failed)
		}
		mfs, err := reg.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if m.GetGauge().GetValue() != 1 {
					continue
				}
				k := seriesKey(mf.GetName(), m.GetLabel())
				switch mf.GetName() {
				case "connect_sidecar_connector_state":
					connectorSeries[k]++
				case "connect_sidecar_task_state":
					taskSeries[k]++
				}
			}
		}
	}
	wantConnectors := []string{
		"connect_sidecar_connector_state{connector=msc,state=RUNNING}",
		"connect_sidecar_connector_state{connector=cpc,state=PAUSED}",
	}
	wantTasks := []string{
		"connect_sidecar_task_state{connector=msc,state=RUNNING,task=0,worker=w1:8083}",
		"connect_sidecar_task_state{connector=msc,state=FAILED,task=1,worker=w2:8083}",
		"connect_sidecar_task_state{connector=msc,state=UNASSIGNED,task=2,worker=w2:8083}",
		"connect_sidecar_task_state{connector=msc,state=RUNNING,task=3,worker=w2:8083}",
		"connect_sidecar_task_state{connector=cpc,state=PAUSED,task=0,worker=w1:8083}",
	}
	check := func(kind string, got map[string]int, want []string) {
		if len(got) != len(want) {
			t.Errorf("%s: %d current-state series across the cluster, want %d: %v", kind, len(got), len(want), got)
		}
		for _, k := range want {
			if got[k] != 1 {
				t.Errorf("%s exported %d times, want exactly once", k, got[k])
			}
		}
	}
	check("connectors", connectorSeries, wantConnectors)
	check("tasks", taskSeries, wantTasks)
}

// Run scrapes every interval, unless a scrape (the /metrics handler's)
// came less than half an interval before.
func TestRunRefreshesSnapshotWithoutScrapes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n memnet.Network
		count := &entered{next: exporter(200, readFixture(t, "connect_mm2.prom"), 0)}
		url := n.Serve(t, "worker:9404", count)
		const interval = 30 * time.Second
		jmx := NewJMX(JMXOptions{URL: url, Timeout: time.Second, Client: n.Client()}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { jmx.Run(ctx, interval); close(done) }()
		defer func() { cancel(); <-done }()

		synctest.Wait()
		first := jmx.Snapshot()
		if !first.Up || first.LeaderURL != "http://10.0.1.5:8083/" || count.n.Load() != 1 {
			t.Fatalf("after the start: %d scrapes, snapshot %+v", count.n.Load(), first)
		}
		time.Sleep(interval)
		synctest.Wait()
		if s := jmx.Snapshot(); count.n.Load() != 2 || !s.Up || s.At.Sub(first.At) != interval {
			t.Fatalf("one interval on: %d scrapes, snapshot taken %s after the first; want 2 and %s", count.n.Load(), s.At.Sub(first.At), interval)
		}
		// A scrape a quarter interval before the tick stands for it.
		time.Sleep(interval * 3 / 4)
		if _, err := jmx.Scrape(context.Background(), io.Discard); err != nil {
			t.Fatal(err)
		}
		time.Sleep(interval / 4)
		synctest.Wait()
		if count.n.Load() != 3 {
			t.Fatalf("%d scrapes; Run scraped again a quarter interval after another scrape", count.n.Load())
		}
		time.Sleep(interval)
		synctest.Wait()
		if count.n.Load() != 4 {
			t.Fatalf("%d scrapes; Run did not scrape at the tick after", count.n.Load())
		}
	})
}

func TestLeaderURLOnlyFromFreshSuccessfulScrapes(t *testing.T) {
	const maxAge = 2 * time.Minute
	tests := []struct {
		name   string
		status int
		age    time.Duration // of the snapshot when LeaderURL is asked
		want   string
		wantOK bool
	}{
		{"fresh", 200, 0, "http://10.0.1.5:8083/", true},
		{"as old as allowed", 200, maxAge, "http://10.0.1.5:8083/", true},
		{"stale", 200, maxAge + time.Nanosecond, "", false},
		{"exporter down", 500, 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var n memnet.Network
				url := n.Serve(t, "worker:9404", exporter(tt.status, readFixture(t, "connect_mm2.prom"), 0))
				jmx := NewJMX(JMXOptions{URL: url, Timeout: time.Second, MaxAge: maxAge, Client: n.Client()}, nil)
				_, _ = jmx.Scrape(context.Background(), io.Discard)
				time.Sleep(tt.age)
				got, gotOK := jmx.LeaderURL()
				if got != tt.want || gotOK != tt.wantOK {
					t.Fatalf("LeaderURL() = %q, %v; want %q, %v", got, gotOK, tt.want, tt.wantOK)
				}
			})
		})
	}
}

// held is a JMX exporter that answers only once released, counting requests.
type held struct {
	body     []byte
	release  chan struct{}
	mu       sync.Mutex
	requests int
}

func (h *held) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests
}

func (h *held) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.requests++
	h.mu.Unlock()
	select {
	case <-h.release:
	case <-r.Context().Done():
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(h.body)
}

// entered counts the scrapes that reached the handler.
type entered struct {
	next http.Handler
	n    atomic.Int32
}

func (e *entered) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.n.Add(1)
	e.next.ServeHTTP(w, r)
}

// Scrapes that come while a rendering is under way share it: one request
// to the JMX exporter and one exposition in memory for all of them.
func TestHandlerConcurrentScrapesShareOneRendering(t *testing.T) {
	const scrapers = 50
	exporter := &held{body: readFixture(t, "connect_mm2.prom"), release: make(chan struct{})}
	jmxSrv := httptest.NewServer(exporter)
	defer jmxSrv.Close()
	reg := NewRegistry("test")
	jmx := NewJMX(JMXOptions{URL: jmxSrv.URL, Timeout: time.Minute, Labels: testLabels(), PerTopic: true}, reg)
	front := &entered{next: Handler(reg, jmx, nil)}
	srv := httptest.NewServer(front)
	defer srv.Close()

	bodies := make([][]byte, scrapers)
	errs := make([]error, scrapers)
	var wg sync.WaitGroup
	for i := range scrapers {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/metrics")
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			bodies[i], errs[i] = io.ReadAll(resp.Body)
		})
	}
	for front.n.Load() < scrapers {
		runtime.Gosched()
	}
	close(exporter.release)
	wg.Wait()
	for i := range scrapers {
		if errs[i] != nil {
			t.Fatalf("scrape %d: %v", i, errs[i])
		}
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Fatalf("scrape %d got another exposition", i)
		}
	}
	if !bytes.Contains(bodies[0], []byte("kafka_connect_mirror_source_connector_record_count")) || !bytes.Contains(bodies[0], []byte("connect_sidecar_jmx_up 1")) {
		t.Fatalf("exposition lacks the passthrough:\n%s", bodies[0])
	}
	if n := exporter.count(); n != 1 {
		t.Errorf("%d scrapes made %d requests to the JMX exporter, want 1", scrapers, n)
	}
	// The next scrape renders anew.
	scrapeHandler(t, front.next)
	if n := exporter.count(); n != 2 {
		t.Errorf("a later scrape reused an old rendering: %d exporter requests", n)
	}
}

// An exporter answer over the cap ends the passthrough there: jmx_up 0 and
// an error naming the setting, never an unbounded read.
func TestJMXAnswerOverTheCap(t *testing.T) {
	fixture := readFixture(t, "connect_mm2.prom")
	for _, tt := range []struct {
		name string
		max  int64
		up   bool
	}{
		{"at the cap", int64(len(fixture)), true},
		{"one byte over", int64(len(fixture)) - 1, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := NewRegistry("test")
			jmx := NewJMX(JMXOptions{URL: jmxExporter(t, 200, fixture, 0).URL, Timeout: 5 * time.Second, Labels: testLabels(), MaxBytes: tt.max}, reg)
			_, err := jmx.Scrape(context.Background(), io.Discard)
			if tt.up {
				if err != nil || !jmx.Snapshot().Up {
					t.Fatalf("answer at the cap: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrExpositionTooLarge) || !strings.Contains(err.Error(), "SIDECAR_JMX_MAX_BYTES") || jmx.Snapshot().Up {
				t.Fatalf("error %v, up %v; want ErrExpositionTooLarge naming SIDECAR_JMX_MAX_BYTES and jmx down", err, jmx.Snapshot().Up)
			}
		})
	}
}
