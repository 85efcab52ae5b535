package config

import (
	"fmt"
	"time"
)

// Lag configures the replication-lag and cutover-readiness measurement.
type Lag struct {
	Interval            time.Duration `envconfig:"SIDECAR_LAG_INTERVAL" default:"30s" desc:"time between two lag and readiness measurements (0: off)"`
	SourceConnector     string        `envconfig:"SIDECAR_SOURCE_CONNECTOR" desc:"MirrorSourceConnector to measure (empty: the one found by class)"`
	CheckpointConnector string        `envconfig:"SIDECAR_CHECKPOINT_CONNECTOR" desc:"MirrorCheckpointConnector to measure (empty: the one found by class)"`
}

// Validate reports the settings that are out of range, one error each.
func (l Lag) Validate() []error {
	if l.Interval < 0 {
		return []error{fmt.Errorf("SIDECAR_LAG_INTERVAL=%s: must be a duration such as 30s, or 0s for off", l.Interval)}
	}
	return nil
}
