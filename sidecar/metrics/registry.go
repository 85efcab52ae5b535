package metrics

import (
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds the sidecar's own metrics (all named connect_sidecar_*)
// and offers one method per event other packages report. It is safe for
// concurrent use.
type Registry struct {
	reg *prometheus.Registry

	reconciles        *prometheus.CounterVec
	reconcileDuration prometheus.Histogram
	requests          *prometheus.CounterVec
	restarts          *prometheus.CounterVec
	configError       *prometheus.GaugeVec
	unmanaged         prometheus.Gauge
	isLeader          prometheus.Gauge
	s3Fetches         *prometheus.CounterVec
	certExpiry        *prometheus.GaugeVec
	jmxUp             prometheus.Gauge
	jmxDuration       prometheus.Gauge
	jmxMalformed      prometheus.Counter
	cwDropped         prometheus.Counter
	cwPuts            *prometheus.CounterVec

	state *StateCollector
}

// NewRegistry creates the registry with every sidecar metric registered.
// The sidecar's Go runtime and process metrics are included under the
// connect_sidecar_ prefix, so that they never collide with the JVM's
// process_* series passed through from the JMX exporter.
func NewRegistry(version string) *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), state: NewStateCollector()}

	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "connect_sidecar_build_info",
		Help: "Build of the sidecar; always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	r.reg.MustRegister(build)

	r.reconciles = register(r.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connect_sidecar_reconcile_total",
		Help: "Connector reconcile passes by outcome.",
	}, []string{"connector", "outcome"}))
	r.reconcileDuration = register(r.reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "connect_sidecar_reconcile_duration_seconds",
		Help:    "Time spent reconciling one connector.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}))
	r.requests = register(r.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connect_sidecar_connect_requests_total",
		Help: "Requests to the Kafka Connect REST API by method and HTTP status code (0: no answer).",
	}, []string{"method", "code"}))
	r.restarts = register(r.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connect_sidecar_connector_restarts_total",
		Help: "Restarts of failed connectors or tasks requested by the sidecar.",
	}, []string{"connector"}))
	r.configError = register(r.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "connect_sidecar_connector_config_error",
		Help: "1 when the last attempt to apply the connector's desired config failed.",
	}, []string{"connector"}))
	r.unmanaged = register(r.reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "connect_sidecar_unmanaged_connectors",
		Help: "Connectors running in Connect that no desired config describes.",
	}))
	r.isLeader = register(r.reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "connect_sidecar_is_leader",
		Help: "1 when this sidecar's worker is the Connect group leader.",
	}))
	r.s3Fetches = register(r.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connect_sidecar_s3_fetches_total",
		Help: "Reads of configuration objects by outcome.",
	}, []string{"outcome"}))
	r.certExpiry = register(r.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "connect_sidecar_certificate_expiry_timestamp_seconds",
		Help: "Expiry (Unix time) of each certificate in the worker's key and trust stores.",
	}, []string{"store", "subject"}))
	r.jmxUp = register(r.reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "connect_sidecar_jmx_up",
		Help: "1 when the last scrape of the worker's JMX exporter succeeded.",
	}))
	r.jmxDuration = register(r.reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "connect_sidecar_jmx_scrape_duration_seconds",
		Help: "Duration of the last scrape of the worker's JMX exporter, passthrough included.",
	}))
	r.jmxMalformed = register(r.reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "connect_sidecar_jmx_malformed_lines_total",
		Help: "Lines of the JMX exporter's output skipped because they are not valid text exposition.",
	}))
	r.cwDropped = register(r.reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "connect_sidecar_cloudwatch_dropped_datums_total",
		Help: "CloudWatch datums dropped, oldest first, because the buffer was full or CloudWatch rejected them.",
	}))
	r.cwPuts = register(r.reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "connect_sidecar_cloudwatch_put_requests_total",
		Help: "PutMetricData requests by outcome.",
	}, []string{"outcome"}))
	r.reg.MustRegister(r.state)

	wrapped := prometheus.WrapRegistererWithPrefix(ownPrefix, r.reg)
	wrapped.MustRegister(collectors.NewGoCollector())
	wrapped.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Gatherer is the registry to serve or lint.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Register adds a collector of the results of another package
// (NewLagCollector, NewPreflightCollector).
// Its metric names must start with connect_sidecar_.
func (r *Registry) Register(c prometheus.Collector) error { return r.reg.Register(c) }

// State is the collector of connector and task state from Connect REST.
func (r *Registry) State() *StateCollector { return r.state }

// ObserveReconcile records one reconcile pass of a connector.
func (r *Registry) ObserveReconcile(connector, outcome string, d time.Duration) {
	r.reconciles.WithLabelValues(connector, outcome).Inc()
	r.reconcileDuration.Observe(d.Seconds())
}

// CountRequest records one Connect REST request; code 0 means no answer.
func (r *Registry) CountRequest(method string, code int) {
	r.requests.WithLabelValues(method, strconv.Itoa(code)).Inc()
}

// CountRestart records one restart the sidecar asked Connect for.
func (r *Registry) CountRestart(connector string) {
	r.restarts.WithLabelValues(connector).Inc()
}

// SetConfigError records whether the last apply of connector failed.
func (r *Registry) SetConfigError(connector string, failed bool) {
	r.configError.WithLabelValues(connector).Set(boolValue(failed))
}

// ForgetConnector removes the per-connector series of a deleted connector.
func (r *Registry) ForgetConnector(connector string) {
	r.configError.DeleteLabelValues(connector)
	r.restarts.DeleteLabelValues(connector)
	r.reconciles.DeletePartialMatch(prometheus.Labels{"connector": connector})
}

// SetUnmanaged records how many running connectors no desired config describes.
func (r *Registry) SetUnmanaged(n int) { r.unmanaged.Set(float64(n)) }

// SetLeader records whether this worker leads the Connect group.
func (r *Registry) SetLeader(leader bool) { r.isLeader.Set(boolValue(leader)) }

// CountS3Fetch records one configuration read, e.g. outcome "ok",
// "not_modified" or "error".
func (r *Registry) CountS3Fetch(outcome string) { r.s3Fetches.WithLabelValues(outcome).Inc() }

// SetCertificateExpiry records when the certificate subject in store expires.
func (r *Registry) SetCertificateExpiry(store, subject string, notAfter time.Time) {
	r.certExpiry.WithLabelValues(store, subject).Set(float64(notAfter.Unix()))
}

// CountCloudWatchDropped records datums the publisher had to drop.
func (r *Registry) CountCloudWatchDropped(n int) { r.cwDropped.Add(float64(n)) }

// CountCloudWatchPut records one PutMetricData request by outcome.
func (r *Registry) CountCloudWatchPut(outcome string) { r.cwPuts.WithLabelValues(outcome).Inc() }

func (r *Registry) observeJMX(up bool, d time.Duration, malformed int) {
	r.jmxUp.Set(boolValue(up))
	r.jmxDuration.Set(d.Seconds())
	r.jmxMalformed.Add(float64(malformed))
}

// register registers c with reg and returns it with its own type.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	reg.MustRegister(c)
	return c
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
