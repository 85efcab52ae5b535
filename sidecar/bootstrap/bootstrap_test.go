package bootstrap

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig/javaconfigtest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"
)

const marker = "MARKER-SECRET-7f3a9c"

// workerFixture is a worker properties file with stores, references and
// the escapes of Java's format; package javaconfig's parser tests use it too.
func workerFixture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "javaconfig", "testdata", "worker.properties"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// env is a test's inputs: files on disk given by file:// URIs.
type env struct {
	t       *testing.T
	in, out string
	cfg     Config
	fetch   source.Config
	environ []string
	logs    bytes.Buffer
	meta    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, in: t.TempDir(), out: filepath.Join(t.TempDir(), "config")}
	e.cfg = Config{
		ConfigDir:          e.out,
		KeystorePassword:   marker,
		TruststorePassword: marker,
		CertWarnWithin:     30 * 24 * time.Hour,
	}
	e.fetch = source.Config{FetchDeadline: 5 * time.Second, MaxObjectBytes: 1 << 20}
	e.cfg.PropertiesURI = e.put("worker.properties", workerFixture(t))
	return e
}

func (e *env) put(name string, b []byte) string {
	e.t.Helper()
	p := filepath.Join(e.in, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return "file://" + p
}

func (e *env) run() (Result, error) {
	e.t.Helper()
	return Run(context.Background(), Options{
		Config:      e.cfg,
		Environ:     e.environ,
		Fetcher:     source.New(source.Options{Config: e.fetch}),
		MetadataURI: e.meta,
		Logger:      slog.New(slog.NewJSONHandler(&e.logs, nil)),
	})
}

func (e *env) written() javaconfig.Properties {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.out, PropertiesFile))
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := javaconfig.ParseProperties("written", b)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// snapshot records every entry of dir: name, mode, mtime and bytes.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return map[string]string{"<absent>": ""}
		}
		t.Fatal(err)
	}
	for _, de := range entries {
		info, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, de.Name()))
		out[de.Name()] = info.Mode().String() + " " + info.ModTime().String() + " " + string(b)
	}
	return out
}

func TestRunWritesDirectory(t *testing.T) {
	e := newEnv(t)
	pki := javaconfigtest.NewPKI(t, time.Now().Add(365*24*time.Hour))
	e.cfg.KeystoreURI = e.put("ks.bin", pki.P12Keystore(t, marker))
	e.cfg.TruststoreURI = e.put("ts.bin", pki.JKSTruststore(t, marker))
	e.environ = []string{"CONNECT_GROUP_ID=from-env", "CONNECT_PRODUCER_LINGER_MS=5", "HOME=/root"}

	res, err := e.run()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 3 {
		t.Fatalf("files %+v", res.Files)
	}
	for _, f := range res.Files {
		if !f.Changed {
			t.Errorf("%s: first run reports unchanged", f.Name)
		}
		info, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", f.Name, info.Mode().Perm())
		}
	}
	ks, ts := filepath.Join(e.out, "keystore.p12"), filepath.Join(e.out, "truststore.jks")
	p := e.written()
	want := map[string]string{
		"group.id":                         "from-env",
		"producer.linger.ms":               "5",
		"ssl.keystore.location":            ks,
		"ssl.keystore.type":                "PKCS12",
		"producer.ssl.keystore.location":   ks,
		"producer.ssl.keystore.type":       "PKCS12",
		"consumer.ssl.truststore.location": ts,
		"consumer.ssl.truststore.type":     "JKS",
		"ssl.keystore.password":            "${env:KEYSTORE_PASSWORD}",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
	// The file used only the consumer. prefix for the truststore, so
	// nothing else is added.
	for _, k := range []string{"ssl.truststore.location", "admin.ssl.keystore.location", "consumer.ssl.keystore.location"} {
		if _, ok := p[k]; ok {
			t.Errorf("%s set; the file did not use it", k)
		}
	}
	if _, ok := p["rest.advertised.host.name"]; ok {
		t.Error("rest.advertised.host.name set outside ECS")
	}
	src, _ := os.ReadFile(filepath.Join(e.in, "ks.bin"))
	if b, _ := os.ReadFile(ks); !bytes.Equal(b, src) {
		t.Error("keystore.p12 is not the fetched keystore byte for byte")
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"subject":"CN=connect-worker"`) || !strings.Contains(logs, `"not_after"`) {
		t.Errorf("certificate subject and expiry not logged:\n%s", logs)
	}
	if strings.Contains(logs, marker) {
		t.Error("a password reached the logs")
	}
	for _, f := range []string{PropertiesFile, "keystore.p12", "truststore.jks"} {
		b, _ := os.ReadFile(filepath.Join(e.out, f))
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("%s holds a password", f)
		}
	}
}

func TestRunIsIdempotent(t *testing.T) {
	e := newEnv(t)
	pki := javaconfigtest.NewPKI(t, time.Now().Add(365*24*time.Hour))
	e.cfg.KeystoreURI = e.put("ks.bin", pki.JKSKeystore(t, marker, marker))
	e.environ = []string{"CONNECT_B=2", "CONNECT_A=1"}
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	// A rewrite would give a file the current mtime: setting them all in
	// the past makes it show, however coarse the file system's clock.
	entries, err := os.ReadDir(e.out)
	if err != nil {
		t.Fatal(err)
	}
	past := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, de := range entries {
		if err := os.Chtimes(filepath.Join(e.out, de.Name()), past, past); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, e.out)
	e.environ = []string{"CONNECT_A=1", "CONNECT_B=2"} // other order, same inputs
	res, err := e.run()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if f.Changed {
			t.Errorf("%s rewritten on an identical run", f.Name)
		}
	}
	if after := snapshot(t, e.out); !maps.Equal(before, after) {
		t.Errorf("directory changed on an identical run")
	}

	// A mode loosened by hand counts as a change and is put back.
	os.Chmod(filepath.Join(e.out, PropertiesFile), 0o644)
	res, err = e.run()
	if err != nil || !res.Files[0].Changed {
		t.Fatalf("mode change not repaired: %v %+v", err, res.Files)
	}
	if info, _ := os.Stat(filepath.Join(e.out, PropertiesFile)); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
}

func TestRunStoreFormatChangeRemovesOldFile(t *testing.T) {
	e := newEnv(t)
	pki := javaconfigtest.NewPKI(t, time.Now().Add(365*24*time.Hour))
	e.cfg.KeystoreURI = e.put("ks.bin", pki.JKSKeystore(t, marker, marker))
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	e.cfg.KeystoreURI = e.put("ks.bin", pki.P12Keystore(t, marker))
	res, err := e.run()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.out, "keystore.jks")); !os.IsNotExist(err) {
		t.Errorf("old keystore.jks left behind: %v (removed %v)", err, res.Removed)
	}
	stores, err := Inspect(context.Background(), e.cfg)
	if err != nil || len(stores) != 1 || stores[0].Type != javaconfig.PKCS12 {
		t.Fatalf("Inspect: %+v, %v", stores, err)
	}
}

func TestRunFailureLeavesDirectoryUnchanged(t *testing.T) {
	pki := javaconfigtest.NewPKI(t, time.Now().Add(365*24*time.Hour))
	expired := javaconfigtest.NewPKI(t, time.Now().Add(-time.Hour))
	tests := []struct {
		name    string
		modify  func(e *env)
		wantErr []string
	}{
		{"missing required keys", func(e *env) {
			e.cfg.PropertiesURI = e.put("bad.properties", []byte("bootstrap.servers=a:9092\nkey.converter=\n"))
		}, []string{"missing required keys: group.id, config.storage.topic, offset.storage.topic, status.storage.topic, key.converter, value.converter"}},
		{"malformed properties", func(e *env) {
			e.cfg.PropertiesURI = e.put("bad.properties", []byte("a=\\uZZZZ\n"))
		}, []string{"bad.properties: line 1"}},
		{"properties not found", func(e *env) {
			e.cfg.PropertiesURI = "file:///nonexistent/worker.properties"
		}, []string{"file:///nonexistent/worker.properties", "not found"}},
		{"wrong keystore password", func(e *env) {
			e.cfg.KeystoreURI = e.put("ks.bin", pki.P12Keystore(t, "another"))
		}, []string{"keystore file://", "password does not open the store (SIDECAR_KEYSTORE_PASSWORD)"}},
		{"truststore password unset", func(e *env) {
			e.cfg.TruststoreURI = e.put("ts.bin", pki.JKSTruststore(t, "another"))
			e.cfg.TruststorePassword = ""
		}, []string{"truststore file://", "SIDECAR_TRUSTSTORE_PASSWORD is not set"}},
		{"corrupt truststore", func(e *env) {
			e.cfg.TruststoreURI = e.put("ts.bin", pki.P12Truststore(t, marker)[:100])
		}, []string{"truststore file://", "store is corrupt"}},
		{"expired certificate", func(e *env) {
			e.cfg.KeystoreURI = e.put("ks.bin", expired.JKSKeystore(t, marker, marker))
		}, []string{`certificate "CN=connect-worker" (alias "worker") expired at`, "SIDECAR_ALLOW_EXPIRED_CERTS"}},
		{"undeclared config provider", func(e *env) {
			e.environ = []string{"CONNECT_SASL_JAAS_CONFIG=x password=\"${vault:secret/kafka:pw}\";"}
		}, []string{`key sasl.jaas.config references config provider "vault"`}},
		{"properties are a FIFO", func(e *env) {
			fifo := filepath.Join(e.in, "fifo.properties")
			if err := syscall.Mkfifo(fifo, 0o644); err != nil {
				t.Fatal(err)
			}
			e.cfg.PropertiesURI = "file://" + fifo
		}, []string{"fifo.properties: not a regular file: it is a named pipe"}},
		{"object over the size cap", func(e *env) {
			e.fetch.MaxObjectBytes = 10
		}, []string{"object too large"}},
		{"ECS metadata unreachable", func(e *env) {
			e.meta = "http://127.0.0.1:1/v4/x"
		}, []string{"rest.advertised.host.name: task metadata http://127.0.0.1:1/v4/x/task"}},
		{"several problems at once", func(e *env) {
			e.cfg.KeystoreURI = "file:///nonexistent/ks.jks"
			e.cfg.TruststoreURI = e.put("ts.bin", []byte("not a store"))
		}, []string{"keystore: read file:///nonexistent/ks.jks: not found", "truststore file://", "not a JKS or PKCS#12 store"}},
	}
	for _, tt := range tests {
		for _, existing := range []bool{false, true} {
			name := tt.name + "/empty"
			if existing {
				name = tt.name + "/existing"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				if existing {
					e.cfg.KeystoreURI = e.put("ks.bin", pki.JKSKeystore(t, marker, marker))
					if _, err := e.run(); err != nil {
						t.Fatal(err)
					}
					e.cfg.KeystoreURI = ""
				}
				before := snapshot(t, e.out)
				tt.modify(e)
				_, err := e.run()
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), marker) || strings.Contains(e.logs.String(), marker) {
					t.Error("a password reached the error or the logs")
				}
				if after := snapshot(t, e.out); !maps.Equal(before, after) {
					t.Errorf("directory changed:\nbefore %q\nafter  %q", slices.Sorted(maps.Keys(before)), slices.Sorted(maps.Keys(after)))
				}
			})
		}
	}
}

func TestRunCertificateWarnings(t *testing.T) {
	e := newEnv(t)
	soon := javaconfigtest.NewPKI(t, time.Now().Add(5*24*time.Hour))
	e.cfg.KeystoreURI = e.put("ks.bin", soon.P12Keystore(t, marker))
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.logs.String(), `"level":"WARN","msg":"certificate expires soon"`) {
		t.Errorf("no warning for a certificate expiring in 5 days:\n%s", e.logs.String())
	}

	e = newEnv(t)
	expired := javaconfigtest.NewPKI(t, time.Now().Add(-time.Hour))
	e.cfg.KeystoreURI = e.put("ks.bin", expired.P12Keystore(t, marker))
	e.cfg.AllowExpiredCerts = true
	if _, err := e.run(); err != nil {
		t.Fatalf("expired certificate refused despite SIDECAR_ALLOW_EXPIRED_CERTS: %v", err)
	}
	if !strings.Contains(e.logs.String(), "certificate expired, accepted") {
		t.Errorf("no warning for an accepted expired certificate:\n%s", e.logs.String())
	}
}

func TestRunAdvertisedHostFromECS(t *testing.T) {
	body, err := os.ReadFile("../ecsmeta/testdata/fargate-task.json")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/abc/task" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	e := newEnv(t)
	e.meta = srv.URL + "/v4/abc"
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	if got := e.written()["rest.advertised.host.name"]; got != "192.0.2.3" {
		t.Errorf("rest.advertised.host.name = %q, want the task's IPv4", got)
	}

	// An explicit setting wins, and the endpoint is not needed at all.
	e = newEnv(t)
	e.meta = "http://127.0.0.1:1/unreachable"
	e.environ = []string{"CONNECT_REST_ADVERTISED_HOST_NAME=worker-1.internal"}
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	if got := e.written()["rest.advertised.host.name"]; got != "worker-1.internal" {
		t.Errorf("rest.advertised.host.name = %q", got)
	}
}

func TestRunBaseProperties(t *testing.T) {
	e := newEnv(t)
	e.cfg.PropertiesURI = ""
	e.cfg.BaseProperties = filepath.Join(e.in, "base dir", "connect distributed.properties")
	os.MkdirAll(filepath.Dir(e.cfg.BaseProperties), 0o755)
	os.WriteFile(e.cfg.BaseProperties, workerFixture(t), 0o644)
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	if e.written()["group.id"] != "mm2-connect" {
		t.Error("base properties not used")
	}

	// A missing base file says which setting named it and how to read the
	// properties from elsewhere.
	e.cfg.BaseProperties = filepath.Join(e.in, "missing.properties")
	_, err := e.run()
	if err == nil || !strings.Contains(err.Error(), "SIDECAR_BASE_PROPERTIES") ||
		!strings.Contains(err.Error(), "KAFKA_CONNECT_PROPERTIES_S3_URI") || !strings.Contains(err.Error(), "missing.properties") {
		t.Errorf("missing base file: %v", err)
	}
}

func TestRunPlainStoreLocationsWhenNoneSet(t *testing.T) {
	e := newEnv(t)
	e.cfg.PropertiesURI = e.put("min.properties", []byte(strings.Join([]string{
		"bootstrap.servers=a:9092", "group.id=g", "config.storage.topic=c", "offset.storage.topic=o",
		"status.storage.topic=s", "key.converter=k", "value.converter=v", "ssl.truststore.type=PKCS12",
	}, "\n")))
	pki := javaconfigtest.NewPKI(t, time.Now().Add(365*24*time.Hour))
	e.cfg.TruststoreURI = e.put("ts.bin", pki.JKSTruststore(t, marker))
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	p := e.written()
	if p["ssl.truststore.location"] != filepath.Join(e.out, "truststore.jks") || p["ssl.truststore.type"] != "JKS" {
		t.Errorf("truststore location %q type %q", p["ssl.truststore.location"], p["ssl.truststore.type"])
	}
}

func TestInspect(t *testing.T) {
	e := newEnv(t)
	expiry := time.Now().Add(200 * 24 * time.Hour).Truncate(time.Second)
	pki := javaconfigtest.NewPKI(t, expiry)
	e.cfg.KeystoreURI = e.put("ks.bin", pki.JKSKeystore(t, marker, marker))
	e.cfg.TruststoreURI = e.put("ts.bin", pki.P12Truststore(t, marker))
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	stores, err := Inspect(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != 2 || stores[0].Role != javaconfig.RoleKeystore || stores[1].Role != javaconfig.RoleTruststore {
		t.Fatalf("stores %+v", stores)
	}
	leaf := stores[0].Certificates[0]
	if leaf.Subject != "CN=connect-worker" || !leaf.NotAfter.Equal(expiry) || stores[0].Path != filepath.Join(e.out, "keystore.jks") {
		t.Errorf("keystore leaf %+v path %s", leaf, stores[0].Path)
	}

	// A store that no longer opens is reported by file; the other still comes back.
	os.WriteFile(filepath.Join(e.out, "truststore.p12"), []byte("garbage"), 0o600)
	stores, err = Inspect(context.Background(), e.cfg)
	if err == nil || !strings.Contains(err.Error(), "truststore.p12") || len(stores) != 1 {
		t.Errorf("stores %d, err %v", len(stores), err)
	}

	// Nothing written yet: nothing to report, no error.
	empty := e.cfg
	empty.ConfigDir = t.TempDir()
	if stores, err := Inspect(context.Background(), empty); err != nil || len(stores) != 0 {
		t.Errorf("empty dir: %+v %v", stores, err)
	}
}

func TestWriteFilesRefusesDirectoryAtTarget(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, PropertiesFile), 0o700)
	os.WriteFile(filepath.Join(dir, "keystore.jks"), []byte("old"), 0o600)
	before := snapshot(t, dir)
	_, err := writeFiles(dir, []File{{Name: "keystore.jks", Data: []byte("new")}, {Name: PropertiesFile, Data: []byte("x")}})
	if err == nil {
		t.Fatal("no error")
	}
	if after := snapshot(t, dir); !maps.Equal(before, after) {
		t.Errorf("directory changed")
	}
	leftovers, _ := fs.Glob(os.DirFS(dir), ".*tmp*")
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// A write that fails in a directory the bootstrap had to create, parents
// included, removes every directory it made.
func TestWriteFilesFailureRemovesTheDirectoriesItMade(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "config")
	_, err := writeFiles(dir, []File{{Name: PropertiesFile, Data: []byte("x")}, {Name: "no/such", Data: []byte("y")}})
	if err == nil {
		t.Fatal("no error")
	}
	if entries, _ := os.ReadDir(base); len(entries) != 0 {
		t.Errorf("left behind in %s: %v", base, entries)
	}
}

// An undeclared ${provider:...} reference is reported by its key, and by
// the provider's name only when that is a name: what the pattern takes for
// the provider may be the text of a password around a stray "${".
func TestUndeclaredProviderErrorKeepsTheValueOut(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"a provider name", `x password="${vault:secret/kafka:pw}";`, `key sasl.jaas.config references config provider "vault"`},
		{"text of the value", `x password="pa${` + marker + `" user="u:v}";`, `key sasl.jaas.config holds a ${...:...} reference whose provider part is not a declared provider name`},
		{"spaces and quotes", `a ${b "` + marker + `":c}`, `key sasl.jaas.config holds a ${...:...} reference`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := validate("w.properties", javaconfig.Properties{"sasl.jaas.config": tt.value})
			var msgs []string
			for _, err := range errs {
				msgs = append(msgs, err.Error())
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, tt.want) {
				t.Errorf("errors %q lack %q", all, tt.want)
			}
			if strings.Contains(all, marker) || strings.Contains(all, "pa$") || strings.Contains(all, `user=`) {
				t.Errorf("errors repeat the value: %q", all)
			}
		})
	}
}

// barrier holds every GET until requests for want distinct keys are under
// way at once: fetches made one after another never get an answer.
type barrier struct {
	want int
	next http.Handler

	mu       sync.Mutex
	inFlight map[string]bool
	open     chan struct{}
}

func (b *barrier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		b.mu.Lock()
		b.inFlight[r.URL.Path] = true
		if len(b.inFlight) == b.want {
			select {
			case <-b.open:
			default:
				close(b.open)
			}
		}
		b.mu.Unlock()
		select {
		case <-b.open:
		case <-r.Context().Done():
			b.mu.Lock()
			delete(b.inFlight, r.URL.Path)
			b.mu.Unlock()
			return
		}
	}
	b.next.ServeHTTP(w, r)
}

// The properties, keystore and truststore are fetched at once, so that a
// degraded S3 costs one SIDECAR_FETCH_DEADLINE, not one per object.
func TestRunFetchesObjectsConcurrently(t *testing.T) {
	b := &barrier{want: 3, inFlight: map[string]bool{}, open: make(chan struct{})}
	srv := s3test.New(t, func(h http.Handler) http.Handler { b.next = h; return b })
	pki := javaconfigtest.NewPKI(t, time.Now().Add(365*24*time.Hour))
	srv.MustPut(t, "configs", "worker.properties", workerFixture(t))
	srv.MustPut(t, "configs", "keystore.jks", pki.JKSKeystore(t, marker, marker))
	srv.MustPut(t, "configs", "truststore.p12", pki.P12Truststore(t, marker))
	e := newEnv(t)
	e.cfg.PropertiesURI = "s3://configs/worker.properties"
	e.cfg.KeystoreURI = "s3://configs/keystore.jks"
	e.cfg.TruststoreURI = "s3://configs/truststore.p12"
	e.fetch.FetchDeadline = 3 * time.Second
	res, err := e.run()
	if err != nil {
		t.Fatalf("the three fetches did not overlap: %v", err)
	}
	if len(res.Files) != 3 || len(res.Stores) != 2 {
		t.Errorf("wrote %+v", res.Files)
	}
}
