package metrics

import (
	"fmt"
	"net"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
)

// Config configures the /metrics, /healthz and /readyz endpoint and the JMX
// exporter passthrough.
type Config struct {
	// Addr (SIDECAR_METRICS_ADDR) is the host:port or :port the endpoint
	// listens on; the healthcheck subcommand dials it too.
	Addr string `envconfig:"SIDECAR_METRICS_ADDR" default:":9400" desc:"listen address of /metrics, /healthz and /readyz"`
	// JMXURL (SIDECAR_JMX_URL) is JMXOptions.URL; empty turns the
	// passthrough and the leader check off.
	JMXURL string `envconfig:"SIDECAR_JMX_URL" default:"http://127.0.0.1:9404/metrics" desc:"the worker's JMX exporter; also the source of the rebalance leader-name (empty: off)"`
	// JMXTimeout (SIDECAR_JMX_TIMEOUT) is JMXOptions.Timeout.
	JMXTimeout time.Duration `envconfig:"SIDECAR_JMX_TIMEOUT" default:"5s" desc:"timeout of one JMX exporter scrape"`
	// JMXMaxBytes (SIDECAR_JMX_MAX_BYTES) is JMXOptions.MaxBytes.
	JMXMaxBytes int64 `envconfig:"SIDECAR_JMX_MAX_BYTES" default:"268435456" desc:"most bytes read of one JMX exporter answer; the passthrough stops there and jmx_up is 0"`
	// PartitionDetail (SIDECAR_METRICS_PARTITION_DETAIL) is "partition" or
	// "topic"; "topic" sets JMXOptions.PerTopic.
	PartitionDetail string `envconfig:"SIDECAR_METRICS_PARTITION_DETAIL" default:"topic" desc:"MM2 series per partition or reduced per topic: partition or topic"`
}

// Validate reports the settings that are out of range, one error each.
func (m Config) Validate() []error {
	var errs []error
	if _, _, err := net.SplitHostPort(m.Addr); err != nil {
		errs = append(errs, fmt.Errorf("SIDECAR_METRICS_ADDR=%q: want host:port or :port, such as :9400", m.Addr))
	}
	if m.PartitionDetail != "partition" && m.PartitionDetail != "topic" {
		errs = append(errs, fmt.Errorf("SIDECAR_METRICS_PARTITION_DETAIL=%q: must be partition or topic", m.PartitionDetail))
	}
	if m.JMXTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_JMX_TIMEOUT=%s: must be a positive duration, such as 5s", m.JMXTimeout))
	}
	if m.JMXMaxBytes <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_JMX_MAX_BYTES=%d: must be a positive number of bytes, such as 268435456 (256 MiB)", m.JMXMaxBytes))
	}
	return errs
}

// LabelsFromTask returns the task labels of passed-through series.
func LabelsFromTask(t ecsmeta.Task) TaskLabels {
	return TaskLabels{Cluster: t.Cluster, Service: t.ServiceName, TaskID: t.TaskID, AvailabilityZone: t.AvailabilityZone}
}

// JMXOptions maps the SIDECAR_JMX_* and SIDECAR_METRICS_PARTITION_DETAIL
// settings onto the passthrough's options.
func (cfg Config) JMXOptions(labels TaskLabels) JMXOptions {
	return JMXOptions{
		URL:      cfg.JMXURL,
		Timeout:  cfg.JMXTimeout,
		MaxBytes: cfg.JMXMaxBytes,
		Labels:   labels,
		PerTopic: cfg.PartitionDetail == "topic",
	}
}
