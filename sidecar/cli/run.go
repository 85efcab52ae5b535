package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bootstrap"
	"github.com/mm2-fargate/mm2-ecs/sidecar/cloudwatch"
	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/health"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
	"github.com/mm2-fargate/mm2-ecs/sidecar/metrics"
	"github.com/mm2-fargate/mm2-ecs/sidecar/preflight"
	"github.com/mm2-fargate/mm2-ecs/sidecar/reconcile"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
	"github.com/mm2-fargate/mm2-ecs/sidecar/supervise"
	"github.com/mm2-fargate/mm2-ecs/sidecar/worker"
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
	if cfg.Reconcile.ConnectorsURI == "" {
		fmt.Fprintln(stderr, "connect-sidecar run: SIDECAR_CONNECTORS_URI is not set: want s3://bucket/prefix/ or file:///dir, where the connector files are")
		return exitBadConf
	}
	log := cfg.Logging.Logger(stderr)
	self, err := worker.Identify(ctx, cfg.Worker, cfg.Connect.URL, log)
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
	reader := source.New(source.Options{Config: cfg.Source, Fetched: reg.CountS3Fetch, Logger: log})
	loader, err := desired.NewLoader(reader, cfg.Reconcile.ConnectorsURI)
	if err != nil {
		printProblems(stderr, "connect-sidecar run", err)
		return exitBadConf
	}

	var jmx *metrics.JMX
	var leaderURL func() (string, bool)
	if cfg.Metrics.JMXURL != "" {
		jmx = metrics.NewJMX(cfg.Metrics.JMXOptions(metrics.LabelsFromTask(self.Task)), reg)
		leaderURL = jmx.LeaderURL
	}
	leader := worker.NewLeader(self.AdvertisedURL, leaderURL)

	parts := supervise.Group{StopWithin: cfg.Reconcile.ShutdownGrace + supervise.StopMargin}
	mux := http.NewServeMux()
	ready := health.New(cfg.Reconcile.Interval)
	ready.Register(mux)
	mux.Handle("GET /metrics", metrics.Handler(reg, jmx, log))
	parts.Add("http", func(ctx context.Context) error {
		if err := supervise.ServeHTTP(ctx, cfg.Metrics.Addr, mux, log); err != nil {
			return fmt.Errorf("SIDECAR_METRICS_ADDR: %w", err)
		}
		return nil
	})

	rec := reconcile.New(client, reconcile.Options{Config: cfg.Reconcile, Leadership: leader, Metrics: reg, Logger: log})
	runOpts := reconcile.RunOptions{
		WaitForConnect: func(ctx context.Context) error { return client.Wait(ctx, log, connectWaitReport) },
		Progress:       ready,
		OnCycle: func(rep reconcile.Report) {
			reg.SetLeader(rep.Known && rep.Leader)
			if rep.Statuses != nil {
				reg.State().Update(rep.Statuses, self.ID, leader.ExportsClusterFacts())
			}
		},
	}
	if jmx != nil && cfg.Reconcile.LeaderWait > 0 {
		runOpts.WaitForLeader = func(ctx context.Context) bool {
			return leader.Await(ctx, cfg.Reconcile.LeaderWait, func(ctx context.Context) { _, _ = jmx.Scrape(ctx, io.Discard) })
		}
	}
	parts.Add("reconcile", func(ctx context.Context) error { return rec.Run(ctx, loader, runOpts) })
	if jmx != nil {
		parts.Add("jmx", func(ctx context.Context) error { jmx.Run(ctx, jmxRefresh); return nil })
	}

	var lagMonitor *lag.Monitor
	if cfg.Lag.Interval > 0 {
		measurer := lag.NewMeasurer(client, lag.MeasurerOptions{Config: cfg.Lag, Logger: log})
		defer measurer.Close()
		lagMonitor = lag.NewMonitor(measurer, lag.MonitorOptions{
			Config:          cfg.Lag,
			PartitionDetail: cfg.Metrics.PartitionDetail == "partition",
			IsLeader:        leader.ExportsClusterFacts,
			Logger:          log,
		})
		if err := reg.Register(metrics.NewLagCollector(lagMonitor)); err != nil {
			log.Error("register lag metrics", "error", err.Error())
			return exitFailed
		}
		parts.Add("lag", func(ctx context.Context) error { lagMonitor.Run(ctx); return nil })
	}

	if cfg.Preflight.Interval > 0 {
		pf := preflight.NewMonitor(preflightRunner(cfg, loader, client), preflight.MonitorOptions{Interval: cfg.Preflight.Interval, IsLeader: leader.ExportsClusterFacts, Logger: log})
		if err := reg.Register(metrics.NewPreflightCollector(pf)); err != nil {
			log.Error("register preflight metrics", "error", err.Error())
			return 1
		}
		parts.Add("preflight", func(ctx context.Context) error { pf.Run(ctx); return nil })
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
	switch pub, err := cloudwatch.FromConfig(ctx, cfg.CloudWatch, self.Task, cwOpts); {
	case err != nil:
		log.Error("CloudWatch metrics are off", "error", err.Error())
	case cfg.CloudWatch.EffectiveMode() != cloudwatch.ModeOff:
		parts.Add("cloudwatch", func(ctx context.Context) error { pub.Run(ctx); return nil })
	}

	exportCertificates(ctx, cfg.Bootstrap, reg, log)

	if err := parts.Run(ctx); err != nil {
		log.Error("stopped", "error", err.Error())
		return exitFailed
	}
	log.Info("stopped")
	return exitOK
}

// jmxRefresh is how often the JMX snapshot (leader, backlog) is refreshed
// when Prometheus does not scrape /metrics more often.
const jmxRefresh = 15 * time.Second

// connectWaitReport is how often a wait for Connect REST is reported.
const connectWaitReport = 30 * time.Second

// exportCertificates publishes the expiry of every certificate in the
// stores bootstrap wrote, so that an alert fires weeks before a worker
// can no longer connect.
func exportCertificates(ctx context.Context, cfg bootstrap.Config, reg *metrics.Registry, log *slog.Logger) {
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
