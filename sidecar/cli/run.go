package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bootstrap"
	"github.com/mm2-fargate/mm2-ecs/sidecar/cloudwatch"
	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
	"github.com/mm2-fargate/mm2-ecs/sidecar/metrics"
	"github.com/mm2-fargate/mm2-ecs/sidecar/preflight"
	"github.com/mm2-fargate/mm2-ecs/sidecar/reconcile"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] != "-h" && args[0] != "-help" && args[0] != "--help" {
			fmt.Fprintf(stderr, "connect-sidecar run: unknown argument %q (see connect-sidecar run --help)\n", args[0])
			return exitBadConf
		}
		fmt.Fprint(stdout, `Usage: connect-sidecar run

Keeps Kafka Connect's connectors as the connector files under
SIDECAR_CONNECTORS_URI say, serves /metrics, /healthz and /readyz, measures
lag and publishes CloudWatch metrics, until SIGTERM. While Connect REST does
not answer it waits, and says so every 30s.
Exit status: 0 after SIGTERM; 2 when a setting is wrong (one line per problem
on stderr); 1 when it stops on a failure.
Configuration is read from the environment: see connect-sidecar --help.
`)
		return exitOK
	}
	cfg, err := config.Load()
	if err != nil {
		printProblems(stderr, "connect-sidecar run", err)
		return exitBadConf
	}
	if cfg.ConnectorsURI == "" {
		fmt.Fprintln(stderr, "connect-sidecar run: SIDECAR_CONNECTORS_URI is not set: want s3://bucket/prefix/ or file:///dir, where the connector files are")
		return exitBadConf
	}
	log := cfg.Logger(stderr)
	self, err := identify(ctx, cfg, log)
	if err != nil {
		printProblems(stderr, "connect-sidecar run", err)
		return exitBadConf
	}
	reg := metrics.NewRegistry(Version)
	client, err := connect.New(cfg.Connect, reg.CountRequest)
	if err != nil {
		printProblems(stderr, "connect-sidecar run", err)
		return exitBadConf
	}
	reader := source.New(source.Options{MaxBytes: cfg.MaxObjectBytes, Deadline: cfg.FetchDeadline, Fetched: reg.CountS3Fetch, Logger: log})
	loader, err := desired.NewLoader(reader, cfg.ConnectorsURI)
	if err != nil {
		printProblems(stderr, "connect-sidecar run", err)
		return exitBadConf
	}

	var jmx *metrics.JMX
	var leadership reconcile.Leadership = reconcile.Unknown{}
	if cfg.JMXURL != "" {
		jmx = metrics.NewJMX(metrics.JMXOptionsFromConfig(cfg.Metrics, metrics.LabelsFromTask(self.task)), reg)
		leadership = reconcile.NewLeaderByURL(self.advertisedURL, jmx.LeaderURL)
	}
	// Cluster-wide facts (connector state, lag, readiness, the leader's
	// CloudWatch datums) are exported once, by the leader's sidecar. While
	// the leader is unknown nobody exports them, so no sum ever counts one
	// twice, and the measurement's age tells the gap; only without a JMX
	// exporter, where the leader can never be known, does every sidecar.
	// Writes are different: reconcile may write while the leader is unknown,
	// after a random delay, because compare-before-write keeps that safe.
	exportsClusterFacts := func() bool {
		leader, known := leadership.IsLeader()
		return leader || (!known && jmx == nil)
	}

	r := &runner{mux: http.NewServeMux(), stopWithin: cfg.ShutdownGrace + stopMargin}
	h := newHealth(cfg.ReconcileInterval)
	h.register(r.mux)
	r.mux.Handle("GET /metrics", metrics.Handler(reg, jmx, log))
	r.add("http", func(ctx context.Context) error { return serveHTTP(ctx, cfg.MetricsAddr, r.mux, log) })

	rec := reconcile.New(client, reconcile.Options{
		Prune:       cfg.Prune,
		AutoRestart: cfg.AutoRestart,
		MaxRestarts: cfg.MaxRestarts,
		WriteJitter: cfg.WriteJitter,
		Leadership:  leadership,
		Metrics:     reg,
		Logger:      log,
	})
	onCycle := func(rep reconcile.Report) {
		reg.SetLeader(rep.Known && rep.Leader)
		if rep.Statuses != nil {
			reg.State().Update(rep.Statuses, self.workerID, exportsClusterFacts())
		}
	}
	r.add("reconcile", func(ctx context.Context) error {
		return reconcileLoop(ctx, cfg.Reconcile, client, loader, rec, h, onCycle, log)
	})
	if jmx != nil {
		r.add("jmx", func(ctx context.Context) error { jmx.Run(ctx, jmxRefresh); return nil })
	}

	var lagMonitor *lag.Monitor
	if cfg.LagInterval > 0 {
		measurer := lag.NewMeasurer(client, lag.MeasurerOptions{
			SourceConnector:     cfg.SourceConnector,
			CheckpointConnector: cfg.CheckpointConnector,
			Logger:              log,
		})
		defer measurer.Close()
		lagMonitor = lag.NewMonitor(measurer, lag.MonitorOptions{
			Interval:        cfg.LagInterval,
			PartitionDetail: cfg.PartitionDetail == "partition",
			IsLeader:        exportsClusterFacts,
			Logger:          log,
		})
		if err := reg.Register(metrics.NewLagCollector(lagMonitor)); err != nil {
			log.Error("register lag metrics", "error", err.Error())
			return exitFailed
		}
		r.add("lag", func(ctx context.Context) error { lagMonitor.Run(ctx); return nil })
	}

	if cfg.PreflightInterval > 0 {
		pf := preflight.NewMonitor(preflightRunner(cfg, loader, client), preflight.MonitorOptions{Interval: cfg.PreflightInterval, IsLeader: exportsClusterFacts, Logger: log})
		if err := reg.Register(metrics.NewPreflightCollector(pf)); err != nil {
			log.Error("register preflight metrics", "error", err.Error())
			return 1
		}
		r.add("preflight", func(ctx context.Context) error { pf.Run(ctx); return nil })
	}

	cwOpts := cloudwatch.Options{EMF: stdout, Tasks: reg.State(), Recorder: reg, Log: log}
	if jmx != nil { // a nil *JMX in the interface would not read as "no JMX"
		cwOpts.JMX = jmx
	}
	if lagMonitor != nil {
		cwOpts.Leader = func() (float64, int, bool) {
			t, ok := lagMonitor.Totals()
			return float64(t.BacklogRecords), t.GroupsNotReady, ok
		}
	}
	// A publisher that cannot start leaves the scaling metric missing, which
	// the policy's alarms report as INSUFFICIENT_DATA; stopping the sidecar
	// would also stop connector management, which is worse.
	switch pub, err := cloudwatch.FromConfig(ctx, cfg.CloudWatch, self.task, cwOpts); {
	case err != nil:
		log.Error("CloudWatch metrics are off", "error", err.Error())
	case cfg.CloudWatch.Mode() != cloudwatch.ModeOff:
		r.add("cloudwatch", func(ctx context.Context) error { pub.Run(ctx); return nil })
	}

	exportCertificates(ctx, cfg.Bootstrap, reg, log)

	if err := r.run(ctx); err != nil {
		log.Error("stopped", "error", err.Error())
		return exitFailed
	}
	log.Info("stopped")
	return exitOK
}

// stopMargin is how long after SIDECAR_SHUTDOWN_GRACE the process may
// take to exit: answering the last scrapes, closing clients. The grace plus
// this margin must stay well inside the task definition's stopTimeout.
const stopMargin = time.Second

// jmxRefresh is how often the JMX snapshot (leader, backlog) is refreshed
// when Prometheus does not scrape /metrics more often.
const jmxRefresh = 15 * time.Second

// worker is who this sidecar's Connect worker is.
type worker struct {
	task          ecsmeta.Task // with SIDECAR_CLUSTER_NAME / SIDECAR_SERVICE_NAME applied
	advertisedURL string       // the worker's REST URL as Connect advertises it
	workerID      string       // host:port, as Connect's status names workers
}

func identify(ctx context.Context, cfg config.Config, log *slog.Logger) (worker, error) {
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	task, onECS, err := ecsmeta.FromEnv(mctx, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		// Labels and dimensions degrade; reconciling must not stop for it.
		log.Warn("ECS task metadata unavailable", "error", err.Error())
	}
	w := worker{task: task.Override(cfg.ClusterName, cfg.ServiceName), advertisedURL: cfg.AdvertisedURL}
	if w.advertisedURL == "" {
		w.advertisedURL = cfg.ConnectURL
	}
	u, err := url.Parse(w.advertisedURL)
	if err != nil {
		return worker{}, fmt.Errorf("advertised URL %q: %w", w.advertisedURL, err)
	}
	if cfg.AdvertisedURL == "" && onECS && task.PrivateIPv4 != "" {
		// Connect advertises the task's address, not the one the
		// sidecar reaches it on.
		u.Host = net.JoinHostPort(task.PrivateIPv4, portOf(u))
		u.Path = "/"
		w.advertisedURL = u.String()
	}
	w.workerID = net.JoinHostPort(u.Hostname(), portOf(u))
	log.Info("worker identity", "advertised_url", w.advertisedURL, "worker_id", w.workerID,
		"cluster", w.task.Cluster, "service", w.task.ServiceName, "task_id", w.task.TaskID)
	return w, nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// exportCertificates publishes the expiry of every certificate in the
// stores bootstrap wrote, so that an alert fires weeks before a worker
// can no longer connect.
func exportCertificates(ctx context.Context, cfg config.Bootstrap, reg *metrics.Registry, log *slog.Logger) {
	stores, err := bootstrap.Inspect(ctx, cfg)
	if err != nil {
		log.Warn("cannot read every store for certificate expiry", "error", err.Error())
	}
	for _, s := range stores {
		for _, c := range s.Certificates {
			reg.SetCertificateExpiry(s.Role, c.Subject, c.NotAfter)
		}
	}
}

func serveHTTP(ctx context.Context, addr string, mux *http.ServeMux, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s (SIDECAR_METRICS_ADDR): %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Scrapes under way get half the exit margin; then their connections
	// are closed, so that they cannot hold the process past the stop.
	sctx, cancel := context.WithTimeout(context.Background(), stopMargin/2)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		_ = srv.Close()
	}
	return nil
}

// graceful returns a context that outlives ctx by grace, so that a request
// under way when SIGTERM arrives may finish, and is abandoned after that.
func graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-work.Done():
		}
	})
	return work, func() { stop(); cancel() }
}

// connectWaitReport is how often a wait for Connect REST is reported.
const connectWaitReport = 30 * time.Second

// waitForConnect pings Connect REST until it answers, backing off up to
// 15s between attempts; every report it says what it waits for, for how
// long, and what to check.
func waitForConnect(ctx context.Context, client *connect.Client, log *slog.Logger, report time.Duration) error {
	delay := 500 * time.Millisecond
	start := time.Now()
	reports := time.NewTicker(report)
	defer reports.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	var last error
	for attempt := 1; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-reports.C:
			if last != nil {
				log.Warn("still waiting for Connect REST", "url", client.BaseURL(), "waited", time.Since(start).Round(time.Second).String(),
					"attempts", attempt-1, "last_error", last.Error(),
					"check", "that the Kafka Connect worker runs and listens there (its log says why not) and that SIDECAR_CONNECT_URL names it")
			}
			continue
		case <-retry.C:
		}
		err := client.Ping(ctx)
		if err == nil {
			log.Info("Connect REST is up", "url", client.BaseURL(), "after", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		if attempt == 1 {
			log.Info("waiting for Connect REST", "url", client.BaseURL(), "error", err.Error(), "reports_every", report.String())
		} else {
			log.Debug("waiting for Connect REST", "url", client.BaseURL(), "attempt", attempt, "error", err.Error())
		}
		last = err
		attempt++
		retry.Reset(delay)
		delay = min(delay*2, 15*time.Second)
	}
}

func reconcileLoop(ctx context.Context, cfg config.Reconcile, client *connect.Client, loader *desired.Loader,
	rec *reconcile.Reconciler, h *health, onCycle func(reconcile.Report), log *slog.Logger) error {
	h.starting("waiting for Connect REST")
	if err := waitForConnect(ctx, client, log, connectWaitReport); err != nil || ctx.Err() != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	go func() {
		if err := loader.Watch(ctx, desired.WatchOptions{PollInterval: cfg.PollInterval}, changed); err != nil {
			log.Warn("not watching connector files; relying on SIDECAR_RECONCILE_INTERVAL", "uri", loader.URI(), "error", err.Error())
		}
	}()
	tick := time.NewTicker(cfg.ReconcileInterval)
	defer tick.Stop()
	// One grace period from the signal for the whole loop: requests under
	// way may finish within it, and no cycle begun after it gets a fresh
	// one.
	work, cancel := graceful(ctx, cfg.ShutdownGrace)
	defer cancel()
	var last desired.Set
	haveSet := false
	h.starting("reading connector files")
	for {
		// A tick or a change may be pending next to ctx.Done(), and select
		// picks among ready cases at random: check before new work.
		if ctx.Err() != nil {
			return nil
		}
		set, err := loader.Load(work)
		switch {
		case err == nil:
			last, haveSet = set, true
		case haveSet:
			log.Warn("cannot list connector files; keeping the last good set", "uri", loader.URI(), "error", err.Error())
		default:
			log.Error("cannot list connector files", "uri", loader.URI(), "error", err.Error())
		}
		if ctx.Err() != nil {
			return nil
		}
		if haveSet {
			rep := rec.Cycle(work, last)
			onCycle(rep)
			h.cycle(judge(last, rep))
		} else {
			h.cycle(false, "cannot list the connector files under "+loader.URI()+" (see the log)")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}
