package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2-fargate/mm2-ecs/sidecar/preflight"
)

// PreflightSource is what the preflight collector reads at each scrape;
// *preflight.Monitor is one.
type PreflightSource interface {
	// Latest is the latest report, nil when there is none to export.
	Latest() *preflight.Report
}

// PreflightCollector exports the latest preflight report as
// connect_sidecar_preflight_result{check}: 0 PASS, 1 WARN, 2 FAIL. No
// report (a run that could not start, or a follower) exports nothing,
// which the alert on the metric's absence reports.
type PreflightCollector struct {
	src  PreflightSource
	desc *prometheus.Desc
}

// NewPreflightCollector returns the collector of src's reports.
func NewPreflightCollector(src PreflightSource) *PreflightCollector {
	return &PreflightCollector{src: src,
		desc: prometheus.NewDesc("connect_sidecar_preflight_result", "Latest preflight result by check: 0 PASS, 1 WARN, 2 FAIL.", []string{"check"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *PreflightCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *PreflightCollector) Collect(ch chan<- prometheus.Metric) {
	rep := c.src.Latest()
	if rep == nil {
		return
	}
	for _, r := range rep.Results {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(r.Status.Rank()), r.Check)
	}
}
