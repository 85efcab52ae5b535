package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"
)

// clearEnv unsets every variable the sidecar knows, so that the machine's
// environment cannot leak into a test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range append(Keys(), "ECS_CONTAINER_METADATA_URI_V4") {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
}

func TestLoadDefaults(t *testing.T) {
	clearEnv(t)
	c, err := Load()
	if err != nil {
		t.Fatalf("Load with an empty environment: %v", err)
	}
	if c.Connect.URL != "http://localhost:8083" {
		t.Errorf("ConnectURL = %q, want http://localhost:8083", c.Connect.URL)
	}
	if c.Bootstrap.ConfigDir != "/config" {
		t.Errorf("ConfigDir = %q, want /config", c.Bootstrap.ConfigDir)
	}
	if got := c.CloudWatch.EffectiveMode(); got != "off" {
		t.Errorf("CloudWatch mode off ECS = %q, want off", got)
	}
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/abc")
	if got := c.CloudWatch.EffectiveMode(); got != "api" {
		t.Errorf("CloudWatch mode on ECS = %q, want api", got)
	}
}

func TestValidateNamesEveryBadKey(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SIDECAR_LOG_FORMAT": "xml"}, []string{`SIDECAR_LOG_FORMAT="xml"`}},
		{map[string]string{"SIDECAR_CONNECT_URL": "localhost:8083"}, []string{"SIDECAR_CONNECT_URL"}},
		{map[string]string{"SIDECAR_CLOUDWATCH_MODE": "push"}, []string{"SIDECAR_CLOUDWATCH_MODE"}},
		{map[string]string{"SIDECAR_CLOUDWATCH_RESOLUTION": "30"}, []string{"SIDECAR_CLOUDWATCH_RESOLUTION=30"}},
		{map[string]string{"SIDECAR_METRICS_PARTITION_DETAIL": "all"}, []string{"SIDECAR_METRICS_PARTITION_DETAIL"}},
		{map[string]string{"SIDECAR_MAX_RESTARTS": "-1", "SIDECAR_RECONCILE_INTERVAL": "0s"},
			[]string{"SIDECAR_MAX_RESTARTS=-1", "SIDECAR_RECONCILE_INTERVAL=0s"}},
		{map[string]string{"SIDECAR_METRICS_ADDR": "9400"}, []string{`SIDECAR_METRICS_ADDR="9400": want host:port`}},
		{map[string]string{"SIDECAR_BASE_PROPERTIES": "connect.properties"}, []string{`SIDECAR_BASE_PROPERTIES="connect.properties": must be an absolute path`}},
		{map[string]string{"SIDECAR_ADVERTISED_URL": "10.0.1.5:8083"}, []string{"SIDECAR_ADVERTISED_URL"}},
		{map[string]string{"SIDECAR_FETCH_DEADLINE": "0s"}, []string{"SIDECAR_FETCH_DEADLINE=0s: must be a positive duration, such as 2m"}},
		{map[string]string{"KAFKA_CONNECT_PROPERTIES_S3_URI": "s3://my-bucket"},
			[]string{`KAFKA_CONNECT_PROPERTIES_S3_URI: "s3://my-bucket": no object key (want s3://my-bucket/path/to/object)`}},
		{map[string]string{"KAFKA_CONNECT_KEYSTORE_S3_URI": "s3://b/stores/", "KAFKA_CONNECT_TRUSTSTORE_S3_URI": "https://b/t.p12"},
			[]string{`KAFKA_CONNECT_KEYSTORE_S3_URI: "s3://b/stores/": names a prefix`, `KAFKA_CONNECT_TRUSTSTORE_S3_URI: "https://b/t.p12": unsupported scheme`}},
		{map[string]string{"SIDECAR_CONNECTORS_URI": "connectors/"}, []string{`SIDECAR_CONNECTORS_URI: "connectors/": no scheme (want s3:// or file://)`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.want, ","), func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			if err == nil {
				t.Fatal("Load accepted a bad value")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestLoadRejectsUnparsableValues(t *testing.T) {
	tests := []struct{ key, val, want string }{
		{"SIDECAR_PRUNE", "maybe", `SIDECAR_PRUNE="maybe": want true or false`},
		{"SIDECAR_ALLOW_EXPIRED_CERTS", "yes", `SIDECAR_ALLOW_EXPIRED_CERTS="yes": want true or false`},
		{"SIDECAR_FETCH_DEADLINE", "abc", `SIDECAR_FETCH_DEADLINE="abc": want a duration such as 30s or 2m`},
		{"SIDECAR_MAX_OBJECT_BYTES", "10MB", `SIDECAR_MAX_OBJECT_BYTES="10MB": want a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.key, tt.val)
			_, err := Load()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load error = %v, want exactly %q (what a good value looks like, not the parser's words)", err, tt.want)
			}
		})
	}
}

// A password in a URL setting would be printed wherever the URL is; the
// error names the setting without showing the password.
func TestURLSettingsRefuseCredentials(t *testing.T) {
	const secret = "MARKER-SECRET-91c2"
	tests := []struct{ key, val string }{
		{"SIDECAR_CONNECT_URL", "http://admin:" + secret + "@localhost:8083"},
		{"SIDECAR_ADVERTISED_URL", "https://admin:" + secret + "@10.0.1.5:8083/"},
		{"SIDECAR_CONNECT_URL", "http://admin:" + secret + "@localhost:80%zz"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			clearEnv(t)
			t.Setenv(tt.key, tt.val)
			_, err := Load()
			if err == nil || !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("Load error = %v, want one naming %s", err, tt.key)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

func TestUsageListsEveryKeyWithDefault(t *testing.T) {
	var buf bytes.Buffer
	if err := Usage(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, k := range Keys() {
		if !strings.Contains(out, k) {
			t.Errorf("usage does not list %s", k)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "SIDECAR_CONNECT_URL ") && !strings.Contains(line, "http://localhost:8083") {
			t.Errorf("usage line %q lacks the default", line)
		}
	}
	// Every variable carries a one-line meaning.
	var c Config
	for _, s := range c.sections() {
		typ := reflect.TypeOf(s).Elem()
		for i := 0; i < typ.NumField(); i++ {
			if f := typ.Field(i); f.Tag.Get("envconfig") == "" || f.Tag.Get("desc") == "" {
				t.Errorf("%s.%s lacks an envconfig name or desc tag", typ, f.Name)
			}
		}
	}
	if n := reflect.TypeOf(c).NumField(); n != len(c.sections()) {
		t.Errorf("Config has %d sections, sections() lists %d: a section left out is never read", n, len(c.sections()))
	}
}

func TestKeysAreExplicitAndPrefixed(t *testing.T) {
	seed := map[string]bool{
		"KAFKA_CONNECT_PROPERTIES_S3_URI": true,
		"KAFKA_CONNECT_KEYSTORE_S3_URI":   true,
		"KAFKA_CONNECT_TRUSTSTORE_S3_URI": true,
	}
	for _, k := range Keys() {
		if !strings.HasPrefix(k, "SIDECAR_") && !seed[k] {
			t.Errorf("%s: the sidecar's own settings start with SIDECAR_", k)
		}
	}
	for k := range seed {
		found := false
		for _, got := range Keys() {
			found = found || got == k
		}
		if !found {
			t.Errorf("seed-compatible variable %s is missing", k)
		}
	}
}
