package cloudwatch

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// scalingPolicy mirrors the PutScalingPolicy input for target tracking with
// a customized metric; unknown fields fail the decode.
type scalingPolicy struct {
	PolicyName        string
	ServiceNamespace  string
	ResourceId        string
	ScalableDimension string
	PolicyType        string

	TargetTrackingScalingPolicyConfiguration struct {
		TargetValue                   float64
		CustomizedMetricSpecification struct {
			Namespace  string
			MetricName string
			Dimensions []struct{ Name, Value string }
			Statistic  string
			Unit       string
		}
		ScaleOutCooldown int
		ScaleInCooldown  int
		DisableScaleIn   bool
	}
}

// TestScalingPolicyTracksThePublishedMetric keeps taskdefs/scaling-policy.json
// and the publisher in step: same namespace, name, dimensions and unit.
func TestScalingPolicyTracksThePublishedMetric(t *testing.T) {
	path := filepath.Join("..", "..", "taskdefs", "scaling-policy.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p scalingPolicy
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := p.TargetTrackingScalingPolicyConfiguration
	m := c.CustomizedMetricSpecification
	checks := []struct{ what, got, want string }{
		{"ServiceNamespace", p.ServiceNamespace, "ecs"},
		{"ScalableDimension", p.ScalableDimension, "ecs:service:DesiredCount"},
		{"PolicyType", p.PolicyType, "TargetTrackingScaling"},
		{"ResourceId", p.ResourceId, "service/${CLUSTER_NAME}/${SERVICE_NAME}"},
		// The namespace is the deployment's setting, the one the task
		// definition gives the sidecars (SIDECAR_CLOUDWATCH_NAMESPACE).
		{"Namespace", m.Namespace, "${CLOUDWATCH_NAMESPACE}"},
		{"MetricName", m.MetricName, MetricBacklog},
		{"Statistic", m.Statistic, "Average"},
		{"Unit", m.Unit, "Count"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if len(m.Dimensions) != 2 || m.Dimensions[0].Name != DimensionClusterName || m.Dimensions[1].Name != DimensionServiceName {
		t.Errorf("dimensions %+v, want exactly %s and %s", m.Dimensions, DimensionClusterName, DimensionServiceName)
	}
	if c.TargetValue <= 0 || c.ScaleOutCooldown <= 0 || c.ScaleInCooldown < c.ScaleOutCooldown {
		t.Errorf("target %v, cooldowns out %d in %d: scale-in must wait at least as long as scale-out",
			c.TargetValue, c.ScaleOutCooldown, c.ScaleInCooldown)
	}
}
