package lag

import (
	"fmt"
	"time"
)

// Config is the lag measurement's settings, read from the environment.
type Config struct {
	// Interval is the time between two measurements; 0 turns measuring
	// off.
	Interval time.Duration `envconfig:"SIDECAR_LAG_INTERVAL" default:"30s" desc:"time between two lag and readiness measurements (0: off)"`
	// SourceConnector names the MirrorSourceConnector to measure; empty
	// means the one connector of that class.
	SourceConnector string `envconfig:"SIDECAR_SOURCE_CONNECTOR" desc:"MirrorSourceConnector to measure (empty: the one found by class)"`
	// CheckpointConnector names the MirrorCheckpointConnector whose
	// checkpoints judge the groups; empty means the one connector of that
	// class.
	CheckpointConnector string `envconfig:"SIDECAR_CHECKPOINT_CONNECTOR" desc:"MirrorCheckpointConnector to measure (empty: the one found by class)"`
}

// Validate returns one error per setting envconfig cannot check by type
// alone.
func (c Config) Validate() []error {
	if c.Interval < 0 {
		return []error{fmt.Errorf("SIDECAR_LAG_INTERVAL=%s: must be a duration such as 30s, or 0s for off", c.Interval)}
	}
	return nil
}
