package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
)

// configTopic is the Connect config topic of connect-image/workers/plaintext.properties.
const configTopic = "mm2-connect-configs"

// statusJSON is `connect-sidecar status --json`, decoded into the types
// it is written from.
type statusJSON struct {
	Connectors  map[string]connect.ConnectorStatus `json:"connectors"`
	Ready       bool                               `json:"migration_ready"`
	TotalLag    int64                              `json:"total_lag"`
	Measurement lag.Snapshot                       `json:"measurement"`
}

func (s statusJSON) verdicts() map[string]string {
	out := map[string]string{}
	for _, g := range s.Measurement.Groups {
		out[g.Group] = string(g.Verdict)
	}
	return out
}

// status runs the real binary's `status` as an operator would and returns
// its stdout, stderr and exit code.
func status(t *testing.T, d *demo.Demo, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Binary, append([]string{"status"}, args...)...)
	cmd.Env = append(os.Environ(),
		"SIDECAR_CONNECT_URL="+d.ConnectURL(),
		"SOURCE_BOOTSTRAP_SERVERS="+strings.Join(d.SourceAddrs(), ","),
		"TARGET_BOOTSTRAP_SERVERS="+strings.Join(d.TargetAddrs(), ","),
	)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("connect-sidecar status: %v", err)
	}
	return out.String(), errb.String(), code
}

func statusJSONOf(t *testing.T, d *demo.Demo, args ...string) (statusJSON, int, string) {
	t.Helper()
	out, errs, code := status(t, d, append([]string{"--json"}, args...)...)
	var s statusJSON
	if strings.TrimSpace(out) == "" {
		// No document: the measurement failed (exit 1) or the usage was
		// wrong (exit 2); errs says which.
		return s, code, errs
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --json: %v\n%s\n%s", err, out, errs)
	}
	return s, code, errs
}

// eventually polls cond every second until it holds, or fails the test
// with the last detail once within has passed.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	began := time.Now()
	var last string
	for {
		ok, detail := cond()
		if ok {
			return time.Since(began)
		}
		last = detail
		if time.Since(began) > within {
			t.Fatalf("%s: not reached within %s; last: %s", what, within, last)
		}
		time.Sleep(time.Second)
	}
}

// dumpLogs prints the tails of every JVM and sidecar log; the whole logs
// stay under the suite's work folder, which a failed run keeps.
func dumpLogs(t *testing.T) {
	t.Helper()
	for _, p := range env.RealProcesses() {
		t.Log(p.Tail(3000))
	}
	for _, sc := range env.Sidecars {
		b, _ := os.ReadFile(sc.LogPath)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		t.Logf("--- sidecar %d log, tail ---\n%s", sc.Index+1, b)
	}
}

// scrape reads a Prometheus text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	body := get(t, url)
	fams, err := parseExposition(body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return fams
}

func parseExposition(b []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(b))
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, b)
	}
	return b
}

// sum adds the values of name's samples whose labels pass keep (nil: all).
func sum(fams map[string]*dto.MetricFamily, name string, keep func(map[string]string) bool) float64 {
	var total float64
	for _, m := range fams[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if keep != nil && !keep(labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

func labelIs(name, value string) func(map[string]string) bool {
	return func(l map[string]string) bool { return l[name] == value }
}

// configRecords reads every record key of Connect's config topic on the
// target: each connector config, task config, commit and restart request
// Connect wrote, which no sidecar counter can fake.
func configRecords(t *testing.T, d *demo.Demo) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.TargetAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, configTopic)
	if err != nil {
		t.Fatalf("config topic end offsets: %v", err)
	}
	end, ok := ends.Lookup(configTopic, 0)
	if !ok || end.Err != nil {
		t.Fatalf("config topic end offset: %v", end.Err)
	}
	if end.Offset == 0 {
		return nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{configTopic: {0: kgo.NewOffset().AtStart()}})
	var keys []string
	for int64(len(keys)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v after %d of %d records", configTopic, err, len(keys), end.Offset)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end.Offset {
				keys = append(keys, string(r.Key))
			}
		})
	}
	return keys
}

func countKeys(keys []string, match func(string) bool) int {
	n := 0
	for _, k := range keys {
		if match(k) {
			n++
		}
	}
	return n
}

// startupAttempts sums the connector and task startup attempts that every
// running worker's JMX exporter reports: any connector or task (re)start
// on any worker raises it.
func startupAttempts(t *testing.T, d *demo.Demo) float64 {
	t.Helper()
	var total float64
	for _, w := range d.Workers {
		if exited, _ := w.Exited(); exited {
			continue
		}
		fams := scrape(t, w.JMXURL)
		total += sum(fams, "kafka_connect_worker_connector_startup_attempts_total", nil) +
			sum(fams, "kafka_connect_worker_task_startup_attempts_total", nil)
	}
	return total
}

// workerStarts counts, per connector or task name, the "Creating
// connector" and "Creating task" lines of every worker's log: each is one
// start of that connector or task by Kafka Connect's Worker. (The workers'
// task-startup-attempts counter stays 0 on Kafka 4.2.1 workers that run
// tasks, so it cannot prove the absence of task restarts.)
func workerStarts(t *testing.T, d *demo.Demo) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range d.RealProcesses() {
		if !strings.HasPrefix(p.Name, "worker") {
			continue
		}
		b, err := os.ReadFile(p.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, marker := range []string{"INFO Creating task ", "INFO Creating connector "} {
				if _, rest, ok := strings.Cut(line, marker); ok {
					name, _, _ := strings.Cut(rest, " ")
					out[name]++
				}
			}
		}
	}
	return out
}

// leaders returns the indexes of the sidecars reporting connect_sidecar_is_leader 1.
func leaders(t *testing.T, d *demo.Demo) []int {
	t.Helper()
	var out []int
	for i, sc := range d.Sidecars {
		if exited, _ := sc.Exited(); exited {
			continue
		}
		resp, err := http.Get(sc.MetricsURL + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fams, err := parseExposition(b)
		if err != nil {
			continue
		}
		if sum(fams, "connect_sidecar_is_leader", nil) == 1 {
			out = append(out, i)
		}
	}
	return out
}

// rest sends one request to a Connect REST URL and returns the status
// code and decoded JSON body (nil when empty).
func rest(t *testing.T, method, url, body string) (int, any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			v = fmt.Sprintf("(not JSON) %s", b)
		}
	}
	return resp.StatusCode, v
}
