// Package worker owns who this sidecar's Kafka Connect worker is: its ECS
// task, the REST URL Connect advertises for it, the id Connect's statuses
// name it by, and whether it leads the Connect group. It does not talk to
// Connect; the leader's URL comes from the JMX exporter (package metrics).
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
)

// Identity is who this sidecar's Connect worker is.
type Identity struct {
	// Task is the ECS task, with SIDECAR_CLUSTER_NAME and
	// SIDECAR_SERVICE_NAME applied; empty fields off ECS.
	Task ecsmeta.Task
	// AdvertisedURL is the worker's REST URL as Connect advertises it,
	// compared with the group leader's.
	AdvertisedURL string
	// ID is host:port, as Connect's statuses name workers.
	ID string
}

// Identify finds this worker from the ECS task metadata (when on ECS), cfg
// and the URL the sidecar reaches Connect REST on. Missing task metadata
// only degrades labels and dimensions, so it is logged, not returned.
func Identify(ctx context.Context, cfg Config, connectURL string, log *slog.Logger) (Identity, error) {
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	task, onECS, err := ecsmeta.FromEnv(mctx, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		log.Warn("ECS task metadata unavailable", "error", err.Error())
	}
	w := Identity{Task: task.Override(cfg.ClusterName, cfg.ServiceName), AdvertisedURL: cfg.AdvertisedURL}
	if w.AdvertisedURL == "" {
		w.AdvertisedURL = connectURL
	}
	u, err := url.Parse(w.AdvertisedURL)
	if err != nil {
		return Identity{}, fmt.Errorf("advertised URL %q: %w", w.AdvertisedURL, err)
	}
	if cfg.AdvertisedURL == "" && onECS && task.PrivateIPv4 != "" {
		// Connect advertises the task's address, not the one the
		// sidecar reaches it on.
		u.Host = net.JoinHostPort(task.PrivateIPv4, portOf(u))
		u.Path = "/"
		w.AdvertisedURL = u.String()
	}
	w.ID = net.JoinHostPort(u.Hostname(), portOf(u))
	log.Info("worker identity", "advertised_url", w.AdvertisedURL, "worker_id", w.ID,
		"cluster", w.Task.Cluster, "service", w.Task.ServiceName, "task_id", w.Task.TaskID)
	return w, nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}
