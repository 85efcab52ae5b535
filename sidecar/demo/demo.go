// Package demo owns the assembly behind the mm2-demo command and its
// end-to-end test: two in-process Kafka clusters (kfake) with producers
// and consumer groups, an S3-protocol server (s3test) holding the
// repository's plaintext worker properties and MM2 connector files, a
// three-worker Connect cluster double with the MirrorMaker 2 replication
// double, and connect-sidecar's real command line (package cli, linked into
// the demo's own executable) run as its own process per worker with the
// environment a task definition sets. Everything listens on loopback only.
// It is not part of the production sidecar.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/cli"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest/mirror"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"
)

// Names the demo uses in S3 and for the ECS labels.
const (
	Bucket        = "mm2-demo"
	workerKey     = "workers/plaintext.properties"
	connectorsDir = "connectors/"
	clusterName   = "mm2-demo"
	serviceName   = "mm2-connect"
	modulePath    = "github.com/mm2-fargate/mm2-ecs"
	// mirrorRecordsPerSecond bounds the replication stand-in's throughput,
	// somewhat above what the producers write, so that the backlog
	// drains over seconds and each worker's records-lag (the scaling
	// metric) is visible while it does.
	mirrorRecordsPerSecond = 500
)

// Topics and groups on the source cluster.
var (
	sourceTopics = map[string]int32{"orders": 3, "payments": 2, "inventory": 4}
	groupTopics  = map[string][]string{
		"billing":   {"orders", "payments"},
		"shipping":  {"orders"},
		"analytics": {"inventory", "payments"},
	}
)

// Options configure a demo run.
type Options struct {
	// RepoDir is the repository root; found from the working directory
	// when empty.
	RepoDir string
	// WorkDir holds the sidecar link, each worker's config directory and the
	// sidecars' logs; a new temporary directory when empty (removed by
	// Close).
	WorkDir string
	// Binary is a connect-sidecar binary to run; when empty, this
	// executable, linked into WorkDir as connect-sidecar (see ServeSidecar).
	Binary string
	// Workers is the number of Connect workers (3 when zero).
	Workers int
	// ProduceFor is how long the source producers keep writing after the
	// initial backlog (20s when zero; negative: no live production).
	ProduceFor time.Duration
	// Backlog is the number of records per topic written before MM2
	// starts (2000 when zero).
	Backlog int
	// Logger for the demo's own components; discards when nil.
	Logger *slog.Logger
	// Runtime, when set, runs everything on real Apache Kafka: two KRaft
	// brokers and distributed Connect workers with MirrorMaker 2 and the
	// JMX exporter agent, instead of kfake, connecttest and mirror.
	Runtime *realkafka.Runtime
}

// Demo is a running assembly.
type Demo struct {
	opts    Options
	log     *slog.Logger
	ownWork bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// Source, Target, Connect and Mirror are the embedded doubles; nil
	// when Options.Runtime is set.
	Source, Target *kfake.Cluster
	// Connect is the Connect REST double the sidecars manage; nil when
	// Options.Runtime is set.
	Connect *connecttest.Cluster
	// Mirror carries out MM2's effects between Source and Target; nil when
	// Options.Runtime is set.
	Mirror *mirror.Replicator
	// RealSource, RealTarget and Workers are the real Apache Kafka parts;
	// nil unless Options.Runtime is set.
	RealSource, RealTarget *realkafka.Broker
	// Workers are the real Connect workers, in the order of Sidecars; nil
	// unless Options.Runtime is set.
	Workers []*realkafka.Worker
	// S3 holds the worker properties and the connector files in Bucket.
	S3 *s3test.Server
	// Binary is the connect-sidecar executable every sidecar runs:
	// Options.Binary, or this executable linked into the work directory.
	Binary string
	// Sidecars are the running sidecars, one per worker, by worker index.
	Sidecars []*Sidecar

	jmxSrvs []*http.Server
	traffic *traffic
}

// Sidecar is one worker's connect-sidecar process.
type Sidecar struct {
	// Index is the worker's index, from 0; its directory is worker-<Index+1>.
	Index int
	// WorkerURL is the REST URL of the Connect worker it sits beside.
	WorkerURL string
	// MetricsURL is the base URL of its /metrics, /healthz and /readyz.
	MetricsURL string
	// LogPath is the file its stdout and stderr go to, kept across
	// RestartSidecars.
	LogPath string

	configDir, jmxURL, addr string

	cmd  *exec.Cmd
	done chan struct{}
	err  error
	emf  *emfTail
}

// Start brings every part up: Kafka, S3, Connect and MM2 doubles, then
// bootstrap and run of the sidecar per worker. On error everything
// started is stopped again.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Workers <= 0 {
		opts.Workers = 3
	}
	if opts.ProduceFor == 0 {
		opts.ProduceFor = 20 * time.Second
	}
	if opts.Backlog <= 0 {
		opts.Backlog = 2000
	}
	d := &Demo{opts: opts, log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	ctx, d.cancel = context.WithCancel(ctx)
	if err := d.start(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Demo) start(ctx context.Context) error {
	var err error
	if d.opts.RepoDir == "" {
		if d.opts.RepoDir, err = FindRepo(); err != nil {
			return err
		}
	}
	if d.opts.WorkDir == "" {
		if d.opts.WorkDir, err = os.MkdirTemp("", "mm2-demo-"); err != nil {
			return fmt.Errorf("work dir: %w", err)
		}
		d.ownWork = true
	}
	if d.opts.Runtime != nil {
		return d.startReal(ctx)
	}
	if d.Source, err = kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("source")); err != nil {
		return fmt.Errorf("source cluster: %w", err)
	}
	if d.Target, err = kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("target")); err != nil {
		return fmt.Errorf("target cluster: %w", err)
	}
	if d.traffic, err = startTraffic(ctx, d.SourceAddrs(), 3, d.opts.Backlog, d.opts.ProduceFor, d.log); err != nil {
		return err
	}
	workerProps, err := d.startS3()
	if err != nil {
		return err
	}
	if d.Connect, err = connecttest.Start(d.opts.Workers); err != nil {
		return err
	}
	flush := 10 * time.Second
	if ms, _ := strconv.ParseInt(workerProps["offset.flush.interval.ms"], 10, 64); ms > 0 {
		flush = time.Duration(ms) * time.Millisecond
	}
	env := d.clusterEnv()
	d.Mirror = mirror.New(d.Connect, mirror.Options{
		LookupEnv:           func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		OffsetFlushInterval: flush,
		RecordsPerSecond:    mirrorRecordsPerSecond,
		Logger:              d.log,
	})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		_ = d.Mirror.Run(ctx)
	}()
	jmxURLs, err := d.startJMX()
	if err != nil {
		return err
	}
	if d.Binary = d.opts.Binary; d.Binary == "" {
		if d.Binary, err = selfAsSidecar(d.opts.WorkDir); err != nil {
			return err
		}
	}
	for i, w := range d.Connect.Workers() {
		configDir, err := d.bootstrap(ctx, i, w.ID())
		if err != nil {
			return err
		}
		sc, err := d.startSidecar(i, configDir, w.URL(), jmxURLs[i])
		if err != nil {
			return err
		}
		d.Sidecars = append(d.Sidecars, sc)
	}
	return nil
}

// SourceAddrs are the source cluster's bootstrap servers.
func (d *Demo) SourceAddrs() []string {
	if d.RealSource != nil {
		return []string{d.RealSource.Bootstrap}
	}
	return d.Source.ListenAddrs()
}

// TargetAddrs are the target cluster's bootstrap servers.
func (d *Demo) TargetAddrs() []string {
	if d.RealTarget != nil {
		return []string{d.RealTarget.Bootstrap}
	}
	return d.Target.ListenAddrs()
}

// ConnectURL is a Connect REST URL of the cluster (the first worker's).
func (d *Demo) ConnectURL() string {
	if d.opts.Runtime != nil {
		return d.Workers[0].URL
	}
	return d.Connect.URL()
}

// FindRepo walks up from the working directory to the module's root.
func FindRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("repository root (go.mod of %s) not found above the working directory", modulePath)
		}
		dir = parent
	}
}

// sidecarProgram is the name under which the demo's own executable acts
// as connect-sidecar: the demo links the sidecar's command line and starts
// itself under that name, so it needs no second compile.
const sidecarProgram = "connect-sidecar"

// servesSidecar is set once ServeSidecar has run and returned, which makes
// it safe to start this executable as a sidecar.
var servesSidecar atomic.Bool

// ServeSidecar makes this executable act as connect-sidecar when it was
// started under that name (argv[0]), which is how the demo starts its
// sidecars and what Demo.Binary names: the process then runs the command
// line and exits. Otherwise it returns at once. The mm2-demo command and
// the tests that start a demo call it first, in main or TestMain.
func ServeSidecar() {
	if filepath.Base(os.Args[0]) != sidecarProgram {
		servesSidecar.Store(true)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// selfAsSidecar links this executable into dir as connect-sidecar, so
// that starting the link runs the sidecar's command line (ServeSidecar).
func selfAsSidecar(dir string) (string, error) {
	if !servesSidecar.Load() {
		// Started under the sidecar's name, a program that does not
		// dispatch on it would run itself again, not the sidecar.
		return "", errors.New("this program does not call demo.ServeSidecar first, so it cannot act as connect-sidecar; call it in main or TestMain, or set Options.Binary")
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this executable: %w", err)
	}
	link := filepath.Join(dir, sidecarProgram)
	// A -workdir kept from an earlier run may hold a link to an older build.
	if err := os.Remove(link); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("replace %s: %w", link, err)
	}
	if err := os.Symlink(exe, link); err != nil {
		return "", fmt.Errorf("link the sidecar: %w", err)
	}
	return link, nil
}

func (d *Demo) clusterEnv() map[string]string {
	return map[string]string{
		"SOURCE_BOOTSTRAP_SERVERS": strings.Join(d.SourceAddrs(), ","),
		"TARGET_BOOTSTRAP_SERVERS": strings.Join(d.TargetAddrs(), ","),
	}
}

// startS3 serves the repository's plaintext worker properties and MM2
// connector files, unchanged, from an S3-protocol server on loopback.
func (d *Demo) startS3() (javaconfig.Properties, error) {
	srv, err := s3test.Start(nil)
	if err != nil {
		return nil, err
	}
	d.S3 = srv
	props, err := os.ReadFile(filepath.Join(d.opts.RepoDir, "connect-image", "workers", "plaintext.properties"))
	if err != nil {
		return nil, fmt.Errorf("worker properties: %w", err)
	}
	parsed, err := javaconfig.ParseProperties("connect-image/workers/plaintext.properties", props)
	if err != nil {
		return nil, err
	}
	if err := d.PutObject(workerKey, props); err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(d.opts.RepoDir, "connect-image", "connectors", "plaintext", "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no connector files in connect-image/connectors/plaintext")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("connector file: %w", err)
		}
		if err := d.PutObject(connectorsDir+filepath.Base(f), b); err != nil {
			return nil, err
		}
	}
	return parsed, nil
}

// PutObject writes an object into the demo bucket.
func (d *Demo) PutObject(key string, body []byte) error {
	_, err := d.S3.Put(Bucket, key, body)
	return err
}

// PutConnectorFile replaces a connector file under the connectors prefix.
func (d *Demo) PutConnectorFile(name string, body []byte) error {
	return d.PutObject(connectorsDir+name, body)
}

// startJMX serves each worker's JMX exporter view on its own port.
func (d *Demo) startJMX() ([]string, error) {
	var urls []string
	for _, w := range d.Connect.Workers() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("jmx listen: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", d.Mirror.Handler(w.ID()))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		d.jmxSrvs = append(d.jmxSrvs, srv)
		urls = append(urls, "http://"+ln.Addr().String()+"/metrics")
	}
	return urls, nil
}

// taskEnv is what a task definition sets for both sidecar containers.
func (d *Demo) taskEnv(configDir string) []string {
	env := []string{
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3=" + d.S3.URL,
		"AWS_ACCESS_KEY_ID=demo",
		"AWS_SECRET_ACCESS_KEY=demo-secret-key",
		"AWS_EC2_METADATA_DISABLED=true",
		"SIDECAR_CONFIG_DIR=" + configDir,
		"SIDECAR_LOG_FORMAT=text",
	}
	for k, v := range d.clusterEnv() {
		env = append(env, k+"="+v)
	}
	return env
}

// freePort reserves a loopback port for a sidecar's metrics listener.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// bootstrap runs `connect-sidecar bootstrap` for worker i, whose REST
// listener is hostPort, and returns the config directory it wrote.
func (d *Demo) bootstrap(ctx context.Context, i int, hostPort string) (string, error) {
	configDir := filepath.Join(d.workerDir(i), "config")
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return "", err
	}
	host, port, _ := net.SplitHostPort(hostPort)
	bootEnv := append(d.taskEnv(configDir),
		"KAFKA_CONNECT_PROPERTIES_S3_URI=s3://"+Bucket+"/"+workerKey,
		"CONNECT_BOOTSTRAP_SERVERS="+strings.Join(d.TargetAddrs(), ","),
		"CONNECT_LISTENERS=http://"+hostPort,
		"CONNECT_REST_ADVERTISED_HOST_NAME="+host,
		"CONNECT_REST_ADVERTISED_PORT="+port,
	)
	boot := exec.CommandContext(ctx, d.Binary, "bootstrap")
	boot.Env = bootEnv
	if out, err := boot.CombinedOutput(); err != nil {
		return "", fmt.Errorf("worker %d: connect-sidecar bootstrap: %w\n%s", i+1, err, out)
	}
	return configDir, nil
}

func (d *Demo) workerDir(i int) string {
	return filepath.Join(d.opts.WorkDir, fmt.Sprintf("worker-%d", i+1))
}

// startSidecar starts `connect-sidecar run` beside worker i.
func (d *Demo) startSidecar(i int, configDir, workerURL, jmxURL string) (*Sidecar, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	return d.launchSidecar(&Sidecar{
		Index: i, WorkerURL: workerURL, MetricsURL: "http://" + addr,
		LogPath:   filepath.Join(d.workerDir(i), "sidecar.log"),
		configDir: configDir, jmxURL: jmxURL, addr: addr,
	})
}

// RestartSidecars stops every sidecar with SIGTERM and starts it again
// with the same settings, as an ECS redeployment of the task does.
func (d *Demo) RestartSidecars() error {
	var errs []error
	for i, sc := range d.Sidecars {
		if err := sc.stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
		next, err := d.launchSidecar(&Sidecar{
			Index: sc.Index, WorkerURL: sc.WorkerURL, MetricsURL: sc.MetricsURL, LogPath: sc.LogPath,
			configDir: sc.configDir, jmxURL: sc.jmxURL, addr: sc.addr,
		})
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		d.Sidecars[i] = next
	}
	return errors.Join(errs...)
}

// launchSidecar starts `connect-sidecar run` as sc describes; its log and
// EMF files are appended to, so a restart keeps the earlier lines.
func (d *Demo) launchSidecar(sc *Sidecar) (*Sidecar, error) {
	dir, configDir, workerURL, jmxURL, addr, i := filepath.Dir(sc.LogPath), sc.configDir, sc.WorkerURL, sc.jmxURL, sc.addr, sc.Index
	sc.done = make(chan struct{})
	runEnv := append(d.taskEnv(configDir),
		"SIDECAR_CONNECTORS_URI=s3://"+Bucket+"/"+connectorsDir,
		"SIDECAR_CONNECT_URL="+workerURL,
		"SIDECAR_ADVERTISED_URL="+workerURL+"/",
		"SIDECAR_JMX_URL="+jmxURL,
		"SIDECAR_METRICS_ADDR="+addr,
		"SIDECAR_CLOUDWATCH_MODE=emf",
		"SIDECAR_CLOUDWATCH_INTERVAL=5s",
		"SIDECAR_CLUSTER_NAME="+clusterName,
		"SIDECAR_SERVICE_NAME="+serviceName,
		// Faster than the production defaults, so the demo converges in
		// well under a minute; a task definition may set them the same way.
		"SIDECAR_LAG_INTERVAL=5s",
		"SIDECAR_POLL_INTERVAL=3s",
		"SIDECAR_RECONCILE_INTERVAL=10s",
		"SIDECAR_WRITE_JITTER=2s",
	)
	logf, err := os.OpenFile(sc.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	emff, err := os.OpenFile(filepath.Join(dir, "emf.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		logf.Close()
		return nil, err
	}
	sc.emf = &emfTail{w: emff}
	sc.cmd = exec.Command(d.Binary, "run")
	sc.cmd.Env = runEnv
	sc.cmd.Stdout = sc.emf
	sc.cmd.Stderr = logf
	// Its own process group: Ctrl-C reaches the demo only, which then
	// stops each sidecar with SIGTERM as ECS does. Should the demo die
	// first, the kernel ends the sidecar too.
	sc.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := sc.cmd.Start(); err != nil {
		logf.Close()
		emff.Close()
		return nil, fmt.Errorf("worker %d: connect-sidecar run: %w", i+1, err)
	}
	go func() {
		sc.err = sc.cmd.Wait()
		logf.Close()
		emff.Close()
		close(sc.done)
	}()
	return sc, nil
}

// Exited reports whether the sidecar process has ended, and how.
func (s *Sidecar) Exited() (bool, error) {
	select {
	case <-s.done:
		return true, s.err
	default:
		return false, nil
	}
}

// LastEMF returns the latest EMF line the sidecar printed, if any.
func (s *Sidecar) LastEMF() []byte { return s.emf.last() }

// stop sends SIGTERM and waits; a process that outlives grace is killed.
func (s *Sidecar) stop(grace time.Duration) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("worker %d: sidecar did not stop within %s after SIGTERM", s.Index+1, grace)
	}
	var exit *exec.ExitError
	if errors.As(s.err, &exit) {
		return fmt.Errorf("worker %d: sidecar exited with %w", s.Index+1, s.err)
	}
	return s.err
}

// FailTask marks a task FAILED as a crashing task would be. Only the
// embedded Connect double can be told to; on real Kafka it is an error.
func (d *Demo) FailTask(connector string, id int) error {
	if d.Connect == nil {
		return errors.New("a task can be marked FAILED only in the embedded mode")
	}
	return d.Connect.SetTaskState(connector, id, connecttest.StateFailed,
		"org.apache.kafka.connect.errors.ConnectException: injected by mm2-demo\n\tat org.apache.kafka.connect.mirror.MirrorSourceTask.poll(MirrorSourceTask.java:0)")
}

// StatusCommand is the shell command line that runs `status` against the
// demo as an operator would, with the leader's environment.
func (d *Demo) StatusCommand() string {
	var b strings.Builder
	for _, kv := range d.statusEnv() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "%s=%s ", k, shellQuote(v))
	}
	b.WriteString(shellQuote(d.Binary) + " status")
	return b.String()
}

func (d *Demo) statusEnv() []string {
	return []string{
		"SIDECAR_CONNECT_URL=" + d.ConnectURL(),
		"SOURCE_BOOTSTRAP_SERVERS=" + strings.Join(d.SourceAddrs(), ","),
		"TARGET_BOOTSTRAP_SERVERS=" + strings.Join(d.TargetAddrs(), ","),
	}
}

// Preflight runs `connect-sidecar preflight` with the environment of the
// first worker's task and returns its table. Exit status 1 (a check
// FAILed) is not an error here: the table says what failed.
func (d *Demo) Preflight(ctx context.Context, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Binary, append([]string{"preflight"}, args...)...)
	cmd.Env = append(d.taskEnv(filepath.Join(d.workerDir(0), "config")), d.statusEnv()...)
	cmd.Env = append(cmd.Env, "SIDECAR_CONNECTORS_URI=s3://"+Bucket+"/"+connectorsDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 1 {
		err = nil
	}
	if err != nil {
		return stdout.Bytes(), fmt.Errorf("connect-sidecar preflight: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Status runs the real binary's `status` with args and returns its stdout.
func (d *Demo) Status(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, d.Binary, append([]string{"status"}, args...)...)
	cmd.Env = d.statusEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("connect-sidecar status: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == ':' || r == ',' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Close stops the sidecars (SIGTERM), then every in-process part. It
// returns the sidecars' exit problems, if any.
func (d *Demo) Close() error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range d.Sidecars {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.stop(15 * time.Second); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	if d.traffic != nil {
		d.traffic.close()
	}
	for _, srv := range d.jmxSrvs {
		_ = srv.Close()
	}
	if d.Connect != nil {
		d.Connect.Close()
	}
	d.stopReal()
	if d.S3 != nil {
		d.S3.Close()
	}
	for _, c := range []*kfake.Cluster{d.Source, d.Target} {
		if c != nil {
			c.Close()
		}
	}
	if d.ownWork {
		_ = os.RemoveAll(d.opts.WorkDir)
	}
	return errors.Join(errs...)
}

// emfTail writes a sidecar's stdout to a file and keeps its last EMF line.
type emfTail struct {
	w       io.Writer
	mu      sync.Mutex
	partial []byte
	lastEMF []byte
}

func (e *emfTail) Write(p []byte) (int, error) {
	e.mu.Lock()
	e.partial = append(e.partial, p...)
	for {
		i := bytes.IndexByte(e.partial, '\n')
		if i < 0 {
			break
		}
		line := e.partial[:i]
		if bytes.Contains(line, []byte(`"_aws"`)) {
			e.lastEMF = append(e.lastEMF[:0], line...)
		}
		e.partial = e.partial[i+1:]
	}
	e.mu.Unlock()
	return e.w.Write(p)
}

func (e *emfTail) last() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return bytes.Clone(e.lastEMF)
}
