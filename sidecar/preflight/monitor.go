package preflight

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CollectorOptions tune a Collector.
type CollectorOptions struct {
	// Interval between two runs (SIDECAR_PREFLIGHT_INTERVAL).
	Interval time.Duration
	// IsLeader tells whether this sidecar exports cluster-wide facts;
	// only then does it run the checks. Nil: always.
	IsLeader func() bool
	Logger   *slog.Logger
}

// Collector runs the checks in the background and exports the latest
// results as connect_sidecar_preflight_result{check}: 0 PASS, 1 WARN,
// 2 FAIL, so that a dashboard and an alert show which check fails while a
// migration looks stuck. A run that cannot start exports nothing, which
// the alert on the metric's absence reports.
type Collector struct {
	run  func(ctx context.Context) (*Report, error)
	opts CollectorOptions
	log  *slog.Logger
	desc *prometheus.Desc

	mu   sync.Mutex
	last *Report
}

// NewCollector returns a Collector calling run on each interval.
func NewCollector(run func(ctx context.Context) (*Report, error), opts CollectorOptions) *Collector {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Collector{run: run, opts: opts, log: log,
		desc: prometheus.NewDesc("connect_sidecar_preflight_result", "Latest preflight result by check: 0 PASS, 1 WARN, 2 FAIL.", []string{"check"}, nil)}
}

// Run runs the checks on every interval until ctx ends.
func (c *Collector) Run(ctx context.Context) {
	t := time.NewTicker(c.opts.Interval)
	defer t.Stop()
	for {
		c.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once runs the checks once if this sidecar leads; a follower drops its
// last results, so that only one sidecar exports them.
func (c *Collector) Once(ctx context.Context) {
	if c.opts.IsLeader != nil && !c.opts.IsLeader() {
		c.mu.Lock()
		c.last = nil
		c.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max(c.opts.Interval, time.Minute))
	defer cancel()
	rep, err := c.run(ctx)
	if err != nil {
		c.log.Warn("preflight could not run", "error", err.Error())
	} else {
		for _, r := range rep.Results {
			if r.Status != Pass {
				c.log.Warn("preflight", "check", r.Check, "status", string(r.Status), "found", r.Found, "fix", r.Fix)
			}
		}
	}
	c.mu.Lock()
	c.last = rep
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	rep := c.last
	c.mu.Unlock()
	if rep == nil {
		return
	}
	for _, r := range rep.Results {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(r.Status.rank()), r.Check)
	}
}
