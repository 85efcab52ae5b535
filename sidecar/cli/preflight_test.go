package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestPreflightExitCodes runs the command on kfake clusters: 0 when
// nothing fails, 1 when a check fails, 2 when it cannot run, with the
// problem as a plain line on stderr.
func TestPreflightExitCodes(t *testing.T) {
	var addrs [2]string
	for i := range addrs {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		addrs[i] = c.ListenAddrs()[0]
	}
	file := func(topics string) string {
		b, _ := json.Marshal(map[string]any{"name": "mm2-msc", "config": map[string]string{
			"connector.class":                       "org.apache.kafka.connect.mirror.MirrorSourceConnector",
			"source.cluster.alias":                  "src",
			"target.cluster.alias":                  "tgt",
			"source.cluster.bootstrap.servers":      addrs[0],
			"target.cluster.bootstrap.servers":      addrs[1],
			"topics":                                topics,
			"tasks.max":                             "2",
			"offset-syncs.topic.replication.factor": "1",
		}})
		return string(b)
	}
	cases := []struct {
		name   string
		files  map[string]string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "nothing fails", files: map[string]string{"msc.json": file("orders")}, code: 0, stdout: "nothing fails"},
		{name: "json", files: map[string]string{"msc.json": file("orders")}, args: []string{"--json"}, code: 0, stdout: `"failed": false`},
		{name: "a check fails", files: map[string]string{"msc.json": file("orders, shipments")}, code: 1, stdout: `topics pattern "shipments" matches no source topic`},
		{name: "bad connector file", files: map[string]string{"msc.json": file("orders"), "broken.json": "{"}, code: 2, stderr: "connect-sidecar preflight: file://"},
		{name: "no source connector", files: map[string]string{"other.json": `{"name":"x","connector.class":"FileStreamSource"}`}, code: 2, stderr: "connect-sidecar preflight: no MirrorSourceConnector among 1 connector files"},
		{name: "unknown argument", files: map[string]string{"msc.json": file("orders")}, args: []string{"extra"}, code: 2, stderr: `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("SIDECAR_CONNECTORS_URI", "")
			t.Setenv("SIDECAR_CONFIG_DIR", t.TempDir())
			t.Setenv("SIDECAR_CONNECT_URL", "http://127.0.0.1:1")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := Main(ctx, append([]string{"preflight", "--connectors", dir}, c.args...), &stdout, &stderr)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), c.stdout) || !strings.Contains(stderr.String(), c.stderr) {
				t.Errorf("stdout %q lacks %q or stderr %q lacks %q", stdout.String(), c.stdout, stderr.String(), c.stderr)
			}
		})
	}
	t.Run("no connector files named", func(t *testing.T) {
		t.Setenv("SIDECAR_CONNECTORS_URI", "")
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), []string{"preflight"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "SIDECAR_CONNECTORS_URI is not set") {
			t.Errorf("exit %d, stderr %q", code, stderr.String())
		}
	})
}
