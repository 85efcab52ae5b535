// Package config gathers the sidecar's settings: each package declares its
// own section (connect.Config, reconcile.Config, ...) with the environment
// variables, defaults and checks it owns; this package reads them all from
// the environment, checks what spans sections (URLs), and prints --help.
// It does not read files or talk to AWS.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/kelseyhightower/envconfig"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bootstrap"
	"github.com/mm2-fargate/mm2-ecs/sidecar/cloudwatch"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
	"github.com/mm2-fargate/mm2-ecs/sidecar/metrics"
	"github.com/mm2-fargate/mm2-ecs/sidecar/preflight"
	"github.com/mm2-fargate/mm2-ecs/sidecar/reconcile"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
	"github.com/mm2-fargate/mm2-ecs/sidecar/worker"
)

// Config is the sidecar's whole configuration: one section per package,
// each declared by the package it configures.
type Config struct {
	// Logging is the log format and level (SIDECAR_LOG_*).
	Logging Logging
	// Worker names this worker, its cluster and its service
	// (SIDECAR_CLUSTER_NAME, SIDECAR_SERVICE_NAME, SIDECAR_ADVERTISED_URL).
	Worker worker.Config
	// Bootstrap is the worker's config directory and where its files come
	// from.
	Bootstrap bootstrap.Config
	// Source is how much every fetch of the sidecar may read and how long
	// it may take (SIDECAR_MAX_OBJECT_BYTES, SIDECAR_FETCH_DEADLINE).
	Source source.Config
	// Connect is how to reach Connect REST (SIDECAR_CONNECT_*).
	Connect connect.Config
	// Reconcile is the connector management of run.
	Reconcile reconcile.Config
	// Metrics is the /metrics endpoint and the JMX exporter passthrough.
	Metrics metrics.Config
	// CloudWatch is the scaling-metric publisher (SIDECAR_CLOUDWATCH_*).
	CloudWatch cloudwatch.Config
	// Lag is the periodic lag and group-readiness measurement.
	Lag lag.Config
	// Preflight is the periodic run of the preflight checks.
	Preflight preflight.Config
}

// Logging configures the process-wide slog handler.
type Logging struct {
	// Format (SIDECAR_LOG_FORMAT) is json or text.
	Format string `envconfig:"SIDECAR_LOG_FORMAT" default:"json" desc:"log format: json or text"`
	// Level (SIDECAR_LOG_LEVEL) is the least severe level logged: debug,
	// info, warn or error.
	Level string `envconfig:"SIDECAR_LOG_LEVEL" default:"info" desc:"log level: debug, info, warn or error"`
}

// sections lists the settings' owners in --help order. Each is read on its
// own: envconfig would prefix the variables of a named struct field with the
// field's name, and every variable keeps its full name instead.
func (c *Config) sections() []section {
	return []section{&c.Logging, &c.Worker, &c.Bootstrap, &c.Source, &c.Connect, &c.Reconcile, &c.Metrics, &c.CloudWatch, &c.Lag, &c.Preflight}
}

// section is one package's settings: a struct of envconfig fields that
// checks what their types cannot.
type section interface {
	Validate() []error
}

// Load reads the configuration from the environment and validates it.
func Load() (Config, error) {
	var c Config
	for _, s := range c.sections() {
		if err := envconfig.Process("", s); err != nil {
			var pe *envconfig.ParseError
			if errors.As(err, &pe) {
				// Only typed settings fail to parse, and none of them is a
				// secret, so the value may be shown. The parser's own words
				// (strconv's) say less than what a good value looks like.
				return Config{}, fmt.Errorf("%s=%q: want %s", pe.KeyName, pe.Value, typeHint(pe.TypeName))
			}
			return Config{}, fmt.Errorf("read environment: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks values that envconfig cannot check by type alone. It
// reports every problem at once, one per line.
func (c Config) Validate() error {
	var errs []error
	url := func(key, raw string) {
		if err := checkHTTPURL(key, raw); err != nil {
			errs = append(errs, err)
		}
	}
	// URLs are checked here, where every setting that may hold one is in
	// view; each in its section's place, so that problems keep --help's order.
	for _, s := range c.sections() {
		switch {
		case s == section(&c.Connect):
			url("SIDECAR_CONNECT_URL", c.Connect.URL)
		case s == section(&c.Worker) && c.Worker.AdvertisedURL != "":
			url("SIDECAR_ADVERTISED_URL", c.Worker.AdvertisedURL)
		}
		errs = append(errs, s.Validate()...)
		if s == section(&c.Metrics) && c.Metrics.JMXURL != "" {
			url("SIDECAR_JMX_URL", c.Metrics.JMXURL)
		}
	}
	return errors.Join(errs...)
}

// Validate reports a log format or level that is not one of the known.
func (l Logging) Validate() []error {
	var errs []error
	oneOf := func(key, val string, allowed ...string) {
		if !slices.Contains(allowed, val) {
			errs = append(errs, fmt.Errorf("%s=%q: must be one of %s", key, val, strings.Join(allowed, ", ")))
		}
	}
	oneOf("SIDECAR_LOG_FORMAT", l.Format, "json", "text")
	oneOf("SIDECAR_LOG_LEVEL", strings.ToLower(l.Level), "debug", "info", "warn", "error")
	return errs
}

// typeHint says in words what a setting of an envconfig type looks like.
func typeHint(typeName string) string {
	switch typeName {
	case "time.Duration":
		return "a duration such as 30s or 2m"
	case "bool":
		return "true or false"
	case "int", "int64":
		return "a whole number"
	}
	return "a " + typeName
}

// checkHTTPURL reports a setting that is not an http:// or https:// URL,
// or that carries credentials: they would be printed wherever the URL is
// (logs, errors), so they come from their own settings instead.
func checkHTTPURL(key, raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil && strings.Contains(raw, "@"):
		return fmt.Errorf("%s: must be an http:// or https:// URL (value not shown: it may hold credentials)", key)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%s=%q: must be an http:// or https:// URL", key, raw)
	case u.User != nil:
		return fmt.Errorf("%s=%q: credentials in the URL are not allowed (they would be logged); Connect REST credentials go in SIDECAR_CONNECT_USERNAME and SIDECAR_CONNECT_PASSWORD", key, u.Redacted())
	}
	return nil
}

// Logger builds the slog logger the settings ask for, writing to w.
func (l Logging) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level)) // validated by Validate; info otherwise
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Usage writes one line per environment variable: name, default and meaning,
// generated from the struct tags so that the help text cannot drift.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	var c Config
	for _, s := range c.sections() {
		if err := envconfig.Usagef("", s, tw, "{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"); err != nil {
			return fmt.Errorf("render usage: %w", err)
		}
	}
	fmt.Fprintln(tw, "CONNECT_*\t\tworker properties: strip CONNECT_, lower-case, _ -> ., __ -> _, ___ -> -")
	return tw.Flush()
}

// Keys lists every environment variable name the sidecar knows, sorted.
// Task-definition checks use it to reject unknown SIDECAR_* settings.
func Keys() []string {
	var b strings.Builder
	var c Config
	for _, s := range c.sections() {
		_ = envconfig.Usagef("", s, &b, "{{range .}}{{usage_key .}}\n{{end}}")
	}
	keys := strings.Fields(b.String())
	sort.Strings(keys)
	return keys
}
