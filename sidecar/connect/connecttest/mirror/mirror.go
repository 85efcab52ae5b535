// Package mirror is a test double for Kafka Connect running MirrorMaker 2:
// it carries out, on real Kafka clusters (kfake in tests and the demo), the
// visible effects of the MM2 connectors registered in a connecttest
// cluster. RUNNING MirrorSourceConnector tasks copy records source → target
// and commit source offsets into connecttest as MM2 does; the
// MirrorCheckpointConnector writes checkpoints in MM2's binary format and
// syncs group offsets; the MirrorHeartbeatConnector writes heartbeats. Each
// worker gets a handler serving the JMX exporter's view of its tasks. It
// shares no code with Apache Kafka and implements only what the sidecar
// observes; production always runs Apache Kafka Connect with MM2.
package mirror

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/mm2"
)

// Options tune a Replicator.
type Options struct {
	// LookupEnv resolves ${env:VAR} in connector configs, as the workers'
	// EnvVarConfigProvider would; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// OffsetFlushInterval is the workers' offset.flush.interval.ms: how
	// often copied source offsets are committed to Connect (10s if zero).
	OffsetFlushInterval time.Duration
	// Interval is how often task states are read from the cluster
	// (250ms if zero).
	Interval time.Duration
	// RecordsPerSecond caps how fast each MirrorSourceConnector copies, as
	// a real one is bounded by its tasks' throughput; zero copies as fast as
	// the clusters allow, which hides the consumers' records-lag.
	RecordsPerSecond int
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Dial, when set, is how the Kafka clients connect (kgo.Dialer).
	// Tests give kfake's VirtualNetwork, on which the replicator runs in
	// a synctest bubble and its intervals pass on the bubble's clock.
	Dial func(ctx context.Context, network, host string) (net.Conn, error)
}

// Replicator acts for the MM2 connectors of one connecttest cluster.
type Replicator struct {
	c     *connecttest.Cluster
	opts  Options
	log   *slog.Logger
	syncs *syncStore

	mu          sync.Mutex
	sources     map[string]*sourceRunner
	checkpoints map[string]*checkpointRunner
	heartbeats  map[string]*heartbeatRunner
}

// New returns a Replicator for c; Run starts it.
func New(c *connecttest.Cluster, opts Options) *Replicator {
	if opts.OffsetFlushInterval <= 0 {
		opts.OffsetFlushInterval = 10 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = 250 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Replicator{
		c: c, opts: opts, log: log, syncs: newSyncStore(),
		sources:     map[string]*sourceRunner{},
		checkpoints: map[string]*checkpointRunner{},
		heartbeats:  map[string]*heartbeatRunner{},
	}
}

// Run follows the cluster's tasks until ctx ends, then stops every task
// and closes its Kafka clients.
func (r *Replicator) Run(ctx context.Context) error {
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	defer r.closeAll()
	for {
		r.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (r *Replicator) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	none := func(string) bool { return false }
	closeRunners(r.sources, none, true)
	closeRunners(r.checkpoints, none, true)
	closeRunners(r.heartbeats, none, true)
}

// step starts, updates and stops runners to match the cluster's
// connectors, then lets each do its periodic work.
func (r *Replicator) step(ctx context.Context) {
	byConn := map[string][]connecttest.Task{}
	for _, t := range r.c.Tasks() {
		byConn[t.Connector] = append(byConn[t.Connector], t)
	}
	seen := map[string]bool{}
	for _, name := range r.c.Connectors() {
		cfg, ok := r.c.Config(name)
		if !ok {
			continue
		}
		seen[name] = true
		tasks := byConn[name]
		switch cls := cfg["connector.class"]; {
		case mm2.IsConnectorClass(cls, mm2.SourceConnectorClass):
			stepRunner(ctx, r, r.sources, newSourceRunner, name, cfg, tasks)
		case mm2.IsConnectorClass(cls, mm2.CheckpointConnectorClass):
			stepRunner(ctx, r, r.checkpoints, newCheckpointRunner, name, cfg, tasks)
		case mm2.IsConnectorClass(cls, mm2.HeartbeatConnectorClass):
			stepRunner(ctx, r, r.heartbeats, newHeartbeatRunner, name, cfg, tasks)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A deleted connector's tasks stop without committing.
	kept := func(name string) bool { return seen[name] }
	closeRunners(r.sources, kept, false)
	closeRunners(r.checkpoints, kept, false)
	closeRunners(r.heartbeats, kept, false)
}

// runner carries out one MM2 connector.
type runner interface {
	// update follows the connector's tasks; step calls it every interval.
	update(ctx context.Context, tasks []connecttest.Task)
	// close stops the runner; graceful commits what was copied, as a task
	// stop does, while a crash loses it.
	close(graceful bool)
	// fingerprint identifies the config the runner was started with.
	fingerprint() string
}

// stepRunner keeps running[name] started with cfg, then updates it. A
// config write restarts the connector and its tasks: the old runner stops
// gracefully and a new one starts.
func stepRunner[R runner](ctx context.Context, r *Replicator, running map[string]R,
	start func(context.Context, *Replicator, string, map[string]string, string) (R, error),
	name string, cfg map[string]string, tasks []connecttest.Task) {
	fp := fingerprint(cfg)
	r.mu.Lock()
	x, ok := running[name]
	if ok && x.fingerprint() != fp {
		x.close(true)
		delete(running, name)
		ok = false
	}
	r.mu.Unlock()
	if !ok {
		var err error
		if x, err = start(ctx, r, name, cfg, fp); err != nil {
			r.log.Warn("mirror: connector not started", "connector", name, "class", cfg["connector.class"], "error", err.Error())
			return
		}
		r.mu.Lock()
		running[name] = x
		r.mu.Unlock()
	}
	x.update(ctx, tasks)
}

// closeRunners closes and forgets every runner whose connector keep
// rejects. The caller holds r.mu.
func closeRunners[R runner](running map[string]R, keep func(name string) bool, graceful bool) {
	for name, x := range running {
		if !keep(name) {
			x.close(graceful)
			delete(running, name)
		}
	}
}

// Copied returns, for a source connector, the last offset copied per
// source topic partition, committed or not.
func (r *Replicator) Copied(connector string) map[string]map[int32]int64 {
	r.mu.Lock()
	s := r.sources[connector]
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.copied()
}

// Handler serves the JMX exporter's exposition for one worker (by its
// Connect worker id, host:port): the worker's rebalance leader, its tasks'
// states, and the consumer, producer and MM2 metrics of the tasks it runs,
// named as the Connect image's exporter rules name them.
func (r *Replicator) Handler(workerID string) http.Handler {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(&workerCollector{r: r, worker: workerID})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func (r *Replicator) resolver() javaconfig.Resolver {
	return javaconfig.Resolver{LookupEnv: r.opts.LookupEnv}
}

// clusters reads a connector's source and target clusters as MM2 does.
func (r *Replicator) clusters(cfg map[string]string) (src, tgt kafka.Cluster, err error) {
	if src, err = kafka.ClusterFromConnector(cfg, kafka.Source, r.resolver()); err != nil {
		return src, tgt, err
	}
	tgt, err = kafka.ClusterFromConnector(cfg, kafka.Target, r.resolver())
	return src, tgt, err
}

func fingerprint(cfg map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		fmt.Fprintf(h, "%q=%q\n", k, cfg[k])
	}
	return string(h.Sum(nil))
}

// intSetting reads an integer setting, def when absent or unparsable
// (Connect would have refused the config; the double stays lenient).
func intSetting(cfg map[string]string, key string, def int64) int64 {
	if v, err := strconv.ParseInt(strings.TrimSpace(cfg[key]), 10, 64); err == nil {
		return v
	}
	return def
}

func secondsSetting(cfg map[string]string, key string, def time.Duration) time.Duration {
	if v := intSetting(cfg, key, -1); v >= 0 {
		return time.Duration(v) * time.Second
	}
	return def
}

// taskStates maps task id to state.
func taskStates(tasks []connecttest.Task) map[int]string {
	out := make(map[int]string, len(tasks))
	for _, t := range tasks {
		out[t.ID] = t.State
	}
	return out
}

// roundRobin assigns sorted items to n tasks as MM2's connectors do.
func roundRobin[T any](items []T, n int) map[int][]T {
	out := map[int][]T{}
	if n < 1 {
		return out
	}
	for i, it := range items {
		out[i%n] = append(out[i%n], it)
	}
	return out
}

type tp struct {
	topic     string
	partition int32
}

func sortTPs(s []tp) {
	sort.Slice(s, func(i, j int) bool {
		return s[i].topic < s[j].topic || s[i].topic == s[j].topic && s[i].partition < s[j].partition
	})
}
