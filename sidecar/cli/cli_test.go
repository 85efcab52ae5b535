package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
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

// While Connect REST does not answer, run says every report period what it
// waits for, how long it has waited and what to check.
func TestWaitForConnectReports(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	client, err := connect.New(config.Connect{ConnectURL: url, ConnectTimeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := config.Logging{LogFormat: "text", LogLevel: "info"}.Logger(logs)
	ctx, cancel := context.WithTimeout(context.Background(), 1100*time.Millisecond)
	defer cancel()
	if err := waitForConnect(ctx, client, log, 250*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if n := strings.Count(out, `msg="still waiting for Connect REST"`); n < 3 || n > 4 {
		t.Errorf("%d reports in 1.1s at one per 250ms, want 3 or 4:\n%s", n, out)
	}
	for _, w := range []string{"level=INFO msg=\"waiting for Connect REST\" url=" + url, "reports_every=250ms",
		"level=WARN msg=\"still waiting for Connect REST\" url=" + url, "waited=", "last_error=", "connection refused",
		`check="that the Kafka Connect worker runs and listens there`, "SIDECAR_CONNECT_URL names it"} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q:\n%s", w, out)
		}
	}
}
