// Package kafka owns how the sidecar reaches the two Kafka clusters of a
// MirrorMaker 2 migration: franz-go client settings taken from the
// MirrorSourceConnector's own config (TLS, mTLS, SASL PLAIN/SCRAM, MSK
// IAM, config-provider references), and one-line diagnoses of a failure
// to talk to a cluster (ClusterError, Reason). It measures nothing
// (package lag does), knows no MM2 record format (package mm2) and
// manages no connectors (package reconcile).
package kafka
