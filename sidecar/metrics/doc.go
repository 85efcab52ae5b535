// Package metrics owns the sidecar's Prometheus endpoint: its own registry
// (connect_sidecar_* metrics, Connect state exported once per cluster) and the
// streaming passthrough of the worker's JMX exporter with task labels and
// optional per-topic reduction. It also captures, from the same scrape, the
// values the CloudWatch publisher and the leader check need (JMXSnapshot).
// It does not publish to CloudWatch, call Connect REST or read ECS metadata:
// callers hand it the values.
package metrics
