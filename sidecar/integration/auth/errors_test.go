package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/mm2acl"
	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
)

// misconfig is one way an operator gets a mode wrong, and what the
// sidecar must say about it.
type misconfig struct {
	name string
	// env changes the sidecar's environment (an empty value unsets).
	env func(t *testing.T, s *stack) map[string]string
	// during, when set, breaks the cluster side for the check and returns
	// the repair.
	during  func(t *testing.T, s *stack) func()
	cluster string
	reason  string
	// want are parts of the one-line error: the listener, the fix.
	want []string
}

var misconfigs = map[string][]misconfig{
	"scram": {
		{
			name: "wrong SCRAM password",
			env: func(t *testing.T, s *stack) map[string]string {
				return map[string]string{"SOURCE_SASL_PASSWORD": "wrong-" + randomText(t)}
			},
			cluster: "source", reason: "authentication",
			want: []string{"SASL_SSL/SCRAM-SHA-512", "fix: check the user and password source.cluster.sasl.jaas.config references"},
		},
		{
			name:    "untrusted broker certificate",
			env:     func(*testing.T, *stack) map[string]string { return map[string]string{"SSL_CERT_FILE": ""} },
			cluster: "source", reason: "broker_certificate_untrusted",
			want: []string{"x509: certificate signed by unknown authority", "source.cluster.ssl.truststore.location"},
		},
		{
			name: "missing ACL",
			during: func(t *testing.T, s *stack) func() {
				e := mm2acl.Entry{Cluster: "target", Resource: "Group", Name: groupPrefix, Prefixed: true, Operation: "Read"}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := setACLs(ctx, s.target, []mm2acl.Entry{e}, false); err != nil {
					t.Fatal(err)
				}
				return func() {
					if err := setACLs(context.Background(), s.target, []mm2acl.Entry{e}, true); err != nil {
						t.Errorf("restoring %s: %v", e, err)
					}
				}
			},
			cluster: "target", reason: "authorization",
			want: []string{"GROUP_AUTHORIZATION_FAILED", "Least-privilege ACLs in connect-image/README.md"},
		},
	},
	"mtls": {
		{
			name: "expired client certificate",
			env: func(t *testing.T, s *stack) map[string]string {
				// The same stores, but the key store's certificate expired
				// yesterday; the sidecar reads them from its config directory.
				dir := filepath.Join(s.dir, "expired-config")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				leaf, err := s.ca.Issue(principal, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				ks, err := leaf.PKCS12(s.secrets["SSL_KEYSTORE_PASSWORD"])
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "keystore.p12"), ks)
				ts, err := os.ReadFile(filepath.Join(s.configDir, "truststore.p12"))
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "truststore.p12"), ts)
				return map[string]string{"SIDECAR_CONFIG_DIR": dir}
			},
			cluster: "source", reason: "client_certificate_expired",
			want: []string{"CN=mm2", "fix: renew the certificate in the key store source.cluster.ssl.keystore.location names"},
		},
	},
}

// operatorErrors checks that each misconfiguration reaches the operator as
// one line naming the cluster alias, the listener and the fix: in
// `status`, in the sidecar's log and as connect_sidecar_lag_error; and
// that no secret is in any of them.
func (s *stack) operatorErrors(t *testing.T) {
	for _, mc := range misconfigs[s.mode] {
		t.Run(mc.name, func(t *testing.T) {
			env := map[string]string{}
			if mc.env != nil {
				env = mc.env(t, s)
			}
			if mc.during != nil {
				defer mc.during(t, s)()
			}
			b := s.source
			if mc.cluster == "target" {
				b = s.target
			}
			head := fmt.Sprintf("%s cluster %q: ", mc.cluster, mc.cluster)
			want := append([]string{head, "(listener " + s.endpoint(b) + " "}, mc.want...)

			_, stderr, code := s.status(t, env)
			// A measurement that could not use a cluster is a failure while
			// running: exit 1 (2 is for bad usage or configuration).
			if code != 1 {
				t.Fatalf("status exit %d, want 1; stderr:\n%s", code, stderr)
			}
			line := errorLine(t, stderr, head)
			checkLine(t, "status", line, want)

			logText, metrics := s.misconfiguredSidecar(t, env, mc.cluster, mc.reason)
			checkLine(t, "sidecar log", loggedError(t, logText, mc.cluster, mc.reason), want)
			for _, where := range []struct{ name, text string }{{"status", stderr}, {"log", logText}, {"metrics", metrics}} {
				for k, v := range s.secrets {
					// User names are not secret (and "mm2" is in every name).
					if strings.HasSuffix(k, "_USERNAME") {
						continue
					}
					if strings.Contains(where.text, v) {
						t.Errorf("%s holds the value of %s", where.name, k)
					}
				}
				for k, v := range env {
					if strings.Contains(k, "PASSWORD") && v != "" && strings.Contains(where.text, v) {
						t.Errorf("%s holds the value of %s", where.name, k)
					}
				}
			}
			t.Logf("status says: %s", line)
		})
	}
}

func errorLine(t *testing.T, text, head string) string {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if i := strings.Index(l, head); i >= 0 {
			return l[i:]
		}
	}
	t.Fatalf("no line with %q in:\n%s", head, text)
	return ""
}

// loggedError is the err of the sidecar's JSON "lag measurement failed"
// line for cluster and reason.
func loggedError(t *testing.T, text, cluster, reason string) string {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		var rec struct {
			Msg, Cluster, Reason, Err string
		}
		if json.Unmarshal([]byte(l), &rec) != nil {
			continue
		}
		if rec.Msg == "lag measurement failed" && rec.Cluster == cluster && rec.Reason == reason {
			return rec.Err
		}
	}
	t.Fatalf("no lag measurement failure for cluster %s, reason %s in the log:\n%s", cluster, reason, text)
	return ""
}

func checkLine(t *testing.T, where, line string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(line, w) {
			t.Errorf("%s: %q lacks %q", where, line, w)
		}
	}
}

// misconfiguredSidecar runs a second `connect-sidecar run` with env
// applied, no JMX exporter (so it measures as a leader would) and no
// connector files of its own, until it exports the lag error; it returns
// its log and that scrape.
func (s *stack) misconfiguredSidecar(t *testing.T, extra map[string]string, cluster, reason string) (string, string) {
	t.Helper()
	port, err := realkafka.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	env := s.sidecarEnv()
	for k, v := range map[string]string{
		"SIDECAR_CONNECTORS_URI":  "s3://" + bucket + "/none/",
		"SIDECAR_ADVERTISED_URL":  s.worker.URL + "/",
		"SIDECAR_JMX_URL":         "",
		"SIDECAR_METRICS_ADDR":    addr,
		"SIDECAR_CLOUDWATCH_MODE": "off",
		"SIDECAR_CLUSTER_NAME":    "mm2",
		"SIDECAR_SERVICE_NAME":    "mm2-connect",
		"SIDECAR_LAG_INTERVAL":    "2s",
		"SIDECAR_LOG_FORMAT":      "json",
	} {
		env[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	logPath := filepath.Join(s.dir, "misconfigured-sidecar.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "run")
	cmd.Env = envList(env)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		logf.Close()
	}()
	series := regexp.MustCompile(fmt.Sprintf(`(?m)^connect_sidecar_lag_error\{cluster="%s",reason="%s"\} 1$`, cluster, reason))
	deadline := time.Now().Add(45 * time.Second)
	var scrape string
	for time.Now().Before(deadline) {
		scrape = get(t, "http://"+addr+"/metrics")
		if series.MatchString(scrape) {
			b, _ := os.ReadFile(logPath)
			return string(b), scrape
		}
		time.Sleep(500 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	lines := regexp.MustCompile(`(?m)^connect_sidecar_lag_error.*$`).FindAllString(scrape, -1)
	t.Fatalf("no %s in the scrape (lag_error lines: %q); log:\n%s", series, lines, tail(b, 3000))
	return "", ""
}

func get(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
