package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mm2-fargate/mm2-ecs/internal/mm2acl"
	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"
)

const (
	bucket = "mm2-config"
	// principal is the MM2 user on both clusters: the SCRAM user, and the
	// CN of the client certificate (the brokers map a DN to its CN).
	principal = "mm2"
	// topicPrefix and groupPrefix fill the README's TOPICS and GROUPS.
	topicPrefix = "app."
	groupPrefix = "app-"
	// records is how many records each source topic holds.
	records = 300
)

// sourceTopics are replicated; unlisted is on the source but outside the
// ACLs, so MM2 must never see it.
var (
	sourceTopics = map[string]int32{"app.orders": 3, "app.payments": 2}
	unlisted     = "hr.salaries"
	groups       = []string{"app-billing", "app-shipping"}
)

// stack is one mode's assembly: two secured brokers, S3 with the mode's
// example files, a bootstrapped Connect worker and a sidecar beside it.
type stack struct {
	mode           string
	dir            string
	ca             *realkafka.CA
	source, target *realkafka.SecureBroker
	s3             *s3test.Server
	configDir      string
	worker         *realkafka.Worker
	sidecar        *exec.Cmd
	sidecarDone    chan struct{}
	sidecarLog     string
	metricsURL     string
	acls           map[string][]mm2acl.Entry // cluster -> entries applied
	// secrets are the mode's secret variables as the task definition
	// fills them from Secrets Manager.
	secrets map[string]string
	// taskEnv is what the task definition sets for every container.
	taskEnv map[string]string
	// sidecarTrust is what lets the sidecar trust the brokers' CA when
	// the mode's files name no trust store (scram: the system roots).
	sidecarTrust map[string]string
	// clientLeaf is the MM2 principal's certificate (mtls).
	clientLeaf *realkafka.Leaf
	timings    []string
}

func (s *stack) mark(what string, since time.Time) {
	s.timings = append(s.timings, fmt.Sprintf("%s %s", what, time.Since(since).Round(100*time.Millisecond)))
}

// startStack brings a mode up. Everything it starts is stopped when the
// test ends; on a failure the logs are kept and their tails printed.
func startStack(t *testing.T, mode string) *stack {
	t.Helper()
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := &stack{mode: mode, dir: filepath.Join(workDir, mode), secrets: map[string]string{}, acls: map[string][]mm2acl.Entry{}}
	t.Cleanup(func() { s.stop(t) })
	var err error
	if s.ca, err = realkafka.NewCA("mm2-ecs test CA " + mode); err != nil {
		t.Fatal(err)
	}
	brokers := make([]*realkafka.SecureBroker, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"source", "target"} {
		wg.Go(func() {
			cert, err := s.ca.Issue(name+"-broker", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
			if err != nil {
				errs[i] = err
				return
			}
			brokers[i], errs[i] = runtime.StartSecureBroker(ctx, realkafka.SecureBrokerOptions{
				Name: name, Dir: filepath.Join(s.dir, name), Cert: cert,
			})
		})
	}
	wg.Wait()
	s.source, s.target = brokers[0], brokers[1]
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s.mark("brokers", began)

	readme, err := os.ReadFile(filepath.Join(repo, "connect-image", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := mm2acl.Parse(readme)
	if err != nil {
		t.Fatalf("connect-image/README.md: %v", err)
	}
	for _, e := range mm2acl.Fill(entries, topicPrefix+"*", groupPrefix+"*") {
		s.acls[e.Cluster] = append(s.acls[e.Cluster], e)
	}
	for _, b := range []*realkafka.SecureBroker{s.source, s.target} {
		if err := setACLs(ctx, b, s.acls[clusterOf(s, b)], true); err != nil {
			t.Fatal(err)
		}
	}
	s.seed(t, ctx)

	s.s3, err = s3test.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	s.putExamples(t)
	s.credentials(t, ctx)
	s.taskEnv = map[string]string{
		"SOURCE_BOOTSTRAP_SERVERS": s.endpoint(s.source),
		"TARGET_BOOTSTRAP_SERVERS": s.endpoint(s.target),
		"AWS_REGION":               "us-east-1",
	}
	s.mark("users, ACLs, data and S3", began)

	rest, jmx, err := realkafka.WorkerPorts()
	if err != nil {
		t.Fatal(err)
	}
	s.configDir = filepath.Join(s.dir, "config")
	s.bootstrap(t, ctx, rest)
	s.mark("bootstrap", began)
	s.worker, err = runtime.StartWorker(ctx, realkafka.WorkerOptions{
		Name:       mode + " worker",
		Dir:        filepath.Join(s.dir, "worker"),
		Properties: filepath.Join(s.configDir, "connect-distributed.properties"),
		RESTPort:   rest,
		JMXPort:    jmx,
		Rules:      filepath.Join(repo, "connect-image", "jmx-exporter.yml"),
		Env:        envList(s.workerEnv()),
	})
	if err != nil {
		t.Fatal(err)
	}
	s.mark("worker", began)
	s.startSidecar(t)
	t.Logf("%s: up in %s (%s)", mode, time.Since(began).Round(100*time.Millisecond), strings.Join(s.timings, ", "))
	return s
}

func clusterOf(s *stack, b *realkafka.SecureBroker) string {
	if b == s.source {
		return "source"
	}
	return "target"
}

// endpoint is the listener the mode's clients use.
func (s *stack) endpoint(b *realkafka.SecureBroker) string {
	if s.mode == "mtls" {
		return b.SSL
	}
	return b.SASLSSL
}

// seed creates the source topics, records and committed group offsets
// (as the applications would, through the setup listener), and a topic
// ACL of an application that MM2 is to copy.
func (s *stack) seed(t *testing.T, ctx context.Context) {
	t.Helper()
	cl, err := s.source.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for name, parts := range sourceTopics {
		if _, err := adm.CreateTopic(ctx, parts, 1, nil, name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, unlisted); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for name := range sourceTopics {
		for i := range records {
			rs = append(rs, &kgo.Record{Topic: name, Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "%s record %d", name, i)})
		}
	}
	rs = append(rs, &kgo.Record{Topic: unlisted, Value: []byte("not for MM2")})
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "app.orders", "app.payments")
	if err != nil {
		t.Fatal(err)
	}
	// app-billing has read everything, app-shipping about half.
	for _, g := range groups {
		offs := kadm.Offsets{}
		ends.Each(func(o kadm.ListedOffset) {
			at := o.Offset
			if g == "app-shipping" {
				at /= 2
			}
			offs.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: at, LeaderEpoch: -1})
		})
		if err := adm.CommitAllOffsets(ctx, g, offs); err != nil {
			t.Fatalf("commit %s: %v", g, err)
		}
	}
	acl := kadm.NewACLs().Allow("User:billing-app").AllowHosts("*").Topics("app.orders").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	if _, err := adm.CreateACLs(ctx, acl); err != nil {
		t.Fatal(err)
	}
}

// setACLs creates (or, with add false, deletes) the ALLOW ACLs of the MM2
// principal.
func setACLs(ctx context.Context, b *realkafka.SecureBroker, entries []mm2acl.Entry, add bool) error {
	cl, err := b.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, e := range entries {
		builder := aclFor(e)
		if add {
			res, err := adm.CreateACLs(ctx, builder)
			if err != nil {
				return fmt.Errorf("%s: create ACL %s: %w", b.Name, e, err)
			}
			for _, r := range res {
				if r.Err != nil {
					return fmt.Errorf("%s: create ACL %s: %w", b.Name, e, r.Err)
				}
			}
			continue
		}
		res, err := adm.DeleteACLs(ctx, builder)
		if err != nil {
			return fmt.Errorf("%s: delete ACL %s: %w", b.Name, e, err)
		}
		n := 0
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("%s: delete ACL %s: %w", b.Name, e, r.Err)
			}
			n += len(r.Deleted)
		}
		if n != 1 {
			return fmt.Errorf("%s: delete ACL %s: %d bindings deleted, want 1", b.Name, e, n)
		}
	}
	// The broker answers DescribeAcls from its authorizer's own view, so
	// once it agrees, requests are authorized by the new set.
	for _, e := range entries {
		if err := waitACL(ctx, adm, e, add); err != nil {
			return fmt.Errorf("%s: ACL %s: %w", b.Name, e, err)
		}
	}
	return nil
}

func waitACL(ctx context.Context, adm *kadm.Client, e mm2acl.Entry, present bool) error {
	for {
		res, err := adm.DescribeACLs(ctx, aclFor(e))
		if err != nil {
			return err
		}
		n := 0
		for _, r := range res {
			if r.Err != nil {
				return r.Err
			}
			n += len(r.Described)
		}
		if (n == 1) == present {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("authorizer never showed it present=%v: %w", present, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func aclFor(e mm2acl.Entry) *kadm.ACLBuilder {
	b := kadm.NewACLs().Allow("User:" + principal).AllowHosts("*")
	switch e.Resource {
	case "Topic":
		b = b.Topics(e.Name)
	case "Group":
		b = b.Groups(e.Name)
	case "Cluster":
		b = b.Clusters()
	}
	pt := kadm.ACLPatternLiteral
	if e.Prefixed {
		pt = kadm.ACLPatternPrefixed
	}
	op, err := kmsg.ParseACLOperation(strings.ToLower(e.Operation))
	if err != nil {
		// Parse refused unknown operations already.
		panic(err)
	}
	return b.ResourcePatternType(pt).Operations(op)
}

// putExamples uploads the mode's worker properties and connector files
// from the repository, byte for byte.
func (s *stack) putExamples(t *testing.T) {
	t.Helper()
	props, err := os.ReadFile(filepath.Join(repo, "connect-image", "workers", s.mode+".properties"))
	if err != nil {
		t.Fatal(err)
	}
	s3put(t, s.s3, "mm2/worker/connect-distributed.properties", props)
	files, _ := filepath.Glob(filepath.Join(repo, "connect-image", "connectors", s.mode, "*.json"))
	if len(files) != 3 {
		t.Fatalf("connect-image/connectors/%s: %d files, want 3", s.mode, len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s3put(t, s.s3, "mm2/connectors/"+filepath.Base(f), b)
	}
}

func s3put(t *testing.T, srv *s3test.Server, key string, b []byte) {
	t.Helper()
	if _, err := srv.Put(bucket, key, b); err != nil {
		t.Fatal(err)
	}
}

// credentials creates the MM2 principal's credentials: a SCRAM user on
// both clusters, or a client certificate in a PKCS#12 key store (with a
// PKCS#12 trust store of the CA) uploaded where upload-connectors.sh puts
// them.
func (s *stack) credentials(t *testing.T, ctx context.Context) {
	t.Helper()
	switch s.mode {
	case "scram":
		for _, c := range []struct {
			b      *realkafka.SecureBroker
			prefix string
		}{{s.source, "SOURCE"}, {s.target, "TARGET"}} {
			pw := "scram-" + c.prefix + "-" + randomText(t)
			if err := c.b.AddSCRAMUser(ctx, principal, pw); err != nil {
				t.Fatal(err)
			}
			s.secrets[c.prefix+"_SASL_USERNAME"] = principal
			s.secrets[c.prefix+"_SASL_PASSWORD"] = pw
		}
		// The scram example trusts the JVM's and the system's default
		// CAs, as MSK's public certificates are; put the test CA there.
		jks, err := s.ca.TrustJKS("changeit")
		if err != nil {
			t.Fatal(err)
		}
		ts, pemFile := filepath.Join(s.dir, "default-cacerts.jks"), filepath.Join(s.dir, "default-ca.pem")
		writeFile(t, ts, jks)
		writeFile(t, pemFile, s.ca.PEM())
		s.sidecarTrust = map[string]string{
			"JAVA_TOOL_OPTIONS": "-Djavax.net.ssl.trustStore=" + ts + " -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=JKS",
			"SSL_CERT_FILE":     pemFile,
		}
	case "mtls":
		leaf, err := s.ca.Issue(principal, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		s.clientLeaf = leaf
		pw := "tls-" + randomText(t)
		ks, err := leaf.PKCS12(pw)
		if err != nil {
			t.Fatal(err)
		}
		ts, err := s.ca.TrustPKCS12(pw)
		if err != nil {
			t.Fatal(err)
		}
		s3put(t, s.s3, "mm2/tls/keystore.p12", ks)
		s3put(t, s.s3, "mm2/tls/truststore.p12", ts)
		for _, k := range []string{"SSL_KEYSTORE_PASSWORD", "SSL_KEY_PASSWORD", "SSL_TRUSTSTORE_PASSWORD", "SIDECAR_KEYSTORE_PASSWORD", "SIDECAR_TRUSTSTORE_PASSWORD"} {
			s.secrets[k] = pw
		}
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// bootstrap runs `connect-sidecar bootstrap` with the config-init
// container's environment; the REST listener and advertised address stand
// in for what ECS task metadata gives.
func (s *stack) bootstrap(t *testing.T, ctx context.Context, rest int) {
	t.Helper()
	env := s.baseEnv()
	env["KAFKA_CONNECT_PROPERTIES_S3_URI"] = "s3://" + bucket + "/mm2/worker/connect-distributed.properties"
	env["CONNECT_BOOTSTRAP_SERVERS"] = s.endpoint(s.target)
	env["CONNECT_LISTENERS"] = fmt.Sprintf("http://127.0.0.1:%d", rest)
	env["CONNECT_REST_ADVERTISED_HOST_NAME"] = "127.0.0.1"
	env["CONNECT_REST_ADVERTISED_PORT"] = fmt.Sprint(rest)
	if s.mode == "mtls" {
		env["KAFKA_CONNECT_KEYSTORE_S3_URI"] = "s3://" + bucket + "/mm2/tls/keystore.p12"
		env["KAFKA_CONNECT_TRUSTSTORE_S3_URI"] = "s3://" + bucket + "/mm2/tls/truststore.p12"
		env["SIDECAR_KEYSTORE_PASSWORD"] = s.secrets["SIDECAR_KEYSTORE_PASSWORD"]
		env["SIDECAR_TRUSTSTORE_PASSWORD"] = s.secrets["SIDECAR_TRUSTSTORE_PASSWORD"]
	}
	cmd := exec.CommandContext(ctx, binary, "bootstrap")
	cmd.Env = envList(env)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("connect-sidecar bootstrap: %v\n%s", err, out)
	}
}

// baseEnv is the environment of every sidecar process: S3 through the
// test server, the config directory, and nothing of this machine's AWS
// settings.
func (s *stack) baseEnv() map[string]string {
	env := s.s3.Env(s.dir)
	env["PATH"] = os.Getenv("PATH")
	env["HOME"] = os.Getenv("HOME")
	env["SIDECAR_CONFIG_DIR"] = s.configDir
	env["SIDECAR_LOG_FORMAT"] = "text"
	for k, v := range s.taskEnv {
		env[k] = v
	}
	return env
}

// workerEnv is the kafka-connect container's environment.
func (s *stack) workerEnv() map[string]string {
	env := map[string]string{"SIDECAR_CONFIG_DIR": s.configDir}
	for k, v := range s.taskEnv {
		env[k] = v
	}
	for k, v := range s.secrets {
		if !strings.HasPrefix(k, "SIDECAR_") {
			env[k] = v
		}
	}
	if v, ok := s.sidecarTrust["JAVA_TOOL_OPTIONS"]; ok {
		env["JAVA_TOOL_OPTIONS"] = v
	}
	return env
}

// sidecarEnv is the connect-sidecar container's environment (also what an
// operator's `status` runs with).
func (s *stack) sidecarEnv() map[string]string {
	env := s.baseEnv()
	for k, v := range s.secrets {
		env[k] = v
	}
	if v, ok := s.sidecarTrust["SSL_CERT_FILE"]; ok {
		env["SSL_CERT_FILE"] = v
	}
	env["SIDECAR_CONNECT_URL"] = s.worker.URL
	return env
}

func (s *stack) startSidecar(t *testing.T) {
	t.Helper()
	port, err := realkafka.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.metricsURL = "http://" + addr
	env := s.sidecarEnv()
	for k, v := range map[string]string{
		"SIDECAR_CONNECTORS_URI":     "s3://" + bucket + "/mm2/connectors/",
		"SIDECAR_ADVERTISED_URL":     s.worker.URL + "/",
		"SIDECAR_JMX_URL":            s.worker.JMXURL,
		"SIDECAR_METRICS_ADDR":       addr,
		"SIDECAR_CLOUDWATCH_MODE":    "off",
		"SIDECAR_CLUSTER_NAME":       "mm2",
		"SIDECAR_SERVICE_NAME":       "mm2-connect",
		"SIDECAR_LAG_INTERVAL":       "5s",
		"SIDECAR_POLL_INTERVAL":      "3s",
		"SIDECAR_RECONCILE_INTERVAL": "10s",
		"SIDECAR_WRITE_JITTER":       "1s",
	} {
		env[k] = v
	}
	s.sidecarLog = filepath.Join(s.dir, "sidecar.log")
	logf, err := os.Create(s.sidecarLog)
	if err != nil {
		t.Fatal(err)
	}
	s.sidecar = exec.Command(binary, "run")
	s.sidecar.Env = envList(env)
	s.sidecar.Stdout, s.sidecar.Stderr = logf, logf
	s.sidecar.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.sidecar.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	s.sidecarDone = make(chan struct{})
	go func() {
		_ = s.sidecar.Wait()
		logf.Close()
		close(s.sidecarDone)
	}()
}

// stop ends every process of the mode; on a failed test it prints the
// tails of their logs first.
func (s *stack) stop(t *testing.T) {
	if t.Failed() {
		failed = true
		for _, p := range s.processes() {
			t.Log(p.Tail(3000))
		}
		if b, err := os.ReadFile(s.sidecarLog); err == nil {
			t.Logf("--- sidecar log, last 3000 bytes ---\n%s", tail(b, 3000))
		}
	}
	if s.sidecar != nil && s.sidecar.Process != nil {
		_ = s.sidecar.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.sidecarDone:
		case <-time.After(10 * time.Second):
			_ = s.sidecar.Process.Kill()
			<-s.sidecarDone
		}
	}
	if s.worker != nil {
		s.worker.Stop(20 * time.Second)
	}
	var wg sync.WaitGroup
	for _, b := range []*realkafka.SecureBroker{s.source, s.target} {
		if b != nil {
			wg.Go(func() { b.Stop(20 * time.Second) })
		}
	}
	wg.Wait()
	if s.s3 != nil {
		s.s3.Close()
	}
}

func (s *stack) processes() []*realkafka.Process {
	var ps []*realkafka.Process
	for _, b := range []*realkafka.SecureBroker{s.source, s.target} {
		if b != nil {
			ps = append(ps, b.Process)
		}
	}
	if s.worker != nil {
		ps = append(ps, s.worker.Process)
	}
	return ps
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func randomText(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// status runs the real binary's `status` with the sidecar container's
// environment, plus or minus what extra says (an empty value unsets).
func (s *stack) status(t *testing.T, extra map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	env := s.sidecarEnv()
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	cmd := exec.CommandContext(ctx, binary, append([]string{"status", "--timeout", "30s"}, args...)...)
	cmd.Env = envList(env)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("connect-sidecar status: %v", err)
	}
	return out.String(), errb.String(), code
}
