package realkafka

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFromLibs covers -kafka-libs: a distribution's libs/ folder, with the
// agent found beside the jars, in ../agent, or named.
func TestFromLibs(t *testing.T) {
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("java not installed: FromLibs needs it on PATH")
	}
	root := t.TempDir()
	dist := filepath.Join(root, "kafka_2.13-4.2.1", "libs")
	touch(t, filepath.Join(dist, "kafka-clients-4.2.1.jar"))
	resolved := filepath.Join(root, "runtime", "libs")
	touch(t, filepath.Join(resolved, "connect-runtime-4.2.1.jar"))
	touch(t, filepath.Join(root, "runtime", "agent", "jmx_prometheus_javaagent.jar"))
	beside := filepath.Join(root, "beside")
	touch(t, filepath.Join(beside, "kafka-clients-4.2.1.jar"))
	touch(t, filepath.Join(beside, "jmx_prometheus_javaagent-1.0.1.jar"))
	named := filepath.Join(root, "agent.jar")
	touch(t, named)

	tests := []struct {
		name, dir, agent, wantAgent, wantErr string
	}{
		{"distribution libs with a named agent", dist, named, named, ""},
		{"distribution libs without an agent", dist, "", "", "no jmx_prometheus_javaagent jar"},
		{"resolved runtime: agent in ../agent", resolved, "", filepath.Join(resolved, "..", "agent", "jmx_prometheus_javaagent.jar"), ""},
		{"agent beside the jars", beside, "", filepath.Join(beside, "jmx_prometheus_javaagent-1.0.1.jar"), ""},
		{"empty folder", t.TempDir(), named, "", "no jars in it"},
		{"named agent missing", dist, filepath.Join(root, "nope.jar"), "", "nope.jar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := FromLibs(tt.dir, tt.agent)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Clean(rt.Agent) != filepath.Clean(tt.wantAgent) || rt.Libs != tt.dir || rt.classPath() != filepath.Join(tt.dir, "*") {
				t.Errorf("runtime %+v, want agent %s and libs %s", rt, tt.wantAgent, tt.dir)
			}
		})
	}
}

// TestResolveWithoutJava says what to install, as a typed error callers
// can turn into a skip.
func TestResolveWithoutJava(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Resolve(t.Context(), "..")
	if !errors.Is(err, ErrNoJava) || !strings.Contains(err.Error(), "openjdk-17-jdk-headless") {
		t.Fatalf("err = %v, want ErrNoJava naming the package to install", err)
	}
}

func TestClusterIDIsKafkaUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := clusterID()
		if len(id) != 22 || strings.ContainsAny(id, "+/=") || seen[id] {
			t.Fatalf("cluster id %q: want 22 URL-safe base64 characters, unique", id)
		}
		seen[id] = true
	}
}
