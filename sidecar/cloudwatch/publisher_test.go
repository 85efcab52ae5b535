package cloudwatch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/mm2-fargate/mm2-ecs/sidecar/cloudwatch/cloudwatchtest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
	"github.com/mm2-fargate/mm2-ecs/sidecar/metrics"
)

// fakeCloudWatch speaks PutMetricData the way the current SDK sends it:
// Smithy RPC v2 CBOR, gzip above the SDK's compression threshold. answers
// queues the behaviour of the next requests ("throttle", "invalid", "drop");
// an empty queue answers success.
type fakeCloudWatch struct {
	t       *testing.T
	mu      sync.Mutex
	answers []string
	reqs    []cloudwatchtest.Put
	http    int // HTTP requests seen, failed ones included
}

func (f *fakeCloudWatch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.http++
	answer := ""
	if len(f.answers) > 0 {
		answer, f.answers = f.answers[0], f.answers[1:]
	}
	f.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != cloudwatchtest.Path {
		f.t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if got := r.Header.Get("Smithy-Protocol"); got != "rpc-v2-cbor" {
		f.t.Errorf("Smithy-Protocol = %q", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/cbor" {
		f.t.Errorf("Content-Type = %q", got)
	}
	if answer == "drop" {
		// An unreachable endpoint: the connection dies without an answer.
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	req, err := cloudwatchtest.ReadPut(r)
	if err != nil {
		f.t.Errorf("PutMetricData: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}

	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	switch answer {
	case "throttle":
		// CloudWatch's Query-protocol code for throttling is "Throttling"
		// (HTTP 400, Sender); the query-compatible CBOR protocol carries it
		// in x-amzn-query-error next to the body's __type.
		w.Header().Set("X-Amzn-Query-Error", "Throttling;Sender")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{
			"__type":  cbor.String("com.amazon.coral.availability#ThrottlingException"),
			"message": cbor.String("Rate exceeded"),
		}))
		return
	case "denied":
		w.Header().Set("X-Amzn-Query-Error", "AccessDenied;Sender")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write(cbor.Encode(cbor.Map{
			"__type":  cbor.String("com.amazon.coral.service#AccessDeniedException"),
			"message": cbor.String("User: arn:aws:sts::123456789012:assumed-role/mm2-connect-task/x is not authorized to perform: cloudwatch:PutMetricData"),
		}))
		return
	case "invalid":
		w.Header().Set("X-Amzn-Query-Error", "InvalidParameterValue;Sender")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{
			"__type":  cbor.String("com.amazonaws.cloudwatch#InvalidParameterValueException"),
			"message": cbor.String("The value NaN for parameter MetricData.member.1.Value is invalid."),
		}))
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	_, _ = w.Write(cbor.Encode(cbor.Map{}))
}

func (f *fakeCloudWatch) queue(answers ...string) {
	f.mu.Lock()
	f.answers = append(f.answers, answers...)
	f.mu.Unlock()
}

func (f *fakeCloudWatch) requests() []cloudwatchtest.Put {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cloudwatchtest.Put(nil), f.reqs...)
}

// newAPI builds the real SDK client against srv the way production does:
// AWS_ENDPOINT_URL_CLOUDWATCH, static credentials from the environment.
func newAPI(t *testing.T, srv *httptest.Server) API {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH", srv.URL)
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CA_BUNDLE", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	api, err := NewAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func startFake(t *testing.T) (*fakeCloudWatch, *httptest.Server) {
	t.Helper()
	f := &fakeCloudWatch{t: t}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

type fakeJMX struct{ s metrics.JMXSnapshot }

func (f *fakeJMX) Snapshot() metrics.JMXSnapshot { return f.s }

type fakeTasks struct {
	running, failed int
	ok              bool
}

func (f fakeTasks) LocalTaskCounts() (int, int, bool) { return f.running, f.failed, f.ok }

type recorder struct {
	mu      sync.Mutex
	dropped int
	puts    map[string]int
}

func (r *recorder) CountCloudWatchDropped(n int) { r.mu.Lock(); r.dropped += n; r.mu.Unlock() }
func (r *recorder) CountCloudWatchPut(outcome string) {
	r.mu.Lock()
	if r.puts == nil {
		r.puts = map[string]int{}
	}
	r.puts[outcome]++
	r.mu.Unlock()
}

// leaderValues stands for the leader's lag collector with a fresh measurement.
func leaderValues(totalBacklog float64, groupsNotReady int) func() (float64, int, bool) {
	return func() (float64, int, bool) { return totalBacklog, groupsNotReady, true }
}

func testPublisher(t *testing.T, o Options) *Publisher {
	t.Helper()
	if o.Mode == "" {
		o.Mode = ModeAPI
	}
	o.Namespace = "MM2/Connect"
	o.Interval = time.Minute
	if o.ClusterName == "" {
		o.ClusterName = "mm2-cluster"
	}
	o.ServiceName = "mm2-connect"
	o.RetryBase = 5 * time.Millisecond
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func upSnapshot(at time.Time) metrics.JMXSnapshot {
	return metrics.JMXSnapshot{Up: true, At: at, BacklogRecords: 390, MaxRecordAgeMs: 4500, MaxReplicationLatencyMs: 95, LeaderURL: "http://10.0.1.5:8083/"}
}

func TestAPIOneIntervalOneRequest(t *testing.T) {
	f, srv := startFake(t)
	rec := &recorder{}
	now := time.Now()
	p := testPublisher(t, Options{API: newAPI(t, srv), JMX: &fakeJMX{upSnapshot(now)},
		Tasks: fakeTasks{running: 3, failed: 1, ok: true}, Recorder: rec, Leader: leaderValues(12345, 2)})
	p.Publish(context.Background(), now)

	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Namespace != "MM2/Connect" {
		t.Errorf("namespace %q", r.Namespace)
	}
	want := map[string]struct {
		unit  string
		value float64
	}{
		"ReplicationBacklogRecords": {"Count", 390},
		"MaxRecordAge":              {"Milliseconds", 4500},
		"MaxReplicationLatency":     {"Milliseconds", 95},
		"RunningTasks":              {"Count", 3},
		"FailedTasks":               {"Count", 1},
		"TotalBacklogRecords":       {"Count", 12345},
		"GroupsNotReady":            {"Count", 2},
	}
	if len(r.Datums) != len(want) {
		t.Fatalf("%d datums, want %d: %+v", len(r.Datums), len(want), r.Datums)
	}
	for _, d := range r.Datums {
		w, ok := want[d.Name]
		if !ok {
			t.Errorf("unexpected datum %s", d.Name)
			continue
		}
		if d.Unit != w.unit || d.Value != w.value {
			t.Errorf("%s = %v %s, want %v %s", d.Name, d.Value, d.Unit, w.value, w.unit)
		}
		if len(d.Dimensions) != 2 || d.Dimensions["ClusterName"] != "mm2-cluster" || d.Dimensions["ServiceName"] != "mm2-connect" {
			t.Errorf("%s dimensions %v", d.Name, d.Dimensions)
		}
		if d.Resolution != 60 {
			t.Errorf("%s storage resolution %d", d.Name, d.Resolution)
		}
		if time.Since(d.Time) > time.Minute {
			t.Errorf("%s timestamp %v", d.Name, d.Time)
		}
	}
	if rec.puts["ok"] != 1 || p.Buffered() != 0 {
		t.Errorf("puts %v, buffered %d", rec.puts, p.Buffered())
	}
}

func TestAPIBatchesAtTheLimits(t *testing.T) {
	tests := []struct {
		name      string
		datums    int
		dimLen    int
		wantSizes []int
	}{
		{"1000 datums per request", 2500, 10, []int{1000, 1000, 500}},
		{"1 MB per request", 2500, 1000, nil}, // sizes checked against the byte limit
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := startFake(t)
			p := testPublisher(t, Options{API: newAPI(t, srv), ClusterName: strings.Repeat("c", tt.dimLen)})
			p.o.Buffer = 10000
			datums := make([]Datum, tt.datums)
			for i := range datums {
				datums[i] = Datum{Name: MetricBacklog, Unit: types.StandardUnitCount, Value: float64(i), Time: t0}
			}
			p.enqueue(datums)
			p.send(context.Background())
			reqs := f.requests()
			next := 0
			for i, r := range reqs {
				if len(r.Datums) > 1000 || r.RawBytes > 1<<20 {
					t.Errorf("request %d: %d datums, %d bytes", i, len(r.Datums), r.RawBytes)
				}
				// The SDK compresses from 10 KiB on (RequestMinCompressSizeBytes).
				if r.Gzip != (r.RawBytes >= 10240) {
					t.Errorf("request %d of %d bytes: gzip %v", i, r.RawBytes, r.Gzip)
				}
				for _, d := range r.Datums {
					if d.Value != float64(next) {
						t.Fatalf("datum %v arrived where %d was due", d.Value, next)
					}
					next++
				}
			}
			if next != tt.datums {
				t.Fatalf("%d datums arrived, want %d", next, tt.datums)
			}
			if tt.wantSizes != nil {
				var sizes []int
				for _, r := range reqs {
					sizes = append(sizes, len(r.Datums))
				}
				if fmt.Sprint(sizes) != fmt.Sprint(tt.wantSizes) {
					t.Fatalf("request sizes %v, want %v", sizes, tt.wantSizes)
				}
			} else if len(reqs) < 3 || len(reqs[0].Datums) >= 1000 {
				t.Fatalf("%d requests of %d datums: the byte limit did not split the batch", len(reqs), len(reqs[0].Datums))
			} else if reqs[0].RawBytes < 1<<19 {
				t.Errorf("first request only %d bytes: batches are smaller than they could be", reqs[0].RawBytes)
			}
		})
	}
}

func TestAPIThrottlingThenRecovery(t *testing.T) {
	f, srv := startFake(t)
	rec := &recorder{}
	p := testPublisher(t, Options{API: newAPI(t, srv), JMX: &fakeJMX{upSnapshot(t0)}, Recorder: rec})
	f.queue("throttle", "throttle")
	p.Publish(context.Background(), t0)
	if f.http != 3 || len(f.requests()) != 1 {
		t.Fatalf("%d HTTP requests, %d accepted; want 3 and 1", f.http, len(f.requests()))
	}
	if rec.puts["throttled"] != 2 || rec.puts["ok"] != 1 || rec.dropped != 0 || p.Buffered() != 0 {
		t.Fatalf("puts %v dropped %d buffered %d", rec.puts, rec.dropped, p.Buffered())
	}
	if got := len(f.requests()[0].Datums); got != 3 {
		t.Fatalf("%d datums after recovery, want 3", got)
	}
}

func TestAPIUnreachableKeepsNewestAndCountsDrops(t *testing.T) {
	f, srv := startFake(t)
	rec := &recorder{}
	jmx := &fakeJMX{}
	p := testPublisher(t, Options{API: newAPI(t, srv), JMX: jmx, Tasks: fakeTasks{running: 2, ok: true}, Recorder: rec, MaxPutAttempts: 2})
	p.o.Buffer = 12
	// Five intervals of five datums; CloudWatch answers only the fifth.
	for i := range 5 {
		now := t0.Add(time.Duration(i) * time.Minute)
		jmx.s = upSnapshot(now)
		if i < 4 {
			f.queue("drop", "drop")
		}
		p.Publish(context.Background(), now)
		if i < 4 && len(f.requests()) != 0 {
			t.Fatal("a request got through while CloudWatch was down")
		}
	}
	reqs := f.requests()
	if len(reqs) != 1 || len(reqs[0].Datums) != 12 {
		t.Fatalf("after recovery: %d requests, want one with the 12 buffered datums", len(reqs))
	}
	perInterval := map[time.Time]int{}
	for _, d := range reqs[0].Datums {
		perInterval[d.Time]++
	}
	want := map[time.Time]int{t0.Add(2 * time.Minute): 2, t0.Add(3 * time.Minute): 5, t0.Add(4 * time.Minute): 5}
	if fmt.Sprint(perInterval) != fmt.Sprint(want) {
		t.Errorf("datums per interval %v, want the newest: %v", perInterval, want)
	}
	if rec.dropped != 13 || rec.puts["error"] != 8 || rec.puts["ok"] != 1 {
		t.Errorf("dropped %d (want 13), puts %v", rec.dropped, rec.puts)
	}
}

func TestAPIRejectedBatchIsDroppedNotRetried(t *testing.T) {
	f, srv := startFake(t)
	rec := &recorder{}
	p := testPublisher(t, Options{API: newAPI(t, srv), JMX: &fakeJMX{upSnapshot(t0)}, Recorder: rec})
	f.queue("invalid")
	p.Publish(context.Background(), t0)
	if f.http != 1 || rec.puts["rejected"] != 1 || rec.dropped != 3 || p.Buffered() != 0 {
		t.Fatalf("http %d puts %v dropped %d buffered %d", f.http, rec.puts, rec.dropped, p.Buffered())
	}
}

// What goes wrong with CloudWatch is logged in plain words with the fix:
// the action and namespace refused, the endpoint and region that did not
// answer, the credential sources tried.
func TestAPIErrorsInPlainWords(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		noKeys bool
		want   func(srvURL string) []string
	}{
		{"access denied", "denied", false, func(string) []string {
			return []string{"access denied: cloudwatch:PutMetricData on namespace MM2/Connect (AccessDenied); grant it to the role"}
		}},
		{"unreachable", "drop", false, func(u string) []string {
			return []string{"no answer from " + u + " (region eu-west-1)", "check the network route"}
		}},
		{"no credentials", "", true, func(string) []string {
			return []string{"no AWS credentials: tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY", "taskRoleArn"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := startFake(t)
			var logs bytes.Buffer
			var api API
			if tt.noKeys {
				api = newAPI(t, srv)
				t.Setenv("AWS_ACCESS_KEY_ID", "")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "")
				var err error
				if api, err = NewAPI(context.Background()); err != nil {
					t.Fatal(err)
				}
			} else {
				api = newAPI(t, srv)
				f.queue(tt.answer, tt.answer)
			}
			p := testPublisher(t, Options{API: api, JMX: &fakeJMX{upSnapshot(t0)}, MaxPutAttempts: 2,
				Log: slog.New(slog.NewTextHandler(&logs, nil))})
			p.Publish(context.Background(), t0)
			for _, w := range tt.want(srv.URL) {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, logs.String())
				}
			}
			if strings.Contains(logs.String(), "operation error") {
				t.Errorf("log repeats the SDK's words:\n%s", logs.String())
			}
		})
	}
}

func TestPublishNeverBlocksCallers(t *testing.T) {
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-block
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	p := testPublisher(t, Options{API: newAPI(t, srv), JMX: &fakeJMX{upSnapshot(time.Now())}})
	p.o.Interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	select {
	case <-entered: // Run is now stuck inside PutMetricData
	case <-time.After(5 * time.Second):
		t.Fatal("Run sent no request")
	}
	returned := make(chan struct{})
	go func() { _ = p.Buffered(); _ = p.Collect(time.Now()); close(returned) }()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("a caller blocked behind a hanging CloudWatch request")
	}
	cancel()
	<-done
}

func TestCollectLeavesOutUnknownValues(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name  string
		jmx   metrics.JMXSnapshot
		tasks fakeTasks
		want  []string
	}{
		{"jmx down", metrics.JMXSnapshot{Up: false, At: t0}, fakeTasks{1, 0, true},
			[]string{"RunningTasks", "FailedTasks"}},
		{"jmx stale", upSnapshot(t0.Add(-10 * time.Minute)), fakeTasks{}, nil},
		{"no mm2 numbers yet", metrics.JMXSnapshot{Up: true, At: t0, MaxRecordAgeMs: nan, MaxReplicationLatencyMs: nan}, fakeTasks{},
			[]string{"ReplicationBacklogRecords"}},
		{"task state not read yet", upSnapshot(t0), fakeTasks{running: 2, ok: false},
			[]string{"ReplicationBacklogRecords", "MaxRecordAge", "MaxReplicationLatency"}},
	}
	t.Run("leader values pulled", func(t *testing.T) {
		leader := true
		p := testPublisher(t, Options{Mode: ModeOff, Leader: func() (float64, int, bool) { return 9, 4, leader }})
		if got := p.Collect(t0); len(got) != 2 || got[0].Value != 9 || got[1].Value != 4 {
			t.Fatalf("datums %+v, want TotalBacklogRecords 9 and GroupsNotReady 4", got)
		}
		leader = false
		if got := p.Collect(t0); len(got) != 0 {
			t.Fatalf("datums %+v after losing leadership, want none", got)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPublisher(t, Options{Mode: ModeOff, JMX: &fakeJMX{tt.jmx}, Tasks: tt.tasks})
			p.o.Interval = time.Minute
			var got []string
			for _, d := range p.Collect(t0) {
				got = append(got, d.Name)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("datums %v, want %v", got, tt.want)
			}
		})
	}
}

// TestEMFFollowsTheSpecification checks each line against the required
// fields of the CloudWatch Embedded Metric Format specification.
func TestEMFFollowsTheSpecification(t *testing.T) {
	var out bytes.Buffer
	p := testPublisher(t, Options{Mode: ModeEMF, EMF: &out, JMX: &fakeJMX{upSnapshot(t0)},
		Tasks: fakeTasks{running: 4, failed: 0, ok: true}, Leader: leaderValues(777, 3)})
	p.Publish(context.Background(), t0)
	p.Publish(context.Background(), t0.Add(time.Minute))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want one per interval:\n%s", len(lines), out.String())
	}
	validUnits := map[string]bool{"Count": true, "Milliseconds": true, "Seconds": true, "None": true}
	for i, line := range lines {
		var root map[string]any
		if err := json.Unmarshal([]byte(line), &root); err != nil {
			t.Fatalf("line %d is not a JSON object: %v", i, err)
		}
		meta, ok := root["_aws"].(map[string]any)
		if !ok {
			t.Fatalf("line %d: no _aws object", i)
		}
		ts, ok := meta["Timestamp"].(float64)
		if !ok || ts != math.Trunc(ts) || int64(ts) != t0.Add(time.Duration(i)*time.Minute).UnixMilli() {
			t.Fatalf("line %d: Timestamp %v is not the interval in Unix milliseconds", i, meta["Timestamp"])
		}
		dirs, ok := meta["CloudWatchMetrics"].([]any)
		if !ok || len(dirs) == 0 {
			t.Fatalf("line %d: CloudWatchMetrics missing or empty", i)
		}
		for _, d := range dirs {
			dir := d.(map[string]any)
			if ns, ok := dir["Namespace"].(string); !ok || ns != "MM2/Connect" {
				t.Errorf("Namespace %v", dir["Namespace"])
			}
			sets, ok := dir["Dimensions"].([]any)
			if !ok {
				t.Fatal("Dimensions missing")
			}
			for _, s := range sets {
				set := s.([]any)
				if len(set) > 30 {
					t.Error("dimension set over 30 members")
				}
				for _, k := range set {
					if _, ok := root[k.(string)].(string); !ok {
						t.Errorf("dimension %v is not a string member of the root", k)
					}
				}
			}
			ms, ok := dir["Metrics"].([]any)
			if !ok || len(ms) == 0 || len(ms) > 100 {
				t.Fatalf("Metrics %v", dir["Metrics"])
			}
			for _, m := range ms {
				md := m.(map[string]any)
				name, _ := md["Name"].(string)
				if name == "" {
					t.Error("metric without Name")
				}
				if _, ok := root[name].(float64); !ok {
					t.Errorf("metric %s has no numeric root member", name)
				}
				if u, ok := md["Unit"]; ok && !validUnits[u.(string)] {
					t.Errorf("metric %s unit %v", name, u)
				}
				if r, ok := md["StorageResolution"]; ok && r != 1.0 && r != 60.0 {
					t.Errorf("metric %s storage resolution %v", name, r)
				}
			}
		}
		if root["ClusterName"] != "mm2-cluster" || root["ServiceName"] != "mm2-connect" {
			t.Errorf("dimension values %v %v", root["ClusterName"], root["ServiceName"])
		}
		for name, want := range map[string]float64{"ReplicationBacklogRecords": 390, "MaxRecordAge": 4500,
			"MaxReplicationLatency": 95, "RunningTasks": 4, "FailedTasks": 0, "TotalBacklogRecords": 777, "GroupsNotReady": 3} {
			if root[name] != want {
				t.Errorf("line %d: %s = %v, want %v", i, name, root[name], want)
			}
		}
	}
}

func TestNewRejectsIncompleteOptions(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"unknown mode", Options{Mode: "push", ClusterName: "c", ServiceName: "s", Interval: time.Minute}},
		{"api without client", Options{Mode: ModeAPI, ClusterName: "c", ServiceName: "s", Interval: time.Minute}},
		{"emf without output", Options{Mode: ModeEMF, ClusterName: "c", ServiceName: "s", Interval: time.Minute}},
		{"no service name", Options{Mode: ModeEMF, EMF: io.Discard, ClusterName: "c", Interval: time.Minute}},
		{"no interval", Options{Mode: ModeEMF, EMF: io.Discard, ClusterName: "c", ServiceName: "s"}},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	if _, err := New(Options{Mode: ModeOff}); err != nil {
		t.Errorf("mode off needs nothing else: %v", err)
	}
}

func TestFromConfigDimensions(t *testing.T) {
	_, srv := startFake(t)
	newAPI(t, srv) // sets the environment the SDK reads
	base := Config{Mode: ModeAPI, Namespace: "MM2/Connect",
		Interval: time.Minute, Buffer: 100, Resolution: 60}
	task := ecsmeta.Task{Cluster: "prod", ServiceName: "mm2-connect"}
	tests := []struct {
		name        string
		cfg         func(c Config) Config
		task        ecsmeta.Task
		wantCluster string
		wantService string
		wantErr     string
	}{
		{"from task metadata", func(c Config) Config { return c }, task, "prod", "mm2-connect", ""},
		{"no service anywhere", func(c Config) Config { return c }, ecsmeta.Task{Cluster: "prod"}, "", "", "SIDECAR_SERVICE_NAME"},
		{"off needs nothing", func(c Config) Config { c.Mode = ModeOff; return c }, ecsmeta.Task{}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := FromConfig(context.Background(), tt.cfg(base), tt.task, Options{})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.o.ClusterName != tt.wantCluster || p.o.ServiceName != tt.wantService {
				t.Fatalf("dimensions %q %q", p.o.ClusterName, p.o.ServiceName)
			}
		})
	}
}
