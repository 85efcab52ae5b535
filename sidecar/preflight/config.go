package preflight

import (
	"fmt"
	"time"
)

// Config configures the periodic preflight checks of the leader's
// sidecar.
type Config struct {
	// Interval (SIDECAR_PREFLIGHT_INTERVAL) is the time between two runs of
	// the checks by the leader's sidecar; 0 turns the periodic run off.
	Interval time.Duration `envconfig:"SIDECAR_PREFLIGHT_INTERVAL" default:"0s" desc:"time between two runs of the preflight checks by the leader's sidecar, exported as connect_sidecar_preflight_result (0: off)"`
}

// Validate reports the settings that are out of range, one error each.
func (p Config) Validate() []error {
	if p.Interval < 0 {
		return []error{fmt.Errorf("SIDECAR_PREFLIGHT_INTERVAL=%s: must not be negative", p.Interval)}
	}
	return nil
}
