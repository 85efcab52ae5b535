package connectimage_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/magiconair/properties"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bootstrap"
	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
)

var modes = []string{"plaintext", "scram", "mtls", "iam"}

const identityPolicy = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"

// envRef matches a whole ${env:NAME} reference.
var envRef = regexp.MustCompile(`\$\{env:([A-Z][A-Z0-9_]*)\}`)

// secretish reports whether a property or connector key carries a secret.
func secretish(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.HasSuffix(k, "jaas.config")
}

// checkNoLiteralSecret fails when a secret-bearing value holds anything but
// config-provider references: a password inside a JAAS line included.
func checkNoLiteralSecret(t *testing.T, where, key, value string) {
	t.Helper()
	if !secretish(key) {
		return
	}
	if strings.HasSuffix(strings.ToLower(key), "jaas.config") {
		for _, m := range regexp.MustCompile(`(?i)(password|username)="([^"]*)"`).FindAllStringSubmatch(value, -1) {
			if !envRef.MatchString(m[2]) {
				t.Errorf("%s: %s has a literal %s; use a ${env:...} reference", where, key, m[1])
			}
		}
		return
	}
	if !envRef.MatchString(value) && !strings.HasPrefix(value, "${file:") {
		t.Errorf("%s: %s=%q is a literal secret; use a ${env:...} reference", where, key, value)
	}
}

func loadWorker(t *testing.T, mode string) *properties.Properties {
	t.Helper()
	path := filepath.Join("workers", mode+".properties")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Expansion off: ${env:...} belongs to Connect, not to the parser.
	p := properties.NewProperties()
	p.DisableExpansion = true
	if err := p.Load(raw, properties.UTF8); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

func TestWorkerProperties(t *testing.T) {
	// What the sidecar's bootstrap refuses to write a worker file without.
	required := bootstrap.RequiredKeys
	wantSecurity := map[string]map[string]string{
		"plaintext": {},
		"scram":     {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"},
		"mtls":      {"security.protocol": "SSL", "ssl.keystore.location": "/config/keystore.p12", "ssl.truststore.location": "/config/truststore.p12"},
		"iam":       {"security.protocol": "SASL_SSL", "sasl.mechanism": "AWS_MSK_IAM"},
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			p := loadWorker(t, mode)
			for _, k := range required {
				if v, ok := p.Get(k); !ok || strings.TrimSpace(v) == "" {
					t.Errorf("%s.properties: %s is missing", mode, k)
				}
			}
			if got := p.GetString("config.providers", ""); got != "env" {
				t.Errorf("%s.properties: config.providers=%q, want env", mode, got)
			}
			if got := p.GetString("config.providers.env.class", ""); got != "org.apache.kafka.common.config.provider.EnvVarConfigProvider" {
				t.Errorf("%s.properties: config.providers.env.class=%q", mode, got)
			}
			if got := p.GetString("listeners", ""); got != "http://0.0.0.0:8083" {
				t.Errorf("%s.properties: listeners=%q, want http://0.0.0.0:8083 (the port the task maps)", mode, got)
			}
			for k, want := range wantSecurity[mode] {
				// The worker's own clients and the connectors' clients alike.
				for _, prefix := range []string{"", "producer.", "consumer.", "admin."} {
					if got := p.GetString(prefix+k, ""); got != want {
						t.Errorf("%s.properties: %s%s=%q, want %q", mode, prefix, k, got, want)
					}
				}
			}
			if mode == "plaintext" {
				for _, k := range p.Keys() {
					if strings.Contains(k, "security.protocol") || strings.Contains(k, "sasl.") || strings.Contains(k, "ssl.") {
						t.Errorf("plaintext.properties: %s has no place in a PLAINTEXT worker", k)
					}
				}
			}
			for _, k := range p.Keys() {
				checkNoLiteralSecret(t, mode+".properties", k, p.MustGet(k))
			}
		})
	}
}

type connectorFile struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
}

func loadConnector(t *testing.T, path string) connectorFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The sidecar's own parser must take the file as it is.
	if _, err := desired.Parse(path, raw); err != nil {
		t.Fatalf("the sidecar rejects %s: %v", path, err)
	}
	var c connectorFile
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func TestConnectorExamples(t *testing.T) {
	classes := map[string]string{
		"mm2-msc": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
		"mm2-cpc": "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
		"mm2-hbc": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
	}
	protocol := map[string]string{"plaintext": "PLAINTEXT", "scram": "SASL_SSL", "mtls": "SSL", "iam": "SASL_SSL"}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("connectors", mode, "*.json"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(classes) {
				t.Fatalf("connectors/%s holds %d files, want mm2-msc, mm2-cpc and mm2-hbc", mode, len(files))
			}
			byName := map[string]connectorFile{}
			for _, f := range files {
				c := loadConnector(t, f)
				if want := strings.TrimSuffix(filepath.Base(f), ".json"); c.Name != want {
					t.Errorf("%s: name %q differs from the file name", f, c.Name)
				}
				if got := c.Config["connector.class"]; got != classes[c.Name] {
					t.Errorf("%s: connector.class=%q, want %q", f, got, classes[c.Name])
				}
				if got := c.Config["replication.policy.class"]; got != identityPolicy {
					t.Errorf("%s: replication.policy.class=%q, want %s", f, got, identityPolicy)
				}
				for _, side := range []string{"source", "target"} {
					if got := c.Config[side+".cluster.bootstrap.servers"]; !envRef.MatchString(got) {
						t.Errorf("%s: %s.cluster.bootstrap.servers=%q, want a ${env:...} reference", f, side, got)
					}
					if got := c.Config[side+".cluster.security.protocol"]; got != protocol[mode] {
						t.Errorf("%s: %s.cluster.security.protocol=%q, want %s", f, side, got, protocol[mode])
					}
				}
				for k, v := range c.Config {
					checkNoLiteralSecret(t, f, k, v)
					if k == "name" {
						t.Errorf("%s: config repeats the name", f)
					}
				}
				byName[c.Name] = c
			}
			// What the three must agree on, or checkpoints and heartbeats
			// describe another replication flow than the source connector.
			for _, key := range []string{
				"source.cluster.alias", "target.cluster.alias", "replication.policy.class",
				"source.cluster.bootstrap.servers", "target.cluster.bootstrap.servers",
			} {
				ref := byName["mm2-msc"].Config[key]
				if ref == "" {
					t.Errorf("mm2-msc: %s is missing", key)
				}
				for name, c := range byName {
					if c.Config[key] != ref {
						t.Errorf("%s: %s=%q, but mm2-msc has %q", name, key, c.Config[key], ref)
					}
				}
			}
			msc, cpc := byName["mm2-msc"].Config, byName["mm2-cpc"].Config
			for _, key := range []string{"topics", "offset-syncs.topic.location"} {
				if msc[key] != cpc[key] {
					t.Errorf("%s: mm2-msc has %q, mm2-cpc has %q", key, msc[key], cpc[key])
				}
			}
			if got := cpc["tasks.max"]; got != "1" {
				t.Errorf("mm2-cpc: tasks.max=%q, want 1", got)
			}
			// The three connectors of a mode authenticate the same way.
			for name, c := range byName {
				for k, v := range byName["mm2-msc"].Config {
					if strings.Contains(k, ".cluster.s") && (strings.Contains(k, "security") || strings.Contains(k, "ssl.") || strings.Contains(k, "sasl.")) && c.Config[k] != v {
						t.Errorf("%s: %s=%q, but mm2-msc has %q", name, k, c.Config[k], v)
					}
				}
			}
		})
	}
}

// TestTuningIsDocumented makes every tuning value in the examples carry a
// reason: each such key must have a row in README.md's tuning table.
func TestTuningIsDocumented(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	structural := regexp.MustCompile(`^(connector\.class|tasks\.max|(source|target)\.cluster\.(alias|bootstrap\.servers|security\.protocol|ssl\..*|sasl\..*)|replication\.policy\.class|(key|value|header)\.converter|topics|groups)$`)
	seen := map[string]bool{}
	for _, mode := range modes {
		files, _ := filepath.Glob(filepath.Join("connectors", mode, "*.json"))
		for _, f := range files {
			for k := range loadConnector(t, f).Config {
				if !structural.MatchString(k) && !documented[k] && !seen[k] {
					seen[k] = true
					t.Errorf("%s: %s has no row in README.md's tuning table", f, k)
				}
			}
		}
		p := loadWorker(t, mode)
		for _, k := range p.Keys() {
			if strings.HasPrefix(k, "producer.") && !strings.Contains(k, "security") && !strings.Contains(k, "ssl.") && !strings.Contains(k, "sasl.") && !documented[k] && !seen[k] {
				seen[k] = true
				t.Errorf("workers/%s.properties: %s has no row in README.md's tuning table", mode, k)
			}
		}
	}
}

func runEntrypoint(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"entrypoint.sh"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestEntrypointRefusesMissingProperties(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(t.TempDir(), "connect-distributed.properties")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, configDir, want string
	}{
		{"missing", dir, "does not exist: the config-init container (connect-sidecar bootstrap) must run first"},
		{"empty", filepath.Dir(empty), "is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runEntrypoint(t, []string{"SIDECAR_CONFIG_DIR=" + tc.configDir, "KAFKA_HOME=" + t.TempDir()})
			if err == nil {
				t.Fatalf("entrypoint succeeded without properties; output:\n%s", out)
			}
			if !strings.Contains(out, tc.want) || !strings.Contains(out, tc.configDir) {
				t.Errorf("output %q does not name %s and say %q", out, tc.configDir, tc.want)
			}
		})
	}
}

// TestEntrypointStartsWorker runs the entrypoint against a Kafka directory
// whose connect-distributed.sh records how it was called.
func TestEntrypointStartsWorker(t *testing.T) {
	kafkaHome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(kafkaHome, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(t.TempDir(), "called")
	script := fmt.Sprintf("#!/usr/bin/env bash\nprintf '%%s\\n' \"$*\" \"$KAFKA_OPTS\" > %q\n", record)
	if err := os.WriteFile(filepath.Join(kafkaHome, "bin", "connect-distributed.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	configDir := t.TempDir()
	props := filepath.Join(configDir, "connect-distributed.properties")
	if err := os.WriteFile(props, []byte("group.id=g\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := "-javaagent:/opt/jmx-exporter/jmx_prometheus_javaagent.jar=127.0.0.1:9404:/opt/jmx-exporter/jmx-exporter.yml"
	out, err := runEntrypoint(t, []string{
		"SIDECAR_CONFIG_DIR=" + configDir, "KAFKA_HOME=" + kafkaHome,
		"KAFKA_OPTS=-Dfoo=bar", "KAFKA_JMX_EXPORTER_OPTS=" + agent,
	})
	if err != nil {
		t.Fatalf("entrypoint: %v\n%s", err, out)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	want := props + "\n-Dfoo=bar " + agent + "\n"
	if string(got) != want {
		t.Errorf("connect-distributed.sh called with\n%q\nwant\n%q", got, want)
	}
}

func TestEntrypointHealthcheck(t *testing.T) {
	tests := []struct {
		name   string
		status int
		ok     bool
	}{
		{"ready", http.StatusOK, true},
		{"starting", http.StatusServiceUnavailable, false},
		{"server error", http.StatusInternalServerError, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/" {
					t.Errorf("healthcheck asked for %s, want /", r.URL.Path)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, `{"version":"4.2.1"}`)
			}))
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			out, err := runEntrypoint(t, []string{"CONNECT_HEALTHCHECK_PORT=" + port}, "healthcheck")
			if (err == nil) != tc.ok {
				t.Errorf("healthcheck against HTTP %d: err=%v, want ok=%v; output %q", tc.status, err, tc.ok, out)
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		l.Close()
		if out, err := runEntrypoint(t, []string{"CONNECT_HEALTHCHECK_PORT=" + port}, "healthcheck"); err == nil {
			t.Errorf("healthcheck passed with nothing listening: %q", out)
		}
	})
}

func TestEntrypointUsage(t *testing.T) {
	out, err := runEntrypoint(t, nil, "--help")
	if err != nil || !strings.Contains(out, "Usage: connect-entrypoint") {
		t.Errorf("--help: err=%v output %q", err, out)
	}
	out, err = runEntrypoint(t, nil, "frobnicate")
	if err == nil || !strings.Contains(out, "unknown command 'frobnicate'") {
		t.Errorf("unknown command: err=%v output %q", err, out)
	}
}

// TestBasePropertiesMatchSidecarDefault checks that the image's sample
// worker file lies where the sidecar's SIDECAR_BASE_PROPERTIES default
// looks, the base a bootstrap uses when no properties URI is set.
func TestBasePropertiesMatchSidecarDefault(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^COPY workers/plaintext\.properties (\S+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("Dockerfile does not copy workers/plaintext.properties into the image")
	}
	var usage bytes.Buffer
	if err := config.Usage(&usage); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(usage.String(), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "SIDECAR_BASE_PROPERTIES" {
			if f[1] != string(m[1]) {
				t.Errorf("the image holds the sample at %s, SIDECAR_BASE_PROPERTIES defaults to %s", m[1], f[1])
			}
			return
		}
	}
	t.Error("the sidecar no longer knows SIDECAR_BASE_PROPERTIES")
}
