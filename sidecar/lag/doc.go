// Package lag owns the measurement of a MirrorMaker 2 migration: the
// replication backlog of every source topic and partition, the cutover
// verdict of every consumer group from MM2's checkpoints, and the periodic
// measurement whose latest result the sidecar exports. It builds Kafka
// clients with package kafka and reads MM2's formats with package mm2; it
// defines no Prometheus metric (package metrics exports its results).
package lag
