package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

// rssBoundMiB is the stated memory bound of the sidecar under abuse: peak
// RSS with 1,000 connectors and 200 concurrent /metrics scrapers.
const rssBoundMiB = 64

// taskSidecar is the connect-sidecar container of the ECS task definition.
type taskSidecar struct {
	Name        string
	StopTimeout int
	Environment []struct{ Name, Value string }
}

// sidecarContainer reads the connect-sidecar container from
// taskdefs/connect-task.json.
func sidecarContainer(t *testing.T) taskSidecar {
	t.Helper()
	raw, err := os.ReadFile("../../taskdefs/connect-task.json")
	if err != nil {
		t.Fatal(err)
	}
	var td struct{ ContainerDefinitions []taskSidecar }
	if err := json.Unmarshal(raw, &td); err != nil {
		t.Fatalf("taskdefs/connect-task.json: %v", err)
	}
	for _, c := range td.ContainerDefinitions {
		if c.Name == "connect-sidecar" {
			return c
		}
	}
	t.Fatal("taskdefs/connect-task.json: no connect-sidecar container")
	return taskSidecar{}
}

// taskSidecarEnv is the environment the ECS task definition gives the
// connect-sidecar container, for the variables that shape the Go runtime.
func taskSidecarEnv(t *testing.T, names ...string) []string {
	t.Helper()
	var out []string
	for _, e := range sidecarContainer(t).Environment {
		for _, n := range names {
			if e.Name == n {
				out = append(out, n+"="+e.Value)
			}
		}
	}
	if len(out) != len(names) {
		t.Fatalf("the task definition's connect-sidecar sets %v of %v", out, names)
	}
	return out
}

// procStatus reads a kB field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// jmxExposition is the worker's JMX exporter output with per-task series
// for every connector, naming leader as the Connect group leader.
func jmxExposition(t *testing.T, leader string, connectors int) []byte {
	t.Helper()
	fixture, err := os.ReadFile("../../connect-image/testdata/jmx-exposition.prom")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(withLeader(string(fixture), leader))
	for _, m := range []string{"batch_size_avg", "batch_size_max", "offset_commit_avg_time_ms", "offset_commit_failure_percentage", "running_ratio", "pause_ratio"} {
		fmt.Fprintf(&b, "# HELP kafka_connect_connector_task_metrics_%s task metric\n# TYPE kafka_connect_connector_task_metrics_%s gauge\n", m, m)
		for c := range connectors {
			for task := range 2 {
				fmt.Fprintf(&b, "kafka_connect_connector_task_metrics_%s{connector=\"mm2-hbc-%04d\",task=\"%d\",} %d.0\n", m, c, task, c+task)
			}
		}
	}
	return b.Bytes()
}

// TestRSSUnderConcurrentScrapes runs the real binary, with the task
// definition's GOMEMLIMIT, managing 1,000 connectors with the JMX
// passthrough on, hits /metrics with 200 concurrent scrapers and reads the
// process's peak RSS (VmHWM) from /proc: it must stay under rssBoundMiB.
func TestRSSUnderConcurrentScrapes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary with 1,000 connectors")
	}
	const (
		connectors = 1000
		scrapers   = 200
		rounds     = 10 // scrapes per scraper
	)
	bin := sidecarBinary(t)
	c := connecttest.NewCluster(t, 1)
	leader := c.URLs()[0]
	leaderName, _ := c.Leader()
	exposition := jmxExposition(t, leaderName, connectors)
	jmx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(exposition)
	}))
	defer jmx.Close()
	dir := t.TempDir()
	for i := range connectors {
		body := fmt.Sprintf(`{"name":"mm2-hbc-%04d","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorHeartbeatConnector","tasks.max":"2","source.cluster.alias":"source","target.cluster.alias":"target"}}`, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("hbc-%04d.json", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := freeAddr(t)
	var logs syncBuffer
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(), taskSidecarEnv(t, "GOMEMLIMIT")...)
	cmd.Env = append(cmd.Env,
		"SIDECAR_CONNECT_URL="+leader,
		"SIDECAR_ADVERTISED_URL="+leader,
		"SIDECAR_CONNECTORS_URI=file://"+dir,
		"SIDECAR_METRICS_ADDR="+addr,
		"SIDECAR_JMX_URL="+jmx.URL,
		"SIDECAR_RECONCILE_INTERVAL=5s",
		"SIDECAR_WRITE_JITTER=1ms",
		"SIDECAR_LAG_INTERVAL=0s",
		"SIDECAR_CLOUDWATCH_MODE=off",
		"SIDECAR_LOG_FORMAT=text",
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	pid := cmd.Process.Pid

	deadline := time.Now().Add(2 * time.Minute)
	for code, body := readyBody(addr); code != http.StatusOK; code, body = readyBody(addr) {
		if time.Now().After(deadline) {
			t.Fatalf("not ready with %d connectors: %d %q; logs:\n%s", connectors, code, body, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	scrape := func() (int, error) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		return int(n), err
	}
	size, err := scrape()
	if err != nil {
		t.Fatal(err)
	}
	before := procStatus(t, pid, "VmRSS")

	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	var slowest time.Duration
	for range scrapers {
		wg.Go(func() {
			for range rounds {
				s := time.Now()
				if _, err := scrape(); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				slowest = max(slowest, time.Since(s))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	peak := procStatus(t, pid, "VmHWM")
	after := procStatus(t, pid, "VmRSS")
	if len(failures) > 0 {
		t.Fatalf("%d scrapes failed, first: %v", len(failures), failures[0])
	}
	t.Logf("%d connectors, exposition %d KiB: RSS %d MiB before, %d MiB after %d scrapers x %d scrapes in %s (slowest scrape %s); peak RSS %d MiB",
		connectors, size>>10, before>>10, after>>10, scrapers, rounds, took.Round(time.Millisecond), slowest.Round(time.Millisecond), peak>>10)
	if peak>>10 >= rssBoundMiB {
		t.Errorf("peak RSS %d MiB, over the bound of %d MiB", peak>>10, rssBoundMiB)
	}
}
