package preflight

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MonitorOptions tune a Monitor.
type MonitorOptions struct {
	// Interval between two runs (SIDECAR_PREFLIGHT_INTERVAL).
	Interval time.Duration
	// IsLeader tells whether this sidecar exports cluster-wide facts;
	// only then does it run the checks. Nil: always.
	IsLeader func() bool
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

// Monitor runs the checks in the background and keeps the latest report,
// which package metrics exports as connect_sidecar_preflight_result{check},
// so that a dashboard and an alert show which check fails while a
// migration looks stuck. A run that cannot start leaves no report, which
// the alert on the metric's absence reports.
type Monitor struct {
	run  func(ctx context.Context) (*Report, error)
	opts MonitorOptions
	log  *slog.Logger

	mu   sync.Mutex
	last *Report
}

// NewMonitor returns a Monitor calling run on each interval.
func NewMonitor(run func(ctx context.Context) (*Report, error), opts MonitorOptions) *Monitor {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Monitor{run: run, opts: opts, log: log}
}

// Run runs the checks on every interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.opts.Interval)
	defer t.Stop()
	for {
		m.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Once runs the checks once if this sidecar leads; a follower drops its
// last results, so that only one sidecar exports them.
func (m *Monitor) Once(ctx context.Context) {
	if m.opts.IsLeader != nil && !m.opts.IsLeader() {
		m.mu.Lock()
		m.last = nil
		m.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, max(m.opts.Interval, time.Minute))
	defer cancel()
	rep, err := m.run(ctx)
	if err != nil {
		m.log.Warn("preflight could not run", "error", err.Error())
	} else {
		for _, r := range rep.Results {
			if r.Status != Pass {
				m.log.Warn("preflight", "check", r.Check, "status", string(r.Status), "found", r.Found, "fix", r.Fix)
			}
		}
	}
	m.mu.Lock()
	m.last = rep
	m.mu.Unlock()
}

// Latest is the report of the latest run; nil when it could not run, or
// when this sidecar did not lead at the time. It is not modified after.
func (m *Monitor) Latest() *Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
