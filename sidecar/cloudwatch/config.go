package cloudwatch

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
)

// Config configures the scaling-metric publisher.
type Config struct {
	// Mode (SIDECAR_CLOUDWATCH_MODE) is api, emf or off; empty is api on
	// ECS and off elsewhere (EffectiveMode).
	Mode string `envconfig:"SIDECAR_CLOUDWATCH_MODE" desc:"api, emf or off (empty: api on ECS, off elsewhere)"`
	// Namespace (SIDECAR_CLOUDWATCH_NAMESPACE) is Options.Namespace.
	Namespace string `envconfig:"SIDECAR_CLOUDWATCH_NAMESPACE" default:"MM2/Connect" desc:"CloudWatch namespace of the scaling metrics"`
	// Interval (SIDECAR_CLOUDWATCH_INTERVAL) is Options.Interval.
	Interval time.Duration `envconfig:"SIDECAR_CLOUDWATCH_INTERVAL" default:"60s" desc:"time between two publications"`
	// Buffer (SIDECAR_CLOUDWATCH_BUFFER) is Options.Buffer, in datums.
	Buffer int `envconfig:"SIDECAR_CLOUDWATCH_BUFFER" default:"10000" desc:"datums kept while CloudWatch is unreachable; the oldest are dropped"`
	// Resolution (SIDECAR_CLOUDWATCH_RESOLUTION) is Options.Resolution, in
	// seconds: 1 or 60.
	Resolution int `envconfig:"SIDECAR_CLOUDWATCH_RESOLUTION" default:"60" desc:"storage resolution in seconds: 1 or 60"`
}

// EffectiveMode resolves the empty default: api on ECS, off elsewhere.
func (c Config) EffectiveMode() string {
	if c.Mode != "" {
		return c.Mode
	}
	if os.Getenv(ecsmeta.EnvVar) != "" {
		return "api"
	}
	return "off"
}

// Validate reports the settings that are out of range, one error each.
func (c Config) Validate() []error {
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

// FromConfig completes o from the sidecar's settings and the ECS task
// (mode, namespace, interval, buffer, resolution, dimensions) and builds the
// CloudWatch client when mode api needs one and o.API is nil. The caller
// still supplies EMF (stdout), JMX, Tasks, Recorder, Leader and Log.
func FromConfig(ctx context.Context, cfg Config, task ecsmeta.Task, o Options) (*Publisher, error) {
	o.Mode = cfg.EffectiveMode()
	o.Namespace = cfg.Namespace
	o.Interval = cfg.Interval
	o.Buffer = cfg.Buffer
	o.Resolution = cfg.Resolution
	o.ClusterName = task.Cluster
	o.ServiceName = task.ServiceName
	if o.Mode == ModeOff {
		return New(o)
	}
	if o.ClusterName == "" {
		return nil, fmt.Errorf("SIDECAR_CLUSTER_NAME: empty and no ECS cluster in the task metadata (mode %s needs the ClusterName dimension)", o.Mode)
	}
	if o.ServiceName == "" {
		return nil, fmt.Errorf("SIDECAR_SERVICE_NAME: empty and no ECS service in the task metadata (mode %s needs the ServiceName dimension)", o.Mode)
	}
	if o.Mode == ModeAPI && o.API == nil {
		api, err := NewAPI(ctx)
		if err != nil {
			return nil, err
		}
		o.API = api
	}
	return New(o)
}
