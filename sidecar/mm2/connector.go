package mm2

import "strings"

// Connector classes of MirrorMaker 2.
const (
	SourceConnectorClass     = "org.apache.kafka.connect.mirror.MirrorSourceConnector"
	CheckpointConnectorClass = "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
	HeartbeatConnectorClass  = "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector"
)

// IsConnectorClass matches a connector.class as Connect resolves it: the
// full name, the simple name, or the simple name without "Connector".
func IsConnectorClass(cls, full string) bool {
	simple := full[strings.LastIndex(full, ".")+1:]
	return cls == full || cls == simple || cls+"Connector" == simple
}
