package auth

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"
)

// TestIAMWorker starts a Connect worker on connect-image/workers/iam.properties
// as shipped, with the aws-msk-iam-auth jar on its class path, against a
// TLS listener that offers AWS_MSK_IAM. No AWS is reachable and the task
// role is absent, so the worker must get as far as the IAM library's own
// credential lookup and fail there: proof that the login module and the
// callback handler load and are the ones the mechanism runs.
func TestIAMWorker(t *testing.T) {
	need(t)
	began := time.Now()
	dir := filepath.Join(workDir, "iam")
	ca, err := realkafka.NewCA("mm2-ecs test CA iam")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue("msk-broker", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var mu sync.Mutex
	var mechanisms []string
	c.ControlKey(kmsg.SASLHandshake.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := r.(*kmsg.SASLHandshakeRequest)
		mu.Lock()
		mechanisms = append(mechanisms, req.Mechanism)
		mu.Unlock()
		resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{"AWS_MSK_IAM"}
		return resp, nil, true
	})
	addr := c.ListenAddrs()[0]

	srv, err := s3test.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	props, err := os.ReadFile(filepath.Join(repo, "connect-image", "workers", "iam.properties"))
	if err != nil {
		t.Fatal(err)
	}
	s3put(t, srv, "mm2/worker/connect-distributed.properties", props)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rest, jmx, err := realkafka.WorkerPorts()
	if err != nil {
		t.Fatal(err)
	}
	configDir := filepath.Join(dir, "config")
	env := srv.Env(dir)
	for k, v := range map[string]string{
		"PATH":                              os.Getenv("PATH"),
		"SIDECAR_CONFIG_DIR":                configDir,
		"KAFKA_CONNECT_PROPERTIES_S3_URI":   "s3://" + bucket + "/mm2/worker/connect-distributed.properties",
		"CONNECT_BOOTSTRAP_SERVERS":         addr,
		"CONNECT_LISTENERS":                 fmt.Sprintf("http://127.0.0.1:%d", rest),
		"CONNECT_REST_ADVERTISED_HOST_NAME": "127.0.0.1",
		"CONNECT_REST_ADVERTISED_PORT":      fmt.Sprint(rest),
	} {
		env[k] = v
	}
	boot := exec.Command(binary, "bootstrap")
	boot.Env = envList(env)
	if out, err := boot.CombinedOutput(); err != nil {
		t.Fatalf("connect-sidecar bootstrap: %v\n%s", err, out)
	}
	// The broker's certificate comes from a CA the JVM trusts by default,
	// as MSK's do; the AWS SDK finds no credentials anywhere.
	jks, err := ca.TrustJKS("changeit")
	if err != nil {
		t.Fatal(err)
	}
	ts := filepath.Join(dir, "default-cacerts.jks")
	writeFile(t, ts, jks)
	none := filepath.Join(dir, "no-aws-config")
	workerEnv := map[string]string{
		"JAVA_TOOL_OPTIONS":                      "-Djavax.net.ssl.trustStore=" + ts + " -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=JKS",
		"SIDECAR_CONFIG_DIR":                     configDir,
		"TARGET_BOOTSTRAP_SERVERS":               addr,
		"SOURCE_BOOTSTRAP_SERVERS":               addr,
		"AWS_REGION":                             "us-east-1",
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_CONFIG_FILE":                        none,
		"AWS_SHARED_CREDENTIALS_FILE":            none,
		"AWS_EC2_METADATA_DISABLED":              "true",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	wdir := filepath.Join(dir, "worker")
	done := make(chan error, 1)
	go func() {
		w, err := runtime.StartWorker(ctx, realkafka.WorkerOptions{
			Name:       "iam worker",
			Dir:        wdir,
			Properties: filepath.Join(configDir, "connect-distributed.properties"),
			RESTPort:   rest,
			JMXPort:    jmx,
			Rules:      filepath.Join(repo, "connect-image", "jmx-exporter.yml"),
			Env:        envList(workerEnv),
		})
		if w != nil {
			w.Kill()
			err = fmt.Errorf("the worker started although it cannot have authenticated")
		}
		done <- err
	}()

	// What the library's IAMSaslClient says when the default credential
	// chain finds nothing, wrapped by Kafka's SASL client authenticator.
	want := regexp.MustCompile(`SaslAuthenticationException[^\n]*Failed to find AWS IAM Credentials`)
	classProblem := regexp.MustCompile(`ClassNotFoundException|NoClassDefFoundError|could not find a 'KafkaClient' entry|Failed to create SaslClient`)
	logPath := filepath.Join(wdir, "jvm.log")
	var log []byte
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		log, _ = os.ReadFile(logPath)
		if want.Match(log) || classProblem.Match(log) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	cancel()
	startErr := <-done
	if m := classProblem.Find(log); m != nil {
		t.Fatalf("the IAM classes did not load: %s\n%s", m, tail(log, 4000))
	}
	if !want.Match(log) {
		t.Fatalf("no authentication failure from the IAM library in the worker log (start: %v)\n%s", startErr, tail(log, 4000))
	}
	line := regexp.MustCompile(`.*SaslAuthenticationException.*`).Find(log)
	t.Logf("the worker's IAM failure: %s", line)
	mu.Lock()
	defer mu.Unlock()
	if len(mechanisms) == 0 || mechanisms[0] != "AWS_MSK_IAM" {
		t.Errorf("SASL handshakes asked for %v, want AWS_MSK_IAM", mechanisms)
	}
	t.Logf("iam: wall time %s", time.Since(began).Round(time.Second))
}
