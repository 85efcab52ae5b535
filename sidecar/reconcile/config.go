package reconcile

import (
	"fmt"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

// Config configures `connect-sidecar run`'s connector management.
type Config struct {
	// ConnectorsURI (SIDECAR_CONNECTORS_URI) is where the connector files
	// are: an s3:// prefix or a file:// directory. Empty is allowed by
	// Validate, but run refuses to start without it.
	ConnectorsURI string `envconfig:"SIDECAR_CONNECTORS_URI" desc:"desired connectors (run needs it): s3://bucket/prefix/ (needs AWS_REGION) or file:///dir of *.json"`
	// Interval (SIDECAR_RECONCILE_INTERVAL) is the time between two full
	// cycles (a file change starts one sooner); readiness goes stale
	// after twice it.
	Interval time.Duration `envconfig:"SIDECAR_RECONCILE_INTERVAL" default:"30s" desc:"time between full reconcile cycles"`
	// PollInterval (SIDECAR_POLL_INTERVAL) is how often an s3:// prefix is
	// listed for changed ETags; file:// directories are watched instead.
	PollInterval time.Duration `envconfig:"SIDECAR_POLL_INTERVAL" default:"15s" desc:"S3 ETag polling interval for connector files"`
	// Prune (SIDECAR_PRUNE) deletes connectors that no file names, but
	// only when the desired set is complete and not empty, and only by the
	// leader (or by anyone while the leader is unknown). False: they are
	// only reported.
	Prune bool `envconfig:"SIDECAR_PRUNE" default:"false" desc:"delete connectors whose file was removed"`
	// AutoRestart (SIDECAR_AUTO_RESTART) restarts FAILED connectors and
	// tasks on Strimzi's schedule (at once, then 2, 6, 12 ... minutes, then
	// hourly). False: failures are left to the operator.
	AutoRestart bool `envconfig:"SIDECAR_AUTO_RESTART" default:"true" desc:"restart FAILED connectors and tasks on Strimzi's backoff schedule"`
	// MaxRestarts (SIDECAR_MAX_RESTARTS) is how many auto-restarts a
	// connector gets before the reconciler gives up on it, until it has run
	// without failing for longer than the next delay; 0 is no limit.
	MaxRestarts int `envconfig:"SIDECAR_MAX_RESTARTS" default:"0" desc:"most auto-restarts per connector before giving up (0: no limit)"`
	// WriteJitter (SIDECAR_WRITE_JITTER) is the largest random delay
	// before writing while the leader is unknown, so that sidecars do not
	// write together; 0 writes at once.
	WriteJitter time.Duration `envconfig:"SIDECAR_WRITE_JITTER" default:"5s" desc:"largest random delay before writing while the Connect leader is unknown"`
	// LeaderWait (SIDECAR_LEADER_WAIT) bounds the wait at start for the
	// Connect group leader to be known before the first write; 0 does not
	// wait. It only applies with a JMX exporter to tell the leader.
	LeaderWait time.Duration `envconfig:"SIDECAR_LEADER_WAIT" default:"30s" desc:"longest wait at start for the Connect group leader to be known before writing (0: none)"`
	// ShutdownGrace (SIDECAR_SHUTDOWN_GRACE) is how long requests under way
	// at SIGTERM may still run before they are cancelled.
	ShutdownGrace time.Duration `envconfig:"SIDECAR_SHUTDOWN_GRACE" default:"5s" desc:"time allowed to finish in-flight work on SIGTERM"`
}

// Validate reports the settings that are out of range, one error each.
func (r Config) Validate() []error {
	var errs []error
	if r.ConnectorsURI != "" {
		if _, err := source.ParseURI(r.ConnectorsURI); err != nil {
			errs = append(errs, fmt.Errorf("SIDECAR_CONNECTORS_URI: %w", err))
		}
	}
	if r.Interval <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_RECONCILE_INTERVAL=%s: must be a positive duration, such as 30s", r.Interval))
	}
	if r.PollInterval <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_POLL_INTERVAL=%s: must be a positive duration, such as 15s", r.PollInterval))
	}
	if r.LeaderWait < 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_LEADER_WAIT=%s: must be a duration such as 30s, or 0s for none", r.LeaderWait))
	}
	if r.MaxRestarts < 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_MAX_RESTARTS=%d: must be a whole number such as 10, or 0 for no limit", r.MaxRestarts))
	}
	return errs
}
