package config

import (
	"fmt"
	"time"
)

// Reconcile configures `connect-sidecar run`'s connector management.
type Reconcile struct {
	ConnectorsURI     string        `envconfig:"SIDECAR_CONNECTORS_URI" desc:"desired connectors: s3://bucket/prefix/ or file:///dir of *.json"`
	ReconcileInterval time.Duration `envconfig:"SIDECAR_RECONCILE_INTERVAL" default:"30s" desc:"time between full reconcile cycles"`
	PollInterval      time.Duration `envconfig:"SIDECAR_POLL_INTERVAL" default:"15s" desc:"S3 ETag polling interval for connector files"`
	Prune             bool          `envconfig:"SIDECAR_PRUNE" default:"false" desc:"delete connectors whose file was removed"`
	AutoRestart       bool          `envconfig:"SIDECAR_AUTO_RESTART" default:"true" desc:"restart FAILED connectors and tasks on Strimzi's backoff schedule"`
	MaxRestarts       int           `envconfig:"SIDECAR_MAX_RESTARTS" default:"0" desc:"most auto-restarts per connector before giving up (0: no limit)"`
	WriteJitter       time.Duration `envconfig:"SIDECAR_WRITE_JITTER" default:"5s" desc:"largest random delay before writing while the Connect leader is unknown"`
	ShutdownGrace     time.Duration `envconfig:"SIDECAR_SHUTDOWN_GRACE" default:"5s" desc:"time allowed to finish in-flight work on SIGTERM"`
}

func (r Reconcile) validate() []error {
	var errs []error
	if r.ReconcileInterval <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_RECONCILE_INTERVAL=%s: must be positive", r.ReconcileInterval))
	}
	if r.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_POLL_INTERVAL=%s: must be positive", r.PollInterval))
	}
	if r.MaxRestarts < 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_MAX_RESTARTS=%d: must not be negative", r.MaxRestarts))
	}
	return errs
}
