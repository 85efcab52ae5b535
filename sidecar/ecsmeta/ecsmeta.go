// Package ecsmeta owns reading the ECS task metadata endpoint (version 4):
// the task's ARN, cluster, service, availability zone, private IPv4 address
// and limits. It does not decide what those facts are used for.
package ecsmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// EnvVar is the variable the ECS agent injects into every container.
const EnvVar = "ECS_CONTAINER_METADATA_URI_V4"

// Task is what the sidecar needs to know about its own task.
type Task struct {
	// Cluster is the cluster's name (the ARN's last part), or
	// SIDECAR_CLUSTER_NAME after Override.
	Cluster string
	// ClusterARN is the cluster as the agent reports it: its ARN, or its
	// name on older agents.
	ClusterARN string
	// ServiceName is the ECS service's name, or SIDECAR_SERVICE_NAME after
	// Override; empty when the agent does not report it (a task run
	// outside a service, an older agent).
	ServiceName string
	// TaskARN is the task's ARN; never empty in a Task that Fetch returns.
	TaskARN string
	// TaskID is the TaskARN's last part.
	TaskID string
	// Family is the task definition's family.
	Family string
	// Revision is the task definition's revision, such as "12".
	Revision string
	// AvailabilityZone is the zone the task runs in, such as eu-west-1a;
	// empty on agents that do not report it.
	AvailabilityZone string
	// PrivateIPv4 is the task's first address on an awsvpc network; empty
	// in other network modes.
	PrivateIPv4 string
	// CPULimit is the task-level CPU limit in vCPU, such as 0.5; 0 when
	// the task definition sets none.
	CPULimit float64
	// MemoryLimitMiB is the task-level memory limit in MiB; 0 when the
	// task definition sets none.
	MemoryLimitMiB int64
}

// taskDoc is the subset of the v4 /task document the sidecar reads. Field
// names follow AWS's documented response.
type taskDoc struct {
	Cluster          string `json:"Cluster"`
	ServiceName      string `json:"ServiceName"`
	TaskARN          string `json:"TaskARN"`
	Family           string `json:"Family"`
	Revision         string `json:"Revision"`
	AvailabilityZone string `json:"AvailabilityZone"`
	Limits           struct {
		CPU    float64 `json:"CPU"`
		Memory int64   `json:"Memory"`
	} `json:"Limits"`
	Containers []struct {
		Networks []struct {
			NetworkMode   string   `json:"NetworkMode"`
			IPv4Addresses []string `json:"IPv4Addresses"`
		} `json:"Networks"`
	} `json:"Containers"`
}

// FromEnv fetches the task metadata when ECS_CONTAINER_METADATA_URI_V4 is
// set. ok is false outside ECS.
func FromEnv(ctx context.Context, client *http.Client) (task Task, ok bool, err error) {
	base := os.Getenv(EnvVar)
	if base == "" {
		return Task{}, false, nil
	}
	task, err = Fetch(ctx, client, base)
	return task, true, err
}

// Fetch reads base + "/task".
func Fetch(ctx context.Context, client *http.Client, base string) (Task, error) {
	if client == nil {
		client = http.DefaultClient
	}
	url := strings.TrimSuffix(base, "/") + "/task"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Task{}, fmt.Errorf("task metadata %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Task{}, fmt.Errorf("task metadata %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Task{}, fmt.Errorf("task metadata %s: read: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Task{}, fmt.Errorf("task metadata %s: HTTP %d", url, resp.StatusCode)
	}
	t, err := parse(body)
	if err != nil {
		return Task{}, fmt.Errorf("%s: %w", url, err)
	}
	return t, nil
}

// parse decodes a v4 /task document.
func parse(body []byte) (Task, error) {
	var d taskDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return Task{}, fmt.Errorf("task metadata: decode: %w", err)
	}
	if d.TaskARN == "" {
		return Task{}, errors.New("task metadata: no TaskARN")
	}
	t := Task{
		Cluster:          lastPart(d.Cluster),
		ClusterARN:       d.Cluster,
		ServiceName:      d.ServiceName,
		TaskARN:          d.TaskARN,
		TaskID:           lastPart(d.TaskARN),
		Family:           d.Family,
		Revision:         d.Revision,
		AvailabilityZone: d.AvailabilityZone,
		CPULimit:         d.Limits.CPU,
		MemoryLimitMiB:   d.Limits.Memory,
	}
	for _, c := range d.Containers {
		for _, n := range c.Networks {
			if n.NetworkMode == "awsvpc" && len(n.IPv4Addresses) > 0 && t.PrivateIPv4 == "" {
				t.PrivateIPv4 = n.IPv4Addresses[0]
			}
		}
	}
	return t, nil
}

// lastPart returns what follows the last "/" of an ARN; a plain name
// (older agents report the cluster by name) comes back unchanged.
func lastPart(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// Override returns t with the names an operator set explicitly
// (SIDECAR_CLUSTER_NAME, SIDECAR_SERVICE_NAME) in place of the metadata's;
// outside ECS they are the only source.
func (t Task) Override(cluster, service string) Task {
	if cluster != "" {
		t.Cluster = cluster
	}
	if service != "" {
		t.ServiceName = service
	}
	return t
}
