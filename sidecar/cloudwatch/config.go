package cloudwatch

import (
	"context"
	"fmt"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
)

// FromConfig completes o from the sidecar's settings and the ECS task
// (mode, namespace, interval, buffer, resolution, dimensions) and builds the
// CloudWatch client when mode api needs one and o.API is nil. The caller
// still supplies EMF (stdout), JMX, Tasks, Recorder, Leader and Log.
func FromConfig(ctx context.Context, cfg config.CloudWatch, task ecsmeta.Task, o Options) (*Publisher, error) {
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
