package lag

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchSizes are the migrations the benchmarks measure: 1,000 topics of
// 10 or 100 partitions and 3,000 topics of 100, each with 200 groups of 10
// topics (20,000, 200,000 and 200,000 checkpoints), so that both the
// partitions of a topic and the number of topics grow.
var benchSizes = []struct {
	name          string
	topics, parts int
}{
	{"partitions=10000", 1000, 10},
	{"partitions=100000", 1000, 100},
	{"partitions=300000", 3000, 100},
}

// BenchmarkBinary measures what a user sees: the real connect-sidecar
// binary, built from this tree, runs as a child process against the
// fixture's clusters (in another process) and is read from outside, as
// an operator would: the steady cycle time from its
// connect_sidecar_lag_measurement_duration_seconds histogram, Kafka
// requests per cycle from /metrics, its resident memory from /proc, and
// the peak RSS of `connect-sidecar status` with the table and --json.
// Run it beside BenchmarkCycle (the same measurement in process) to
// compare both in one run:
//
//	go test ./sidecar/lag -run '^$' -bench 'Benchmark(Cycle|Binary)/partitions=100000$' -benchtime 3x
//
// With MM2_BENCH_BASELINE_BIN naming another connect-sidecar binary (one
// built from an earlier commit), each case also runs that binary, as
// baseline,gomemlimit=…, against the same clusters in the same run.
func BenchmarkBinary(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "connect-sidecar")
	build := exec.Command("go", "build", "-o", bin, "../cmd/connect-sidecar")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	limit := taskMemLimit(b)
	for _, size := range benchSizes {
		b.Run(size.name, func(b *testing.B) {
			url := startFixture(b, size.topics, size.parts)
			// As the task definition runs it (GOMEMLIMIT set), and without
			// a memory limit as the baseline, in the same run.
			for _, env := range [][]string{{"GOMEMLIMIT=" + limit}, nil} {
				name := "gomemlimit=off"
				if env != nil {
					name = "gomemlimit=" + limit
				}
				if base := os.Getenv("MM2_BENCH_BASELINE_BIN"); base != "" {
					b.Run("baseline,"+name, func(b *testing.B) { benchBinary(b, base, url, env...) })
				}
				b.Run(name, func(b *testing.B) { benchBinary(b, bin, url, env...) })
			}
		})
	}
}

// taskMemLimit is the GOMEMLIMIT the Connect task definition gives the
// sidecar container.
func taskMemLimit(b *testing.B) string {
	b.Helper()
	raw, err := os.ReadFile("../../taskdefs/connect-task.json")
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`"name":\s*"GOMEMLIMIT",\s*"value":\s*"([^"]+)"`).FindSubmatch(raw)
	if m == nil {
		b.Fatal("taskdefs/connect-task.json sets no GOMEMLIMIT")
	}
	return string(m[1])
}

func benchBinary(b *testing.B, bin, connectURL string, extraEnv ...string) {
	dir := b.TempDir()
	connectors := filepath.Join(dir, "connectors")
	if err := os.Mkdir(connectors, 0o700); err != nil {
		b.Fatal(err)
	}
	addr := freeAddr(b)
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"SIDECAR_CONNECT_URL=" + connectURL,
		"SIDECAR_CONNECTORS_URI=file://" + connectors + "/",
		"SIDECAR_METRICS_ADDR=" + addr,
		"SIDECAR_JMX_URL=", // no JMX exporter: this sidecar measures
		"SIDECAR_CLOUDWATCH_MODE=off",
		"SIDECAR_LAG_INTERVAL=2s",
	}
	env = append(env, extraEnv...)
	logf, err := os.Create(filepath.Join(dir, "sidecar.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "run")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	defer stop()

	// The first measurement reads every checkpoint; the second warms the
	// clients. Steady cycles come after.
	var last map[string]float64
	cycles := func() (n, sum, requests float64) {
		last = scrape(b, "http://"+addr+"/metrics")
		return last[`connect_sidecar_lag_measurement_duration_seconds_count{phase="total"}`],
			last[`connect_sidecar_lag_measurement_duration_seconds_sum{phase="total"}`],
			last["requests"]
	}
	waitCycles := func(want float64, sample func()) (n, sum, requests float64) {
		deadline := time.Now().Add(time.Duration(want+2) * time.Minute)
		for time.Now().Before(deadline) {
			if sample != nil {
				sample()
			}
			if n, sum, requests = cycles(); n >= want {
				return n, sum, requests
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.Fatalf("fewer than %v lag measurements after %s; log in %s", want, time.Until(deadline), logf.Name())
		return
	}
	waitUntilServing(b, "http://"+addr+"/healthz")
	n0, sum0, _ := waitCycles(2, nil)
	first := last
	var steadyPeak int64
	sample := func() { steadyPeak = max(steadyPeak, procStatusKB(b, cmd.Process.Pid, "VmRSS")) }
	b.ResetTimer()
	n1, sum1, reqs := waitCycles(n0+float64(b.N), sample)
	b.StopTimer()
	sample()
	hwm := procStatusKB(b, cmd.Process.Pid, "VmHWM")
	stop()
	if n1 <= n0 {
		b.Fatal("no steady cycle")
	}
	steady := (sum1 - sum0) / (n1 - n0)
	var phases []string
	for _, ph := range []string{PhaseConnectOffsets, PhaseSourceOffsets, PhaseSourceGroups, PhaseCheckpoints, PhaseTargetOffsets} {
		k := `connect_sidecar_lag_measurement_duration_seconds_sum{phase="` + ph + `"}`
		phases = append(phases, fmt.Sprintf("%s %.3fs", ph, (last[k]-first[k])/(n1-n0)))
	}
	b.Logf("steady cycle by phase: %s", strings.Join(phases, ", "))
	b.ReportMetric(steady*1e9, "ns/op")
	b.ReportMetric(steady, "steady-cycle-s")
	b.ReportMetric(reqs, "requests/cycle")
	b.ReportMetric(float64(steadyPeak)/1024, "steady-peak-rss-MB")
	b.ReportMetric(float64(hwm)/1024, "peak-rss-MB")

	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env, cmd.Stdout = env, io.Discard
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		// The child's rusage is no use here: Go starts it with vfork, and
		// Linux carries the high-water mark of the parent's memory, this
		// benchmark's, over the exec. VmHWM of the running process is
		// its own; read to its last moment, it misses at most one
		// interval's growth.
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var hwm int64
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
				}
				break wait
			case <-time.After(5 * time.Millisecond):
				if v, ok := readProcStatusKB(cmd.Process.Pid, "VmHWM"); ok {
					hwm = max(hwm, v)
				}
			}
		}
		name := "status"
		if len(args) > 1 {
			name = "status-json"
		}
		b.ReportMetric(float64(hwm)/1024, name+"-peak-rss-MB")
		b.ReportMetric(time.Since(start).Seconds(), name+"-s")
	}
}

func freeAddr(b *testing.B) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitUntilServing(b *testing.B, url string) {
	b.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
	}
	b.Fatalf("%s never answered", url)
}

// scrape reads the lines of /metrics it needs: the series of the total
// duration histogram, and the requests of the latest measurement summed
// over clusters as "requests".
func scrape(b *testing.B, url string) map[string]float64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "connect_sidecar_lag_measurement_") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		if strings.HasPrefix(name, "connect_sidecar_lag_measurement_requests{") {
			out["requests"] += v
			continue
		}
		out[name] = v
	}
	return out
}

// procStatusKB reads a kB field (VmRSS, VmHWM) of /proc/<pid>/status.
func procStatusKB(b *testing.B, pid int, field string) int64 {
	b.Helper()
	v, ok := readProcStatusKB(pid, field)
	if !ok {
		b.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	return v
}

// readProcStatusKB reads a kB field of /proc/<pid>/status; ok is false
// when the process is gone or has no such field.
func readProcStatusKB(pid int, field string) (int64, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
