// Package kafka owns the sidecar's view of the two Kafka clusters of a
// MirrorMaker 2 migration: franz-go clients configured from the
// MirrorSourceConnector's own config (TLS, mTLS, SASL PLAIN/SCRAM, MSK
// IAM), replication lag per partition, MM2 checkpoint decoding and the
// cutover readiness of consumer groups, exported as Prometheus metrics.
// It does not manage connectors (package reconcile does) and talks to
// Kafka Connect only through the REST client of package connect.
package kafka
