package config

import (
	"fmt"
	"time"
)

// CloudWatch configures the scaling-metric publisher.
type CloudWatch struct {
	CloudWatchMode       string        `envconfig:"SIDECAR_CLOUDWATCH_MODE" desc:"api, emf or off (empty: api on ECS, off elsewhere)"`
	CloudWatchNamespace  string        `envconfig:"SIDECAR_CLOUDWATCH_NAMESPACE" default:"MM2/Connect" desc:"CloudWatch namespace of the scaling metrics"`
	CloudWatchInterval   time.Duration `envconfig:"SIDECAR_CLOUDWATCH_INTERVAL" default:"60s" desc:"time between two publications"`
	CloudWatchBuffer     int           `envconfig:"SIDECAR_CLOUDWATCH_BUFFER" default:"10000" desc:"datums kept while CloudWatch is unreachable; the oldest are dropped"`
	CloudWatchResolution int           `envconfig:"SIDECAR_CLOUDWATCH_RESOLUTION" default:"60" desc:"storage resolution in seconds: 1 or 60"`
}

// Mode resolves the empty default: api on ECS, off elsewhere.
func (c CloudWatch) Mode() string {
	if c.CloudWatchMode != "" {
		return c.CloudWatchMode
	}
	if onECS() {
		return "api"
	}
	return "off"
}

func (c CloudWatch) validate() []error {
	var errs []error
	switch c.CloudWatchMode {
	case "", "api", "emf", "off":
	default:
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_MODE=%q: must be api, emf or off", c.CloudWatchMode))
	}
	if c.CloudWatchInterval <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_INTERVAL=%s: must be a positive duration, such as 60s", c.CloudWatchInterval))
	}
	if c.CloudWatchBuffer <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_BUFFER=%d: must be a positive number of datums, such as 10000", c.CloudWatchBuffer))
	}
	if c.CloudWatchResolution != 1 && c.CloudWatchResolution != 60 {
		errs = append(errs, fmt.Errorf("SIDECAR_CLOUDWATCH_RESOLUTION=%d: must be 1 or 60", c.CloudWatchResolution))
	}
	return errs
}
