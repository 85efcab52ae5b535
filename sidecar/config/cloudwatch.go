package config

import (
	"fmt"
	"time"
)

// CloudWatch configures the scaling-metric publisher.
type CloudWatch struct {
	Mode       string        `envconfig:"SIDECAR_CLOUDWATCH_MODE" desc:"api, emf or off (empty: api on ECS, off elsewhere)"`
	Namespace  string        `envconfig:"SIDECAR_CLOUDWATCH_NAMESPACE" default:"MM2/Connect" desc:"CloudWatch namespace of the scaling metrics"`
	Interval   time.Duration `envconfig:"SIDECAR_CLOUDWATCH_INTERVAL" default:"60s" desc:"time between two publications"`
	Buffer     int           `envconfig:"SIDECAR_CLOUDWATCH_BUFFER" default:"10000" desc:"datums kept while CloudWatch is unreachable; the oldest are dropped"`
	Resolution int           `envconfig:"SIDECAR_CLOUDWATCH_RESOLUTION" default:"60" desc:"storage resolution in seconds: 1 or 60"`
}

// EffectiveMode resolves the empty default: api on ECS, off elsewhere.
func (c CloudWatch) EffectiveMode() string {
	if c.Mode != "" {
		return c.Mode
	}
	if onECS() {
		return "api"
	}
	return "off"
}

// Validate reports the settings that are out of range, one error each.
func (c CloudWatch) Validate() []error {
	var errs []error
	switch c.Mode {
	case "", "api", "emf", "off":
	default:
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_MODE=%q: must be api, emf or off", c.Mode))
	}
	if c.Interval <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_INTERVAL=%s: must be a positive duration, such as 60s", c.Interval))
	}
	if c.Buffer <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_BUFFER=%d: must be a positive number of datums, such as 10000", c.Buffer))
	}
	if c.Resolution != 1 && c.Resolution != 60 {
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_RESOLUTION=%d: must be 1 or 60", c.Resolution))
	}
	return errs
}
