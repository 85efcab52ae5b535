package config

import (
	"fmt"
	"time"
)

// Connect configures how the sidecar reaches the Kafka Connect REST API.
type Connect struct {
	ConnectURL      string        `envconfig:"SIDECAR_CONNECT_URL" default:"http://localhost:8083" desc:"Kafka Connect REST base URL"`
	ConnectCAFile   string        `envconfig:"SIDECAR_CONNECT_CA_FILE" desc:"PEM CA bundle for an HTTPS Connect REST endpoint"`
	ConnectUsername string        `envconfig:"SIDECAR_CONNECT_USERNAME" desc:"HTTP basic auth user for Connect REST"`
	ConnectPassword string        `envconfig:"SIDECAR_CONNECT_PASSWORD" desc:"HTTP basic auth password for Connect REST (secret)"`
	ConnectTimeout  time.Duration `envconfig:"SIDECAR_CONNECT_TIMEOUT" default:"10s" desc:"timeout of one Connect REST request"`
}

func (c Connect) validate() []error {
	var errs []error
	if err := checkHTTPURL("SIDECAR_CONNECT_URL", c.ConnectURL); err != nil {
		errs = append(errs, err)
	}
	if c.ConnectTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SIDECAR_CONNECT_TIMEOUT=%s: must be a positive duration, such as 10s", c.ConnectTimeout))
	}
	return errs
}
