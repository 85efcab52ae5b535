package metrics

import (
	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
)

// LabelsFromTask returns the task labels of passed-through series.
func LabelsFromTask(t ecsmeta.Task) TaskLabels {
	return TaskLabels{Cluster: t.Cluster, Service: t.ServiceName, TaskID: t.TaskID, AvailabilityZone: t.AvailabilityZone}
}

// JMXOptionsFromConfig maps the SIDECAR_JMX_* and
// SIDECAR_METRICS_PARTITION_DETAIL settings onto JMXOptions.
func JMXOptionsFromConfig(cfg config.Metrics, labels TaskLabels) JMXOptions {
	return JMXOptions{
		URL:      cfg.JMXURL,
		Timeout:  cfg.JMXTimeout,
		MaxBytes: cfg.JMXMaxBytes,
		Labels:   labels,
		PerTopic: cfg.PartitionDetail == "topic",
	}
}
