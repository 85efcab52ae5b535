package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
)

// clearSidecarEnv unsets every variable the sidecar reads, so that the
// machine's environment cannot change a test's outcome.
func clearSidecarEnv(t *testing.T) {
	t.Helper()
	for _, k := range config.Keys() {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

// Every subcommand says a configuration problem the same way: one plain
// line per problem on stderr naming the setting and what a good value
// looks like, nothing on stdout, exit status 2.
func TestConfigurationProblemsOneStyle(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		lines []string
	}{
		{"bootstrap: a bad boolean", []string{"bootstrap"}, map[string]string{"SIDECAR_ALLOW_EXPIRED_CERTS": "yes"},
			[]string{`connect-sidecar bootstrap: SIDECAR_ALLOW_EXPIRED_CERTS="yes": want true or false`}},
		{"bootstrap: an s3 URI without key", []string{"bootstrap"}, map[string]string{"KAFKA_CONNECT_PROPERTIES_S3_URI": "s3://my-bucket"},
			[]string{`connect-sidecar bootstrap: KAFKA_CONNECT_PROPERTIES_S3_URI: "s3://my-bucket": no object key (want s3://my-bucket/path/to/object)`}},
		{"run: a bad boolean", []string{"run"}, map[string]string{"SIDECAR_PRUNE": "yes"},
			[]string{`connect-sidecar run: SIDECAR_PRUNE="yes": want true or false`}},
		{"run: no connector files", []string{"run"}, nil,
			[]string{"connect-sidecar run: SIDECAR_CONNECTORS_URI is not set: want s3://bucket/prefix/ or file:///dir, where the connector files are"}},
		{"healthcheck: a bad duration", []string{"healthcheck"}, map[string]string{"SIDECAR_JMX_TIMEOUT": "5"},
			[]string{`connect-sidecar healthcheck: SIDECAR_JMX_TIMEOUT="5": want a duration such as 30s or 2m`}},
		{"healthcheck: a stray argument", []string{"healthcheck", "now"}, nil,
			[]string{`connect-sidecar healthcheck: unknown argument "now"`}},
		{"status: two bad settings", []string{"status"}, map[string]string{"SIDECAR_CONNECT_URL": "localhost:8083", "SIDECAR_CONNECT_TIMEOUT": "0s"},
			[]string{`connect-sidecar status: SIDECAR_CONNECT_URL="localhost:8083": must be an http:// or https:// URL`,
				"connect-sidecar status: SIDECAR_CONNECT_TIMEOUT=0s: must be a positive duration, such as 10s"}},
		{"version: an argument", []string{"version", "--short"}, nil, []string{`connect-sidecar version: unknown argument "--short"`}},
		{"unknown command", []string{"--versoin"}, nil, []string{`connect-sidecar: unknown command "--versoin"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearSidecarEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), tt.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			got := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if strings.Join(got, "\n") == "" || len(got) != len(tt.lines) {
				t.Fatalf("stderr has %d lines, want %d:\n%s", len(got), len(tt.lines), stderr.String())
			}
			for i, want := range tt.lines {
				if !strings.HasPrefix(got[i], want) {
					t.Errorf("line %d = %q, want it to start with %q", i+1, got[i], want)
				}
			}
			for _, internal := range []string{"strconv", "ParseBool", "time: invalid duration", "{\""} {
				if strings.Contains(stderr.String(), internal) {
					t.Errorf("stderr shows %q:\n%s", internal, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

// A bad flag value says what a good one looks like, not "parse error".
func TestFlagValuesSayWhatIsGood(t *testing.T) {
	for _, args := range [][]string{{"healthcheck", "--timeout", "5"}, {"status", "--timeout=abc"}, {"healthcheck", "--timeout=-1s"}} {
		clearSidecarEnv(t)
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if !strings.HasSuffix(first, "for flag -timeout: want a positive duration such as 5s or 2m") || strings.Contains(stderr.String(), "parse error") {
			t.Errorf("%v: stderr\n%s", args, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 0 || stdout.String() != "connect-sidecar dev\n" || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// The help says what every subcommand's exit status means and what s3://
// URIs need.
func TestHelpSaysExitStatusAndAWSNeeds(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Main(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, w := range []string{"Exit status: 0 success; 1 a failure while running", "2 bad usage or configuration", "need AWS_REGION", "--version"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("--help lacks %q", w)
		}
	}
	stdout.Reset()
	if code := Main(context.Background(), []string{"status", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("status --help: exit %d", code)
	}
	if !strings.Contains(stderr.String(), "resolved here, from this\nshell's environment") {
		t.Errorf("status --help does not say where ${env:...} comes from:\n%s", stderr.String())
	}
}

// bootstrap's AWS failures are one plain line each, with the fix, and
// exit status 1 (the settings were fine; the world was not).
func TestBootstrapAWSFailuresInPlainWords(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	base := map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_S3": closed, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CA_BUNDLE": "",
		"AWS_PROFILE": "", "AWS_ENDPOINT_URL": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"SIDECAR_FETCH_DEADLINE": "500ms", "KAFKA_CONNECT_PROPERTIES_S3_URI": "s3://cfg/workers/w.properties",
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no credentials", nil, []string{"connect-sidecar bootstrap: worker properties: get s3://cfg/workers/w.properties: no AWS credentials: tried",
			"EC2 instance metadata is off (AWS_EC2_METADATA_DISABLED=true)", "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}},
		{"endpoint unreachable", map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret"},
			[]string{"SIDECAR_FETCH_DEADLINE", "no answer from " + closed + "/cfg (region eu-west-1): cannot connect: connection refused; check the network route"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearSidecarEnv(t)
			t.Setenv("SIDECAR_CONFIG_DIR", t.TempDir())
			for _, env := range []map[string]string{base, tt.env} {
				for k, v := range env {
					t.Setenv(k, v)
					if v == "" {
						os.Unsetenv(k)
					}
				}
			}
			var stdout, stderr bytes.Buffer
			if code := Main(context.Background(), []string{"bootstrap"}, &stdout, &stderr); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			var problems []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if strings.HasPrefix(l, "connect-sidecar bootstrap: ") {
					problems = append(problems, l)
				}
			}
			if len(problems) != 1 {
				t.Fatalf("%d problem lines, want 1:\n%s", len(problems), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(problems[0], w) {
					t.Errorf("problem line lacks %q:\n%s", w, problems[0])
				}
			}
			if strings.Contains(problems[0], "operation error") || strings.Contains(problems[0], "failed to refresh cached credentials") {
				t.Errorf("the SDK's words: %s", problems[0])
			}
		})
	}
}
