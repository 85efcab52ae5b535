package source

import (
	"fmt"
	"time"
)

// Config is how much the sidecar downloads and how long it tries, read
// from the environment.
type Config struct {
	// FetchDeadline bounds one fetch, retries included. 2 minutes when zero.
	FetchDeadline time.Duration `envconfig:"SIDECAR_FETCH_DEADLINE" default:"2m" desc:"total time allowed for one fetch, retries included; bootstrap fetches its objects at once within it"`
	// MaxObjectBytes is the largest object read; a larger one is refused
	// with ErrTooLarge. 10 MiB when zero.
	MaxObjectBytes int64 `envconfig:"SIDECAR_MAX_OBJECT_BYTES" default:"10485760" desc:"largest object the sidecar downloads"`
}

// Validate reports the settings that are out of range, one error each.
func (c Config) Validate() []error {
	var errs []error
	if c.FetchDeadline <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_FETCH_DEADLINE=%s: must be a positive duration, such as 2m", c.FetchDeadline))
	}
	if c.MaxObjectBytes <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_MAX_OBJECT_BYTES=%d: must be a positive number of bytes, such as 10485760 (10 MiB)", c.MaxObjectBytes))
	}
	return errs
}
