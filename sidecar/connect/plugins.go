package connect

import (
	"context"
	"net/http"
	"net/url"
)

// Plugin is one connector plugin a worker has installed.
type Plugin struct {
	// Class is the plugin's fully qualified Java class name.
	Class string `json:"class"`
	// Type is "source" or "sink": Plugins lists connector plugins only.
	Type string `json:"type"`
	// Version is the plugin's own version, often the Kafka version.
	Version string `json:"version"`
}

// Plugins lists the connector plugins (GET /connector-plugins).
func (c *Client) Plugins(ctx context.Context) ([]Plugin, error) {
	var out []Plugin
	err := c.do(ctx, http.MethodGet, "/connector-plugins", nil, &out)
	return out, err
}

// Validation is Connect's answer to a config validation: the number of
// errors and, for each setting with errors, Connect's messages.
type Validation struct {
	// ErrorCount is the number of errors over all settings; 0 is a valid
	// config.
	ErrorCount int `json:"error_count"`
	// Configs are Connect's findings per setting; Messages flattens those
	// with errors.
	Configs []struct {
		Value struct {
			Name   string   `json:"name"`
			Errors []string `json:"errors"`
		} `json:"value"`
	} `json:"configs"`
}

// Messages are Connect's error messages, "setting: message".
func (v Validation) Messages() []string {
	var out []string
	for _, c := range v.Configs {
		for _, e := range c.Value.Errors {
			out = append(out, c.Value.Name+": "+e)
		}
	}
	return out
}

// Validate asks Connect to validate a config without creating anything
// (PUT /connector-plugins/{class}/config/validate).
func (c *Client) Validate(ctx context.Context, class string, cfg map[string]string) (Validation, error) {
	var v Validation
	err := c.do(ctx, http.MethodPut, "/connector-plugins/"+url.PathEscape(class)+"/config/validate", cfg, &v)
	return v, err
}
