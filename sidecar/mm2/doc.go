// Package mm2 owns MirrorMaker 2's own formats and naming as the sidecar,
// its preflight checks and its test double read them: the records of the
// checkpoints topic, the topic and group filters, the replication policy
// and the connector classes. It measures nothing and talks to no cluster:
// clients are package kafka's, the lag measurement package lag's.
package mm2
