// Package metrics owns the sidecar's Prometheus endpoint and every metric
// family the sidecar defines, one file per group: its own counters
// (registry.go), Connect state (collect_state.go), lag (collect_lag.go)
// and preflight (collect_preflight.go), beside the streaming passthrough
// of the worker's JMX exporter with task labels, from whose scrape it also
// captures what the CloudWatch publisher and the leader check need
// (JMXSnapshot). It measures nothing: packages lag and preflight run in
// the background and its collectors read their latest results; nor does
// it publish to CloudWatch, call Connect REST or read ECS metadata.
package metrics
