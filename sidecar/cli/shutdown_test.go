package cli

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/supervise"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sidecarBinary builds connect-sidecar once per test binary, so that tests
// can signal and measure the real process.
func sidecarBinary(t *testing.T) string {
	t.Helper()
	goTool := externaltool.Path(t, "go")
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "connect-sidecar-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "connect-sidecar")
		out, err := exec.Command(goTool, "build", "-o", binPath, "../cmd/connect-sidecar").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// sidecarStopTimeout is the connect-sidecar container's stopTimeout in the
// ECS task definition: after it, ECS sends SIGKILL.
func sidecarStopTimeout(t *testing.T) time.Duration {
	t.Helper()
	c := sidecarContainer(t)
	for _, e := range c.Environment {
		if e.Name == "SIDECAR_SHUTDOWN_GRACE" {
			t.Fatalf("the task definition sets SIDECAR_SHUTDOWN_GRACE=%s; check it against stopTimeout here", e.Value)
		}
	}
	if c.StopTimeout == 0 {
		t.Fatal("taskdefs/connect-task.json: connect-sidecar has no stopTimeout (ECS's default is 30s on Fargate, but say it)")
	}
	return time.Duration(c.StopTimeout) * time.Second
}

// The default grace plus the margin the process may take to exit stays
// well inside (three quarters of) the stop timeout ECS gives the sidecar.
func TestShutdownFitsStopTimeout(t *testing.T) {
	t.Setenv("SIDECAR_SHUTDOWN_GRACE", "")
	os.Unsetenv("SIDECAR_SHUTDOWN_GRACE")
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	stop := sidecarStopTimeout(t)
	if worst := cfg.Reconcile.ShutdownGrace + supervise.StopMargin; worst > stop*3/4 {
		t.Errorf("SIDECAR_SHUTDOWN_GRACE %s + exit margin %s = %s, not well inside the task definition's stopTimeout %s",
			cfg.Reconcile.ShutdownGrace, supervise.StopMargin, worst, stop)
	}
}

// SIGTERM at random points of the cycle while every Connect request is
// held open, for most of the grace or for ever: the process always exits, with
// status 0, within one grace plus a small bound of the signal, however many
// cycles were due. A cycle due when the signal came used to start with a
// fresh grace of its own, so stops took a multiple of the grace.
//
// The points are picked from the child's progress, the requests Connect
// has seen: on the slow cluster, while its k-th request is held (k from 0,
// before the first, to 4: the wait for Connect, the listing, the read
// before a create, the create); on the hung one, while the listing hangs.
// Within the hold the moment is random.
func TestShutdownWithinGraceUnderHeldRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary 20 times")
	}
	bin := sidecarBinary(t)
	const (
		grace = 300 * time.Millisecond
		hold  = 250 * time.Millisecond
		bound = 500 * time.Millisecond // process exit, scrapes answered, clients closed
		runs  = 20
	)
	if bound > supervise.StopMargin {
		t.Fatalf("the test's bound %s is looser than the exit margin %s the sidecar promises", bound, supervise.StopMargin)
	}
	// Every request held just under the grace, so that cycles follow one
	// another and the signal lands anywhere in them; and Connect hung on
	// every /connectors request, longer than the grace and the test.
	slow := connecttest.NewCluster(t, 1)
	slow.InjectFault(connecttest.Fault{Worker: connecttest.AnyWorker, Delay: hold})
	hung := connecttest.NewCluster(t, 1)
	hung.InjectFault(connecttest.Fault{Path: "/connectors", Worker: connecttest.AnyWorker, Delay: time.Hour})
	clusters := []*connecttest.Cluster{slow, hung}
	dir := t.TempDir()
	for i := range 3 {
		body := fmt.Sprintf(`{"name":"mm2-hbc-%d","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorHeartbeatConnector","tasks.max":"1"}}`, i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("hbc-%d.json", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(),
		"SIDECAR_CONNECTORS_URI=file://"+dir,
		"SIDECAR_RECONCILE_INTERVAL=50ms",
		"SIDECAR_WRITE_JITTER=1ms",
		"SIDECAR_CONNECT_TIMEOUT=2m",
		"SIDECAR_SHUTDOWN_GRACE="+grace.String(),
		"SIDECAR_JMX_URL=",
		"SIDECAR_LAG_INTERVAL=0s",
		"SIDECAR_CLOUDWATCH_MODE=off",
		"SIDECAR_LOG_FORMAT=text",
	)
	var worst time.Duration
	for i := range runs {
		var logs bytes.Buffer
		cmd := exec.Command(bin, "run")
		metricsAddr := freeAddr(t)
		c := clusters[i%2]
		c.ResetCounters()
		cmd.Env = append(env, "SIDECAR_METRICS_ADDR="+metricsAddr, "SIDECAR_CONNECT_URL="+c.URL())
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// A SIGTERM before the runtime has installed its handler kills the
		// process by default: that is not a stop to measure. /healthz
		// answers only after the handler is in place.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if resp, err := http.Get("http://" + metricsAddr + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
		}
		k := i / 2 % 5
		if c == hung {
			k = 2 // GET / answered, the listing hangs
		}
		for deadline := time.Now().Add(10 * time.Second); requestsSeen(c) < k; time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("run %d: Connect never saw request %d; logs:\n%s", i, k, logs.String())
			}
		}
		time.Sleep(rand.N(hold))
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		var err error
		select {
		case err = <-exited:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Fatalf("run %d: no exit 30s after SIGTERM; logs:\n%s", i, logs.String())
		}
		took := time.Since(sent)
		worst = max(worst, took)
		if err != nil || took > grace+bound {
			t.Errorf("run %d: exit %v %s after SIGTERM, want status 0 within %s; logs:\n%s", i, err, took.Round(time.Millisecond), grace+bound, logs.String())
		}
	}
	t.Logf("%d stops, grace %s: slowest exit %s after SIGTERM", runs, grace, worst.Round(time.Millisecond))
}

// requestsSeen counts the requests c has seen since its counters were
// reset.
func requestsSeen(c *connecttest.Cluster) int {
	n := 0
	for _, v := range c.Requests() {
		n += v
	}
	return n
}
