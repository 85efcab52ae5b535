package connect

import (
	"fmt"
	"time"
)

// Config configures how the sidecar reaches the Kafka Connect REST API.
type Config struct {
	// URL (SIDECAR_CONNECT_URL) is the REST base URL, http or https; a
	// trailing slash is ignored.
	URL string `envconfig:"SIDECAR_CONNECT_URL" default:"http://localhost:8083" desc:"Kafka Connect REST base URL"`
	// CAFile (SIDECAR_CONNECT_CA_FILE) is a PEM bundle of the CAs trusted
	// for an https URL; empty trusts the system's roots.
	CAFile string `envconfig:"SIDECAR_CONNECT_CA_FILE" desc:"PEM CA bundle for an HTTPS Connect REST endpoint"`
	// Username (SIDECAR_CONNECT_USERNAME) turns on HTTP basic auth when
	// not empty.
	Username string `envconfig:"SIDECAR_CONNECT_USERNAME" desc:"HTTP basic auth user for Connect REST"`
	// Password (SIDECAR_CONNECT_PASSWORD) is the basic auth password, sent
	// only with Username.
	Password string `envconfig:"SIDECAR_CONNECT_PASSWORD" desc:"HTTP basic auth password for Connect REST (secret)"`
	// Timeout (SIDECAR_CONNECT_TIMEOUT) bounds one request, body included.
	Timeout time.Duration `envconfig:"SIDECAR_CONNECT_TIMEOUT" default:"10s" desc:"timeout of one Connect REST request"`
}

// Validate reports the settings that are out of range, one error each.
// SIDECAR_CONNECT_URL is checked by package config, with the other URLs.
func (c Config) Validate() []error {
	var errs []error
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_CONNECT_TIMEOUT=%s: must be a positive duration, such as 10s", c.Timeout))
	}
	return errs
}
