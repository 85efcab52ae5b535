package worker

// Config names this worker and its service. On ECS the task metadata supplies
// them; these settings override it, and stand in for it elsewhere.
type Config struct {
	// ClusterName (SIDECAR_CLUSTER_NAME) replaces the task metadata's
	// cluster name in labels and CloudWatch dimensions; empty keeps it.
	ClusterName string `envconfig:"SIDECAR_CLUSTER_NAME" desc:"ECS cluster name for labels and CloudWatch dimensions (default: from task metadata)"`
	// ServiceName (SIDECAR_SERVICE_NAME) replaces the task metadata's
	// service name likewise; empty keeps it.
	ServiceName string `envconfig:"SIDECAR_SERVICE_NAME" desc:"ECS service name for labels and CloudWatch dimensions (default: from task metadata)"`
	// AdvertisedURL (SIDECAR_ADVERTISED_URL) is this worker's REST URL as
	// Connect advertises it, compared with the leader's; empty derives it
	// from the task's IPv4 and SIDECAR_CONNECT_URL's port on ECS, and is
	// SIDECAR_CONNECT_URL elsewhere.
	AdvertisedURL string `envconfig:"SIDECAR_ADVERTISED_URL" desc:"this worker's REST URL as Connect advertises it, compared with the group leader's (default: http://<task IPv4>:<port of SIDECAR_CONNECT_URL>/ on ECS, else SIDECAR_CONNECT_URL)"`
}

// Validate reports nothing: SIDECAR_ADVERTISED_URL is checked by package
// config, with the other URLs.
func (Config) Validate() []error { return nil }
