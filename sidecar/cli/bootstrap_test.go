package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"
)

const marker = "MARKER-SECRET-b41d0e"

func testStores(t *testing.T, password string) (keystore, truststore []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "worker"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if keystore, err = pkcs12.Modern.Encode(key, cert, nil, password); err != nil {
		t.Fatal(err)
	}
	if truststore, err = pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{cert}, password); err != nil {
		t.Fatal(err)
	}
	return keystore, truststore
}

// bootstrapEnv starts gofakes3 holding the worker properties, keystore and
// truststore, and sets the environment a task definition would.
func bootstrapEnv(t *testing.T) (backend *s3mem.Backend, out string) {
	t.Helper()
	srv := s3test.New(t, nil)
	backend = srv.Backend
	dir := t.TempDir()
	out = filepath.Join(dir, "config")
	for k, v := range map[string]string{
		"KAFKA_CONNECT_PROPERTIES_S3_URI": "s3://cfg/worker.properties",
		"KAFKA_CONNECT_KEYSTORE_S3_URI":   "s3://cfg/keystore.p12",
		"KAFKA_CONNECT_TRUSTSTORE_S3_URI": "s3://cfg/truststore.p12",
		"SIDECAR_KEYSTORE_PASSWORD":       marker,
		"SIDECAR_TRUSTSTORE_PASSWORD":     marker,
		"SIDECAR_CONFIG_DIR":              out,
		"SIDECAR_FETCH_DEADLINE":          "10s",
		"CONNECT_GROUP_ID":                "mm2-e2e",
	} {
		t.Setenv(k, v)
	}
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", "")
	os.Unsetenv("ECS_CONTAINER_METADATA_URI_V4")
	if err := backend.CreateBucket("cfg"); err != nil {
		t.Fatal(err)
	}
	ks, ts := testStores(t, marker)
	props := strings.Join([]string{
		"bootstrap.servers=b-1.example:9094", "group.id=overridden", "config.storage.topic=c",
		"offset.storage.topic=o", "status.storage.topic=s",
		"key.converter=org.apache.kafka.connect.converters.ByteArrayConverter",
		"value.converter=org.apache.kafka.connect.converters.ByteArrayConverter",
		"config.providers=env", "config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider",
		"ssl.keystore.password=${env:KEYSTORE_PASSWORD}", "ssl.truststore.password=${env:TRUSTSTORE_PASSWORD}", "",
	}, "\n")
	for key, data := range map[string][]byte{"worker.properties": []byte(props), "keystore.p12": ks, "truststore.p12": ts} {
		if _, err := backend.PutObject("cfg", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
			t.Fatal(err)
		}
	}
	return backend, out
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Main(context.Background(), append([]string{"bootstrap"}, args...), &o, &e)
	return code, o.String(), e.String()
}

func TestBootstrapEndToEnd(t *testing.T) {
	_, out := bootstrapEnv(t)
	code, stdout, stderr := runCmd(t)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, f := range []string{"connect-distributed.properties", "keystore.p12", "truststore.p12"} {
		info, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, info.Mode().Perm())
		}
		if !regexpLine(stdout, f, "changed") {
			t.Errorf("stdout does not report %s as changed:\n%s", f, stdout)
		}
	}
	props, _ := os.ReadFile(filepath.Join(out, "connect-distributed.properties"))
	for _, want := range []string{"group.id=mm2-e2e\n", "ssl.keystore.location=" + filepath.Join(out, "keystore.p12") + "\n", "ssl.truststore.type=PKCS12\n"} {
		if !strings.Contains(string(props), want) {
			t.Errorf("properties lack %q:\n%s", want, props)
		}
	}
	before := map[string]time.Time{}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		info, _ := e.Info()
		before[e.Name()] = info.ModTime()
	}

	code, stdout2, stderr2 := runCmd(t)
	if code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr2)
	}
	for _, f := range []string{"connect-distributed.properties", "keystore.p12", "truststore.p12"} {
		if !regexpLine(stdout2, f, "unchanged") {
			t.Errorf("second run does not report %s unchanged:\n%s", f, stdout2)
		}
		info, _ := os.Stat(filepath.Join(out, f))
		if !info.ModTime().Equal(before[f]) {
			t.Errorf("%s rewritten on the second run", f)
		}
	}
	for _, s := range []string{stdout, stderr, stdout2, stderr2} {
		if strings.Contains(s, marker) {
			t.Fatalf("password in output:\n%s", s)
		}
	}
}

func TestBootstrapFailureOneLinePerProblem(t *testing.T) {
	backend, out := bootstrapEnv(t)
	// Seed the directory with a good run, then break three inputs.
	if code, _, stderr := runCmd(t); code != 0 {
		t.Fatal(stderr)
	}
	snap := func() string {
		var b strings.Builder
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			info, _ := e.Info()
			data, _ := os.ReadFile(filepath.Join(out, e.Name()))
			b.WriteString(e.Name() + info.ModTime().String() + info.Mode().String() + string(data))
		}
		return b.String()
	}
	before := snap()
	backend.PutObject("cfg", "worker.properties", map[string]string{}, strings.NewReader("group.id=x\n"), 11, nil)
	t.Setenv("SIDECAR_KEYSTORE_PASSWORD", marker+"-wrong")
	t.Setenv("KAFKA_CONNECT_TRUSTSTORE_S3_URI", "s3://cfg/missing.p12")

	code, stdout, stderr := runCmd(t)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var problems []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, "connect-sidecar bootstrap: ") {
			problems = append(problems, l)
		}
	}
	wants := []string{"missing required keys: bootstrap.servers,", "keystore s3://cfg/keystore.p12: PKCS#12: password does not open the store", "truststore: get s3://cfg/missing.p12: not found"}
	if len(problems) != len(wants) {
		t.Fatalf("want %d problem lines, got:\n%s", len(wants), stderr)
	}
	for _, w := range wants {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stdout+stderr, marker) {
		t.Fatal("password in output")
	}
	if snap() != before {
		t.Error("the directory changed after a failed run")
	}
}

func TestBootstrapHelp(t *testing.T) {
	code, stdout, _ := runCmd(t, "--help")
	if code != 0 || !strings.Contains(stdout, "KAFKA_CONNECT_PROPERTIES_S3_URI") || !strings.Contains(stdout, "CONNECT_*") {
		t.Errorf("exit %d:\n%s", code, stdout)
	}
	if code, _, stderr := runCmd(t, "--bogus"); code != 2 || !strings.Contains(stderr, "--bogus") {
		t.Errorf("unknown flag: exit %d %s", code, stderr)
	}
}

func regexpLine(out, name, state string) bool {
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 4 && f[0] == name && f[3] == state {
			return true
		}
	}
	return false
}
