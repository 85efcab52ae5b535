package source

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/mm2-fargate/mm2-ecs/internal/memnet"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source/s3test"
)

// faults sits in front of gofakes3 and answers the next requests with the
// queued faults, one per request, before letting requests through.
type faults struct {
	mu       sync.Mutex
	queue    []string
	requests int
	next     http.Handler
}

func (f *faults) push(fs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, fs...)
}

func (f *faults) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

func (f *faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	fault := ""
	if len(f.queue) > 0 {
		fault, f.queue = f.queue[0], f.queue[1:]
	}
	f.mu.Unlock()
	s3Error := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` +
			`<Error><Code>` + code + `</Code><Message>` + msg + `</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`))
	}
	switch fault {
	case "500":
		s3Error(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	case "503":
		s3Error(http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
	case "403":
		s3Error(http.StatusForbidden, "AccessDenied", "Access Denied")
	case "badkey":
		s3Error(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
	case "reset":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	default:
		f.next.ServeHTTP(w, r)
	}
}

// fakeS3 is an S3-protocol store (gofakes3, in memory) behind a fault
// injector, served on an in-memory network.
type fakeS3 struct {
	backend *s3mem.Backend
	faults  *faults
	net     *memnet.Network
}

// s3Endpoint is the store's address on its network. localhost, because the
// SDK's transport honours HTTP_PROXY, which never applies to it.
const s3Endpoint = "localhost:9000"

// s3Server serves a store with a bucket "configs" and points the AWS SDK at
// it through its own environment variables. It is called inside a
// synctest bubble: the SDK's retry backoff, the per-attempt bound and the
// fetch deadline all run on the bubble's fake clock.
func s3Server(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket("configs"); err != nil {
		t.Fatal(err)
	}
	s := &fakeS3{backend: backend, faults: &faults{next: gofakes3.New(backend).Server()}, net: &memnet.Network{}}
	s3test.SetEnv(t, s.net.Serve(t, s3Endpoint, s.faults))
	return s
}

// reader is New with the S3 client connected to the store's network.
func (s *fakeS3) reader(opts Options) *Reader {
	r := New(opts)
	r.dial = s.net.DialContext
	return r
}

func putObject(t *testing.T, b *s3mem.Backend, key string, data []byte) string {
	t.Helper()
	res, err := b.PutObject("configs", key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(res.VersionID)
}

func TestGetS3(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "workers/worker.properties", []byte("group.id=mm2\n"))
		r := s.reader(Options{Config: Config{MaxObjectBytes: 1 << 10, FetchDeadline: 10 * time.Second}})
		b, obj, err := r.Get(context.Background(), "s3://configs/workers/worker.properties")
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "group.id=mm2\n" || obj.Name != "worker.properties" || obj.Size != 13 || obj.Version == "" {
			t.Errorf("got %q %+v", b, obj)
		}
	})
}

func TestGetS3VersionID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		if err := s.backend.SetVersioningConfiguration("configs", gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled}); err != nil {
			t.Fatal(err)
		}
		v1 := putObject(t, s.backend, "w.properties", []byte("version=1\n"))
		putObject(t, s.backend, "w.properties", []byte("version=2\n"))
		if v1 == "" {
			t.Fatal("no version id from a versioned bucket")
		}
		r := s.reader(Options{Config: Config{FetchDeadline: 10 * time.Second}})
		b, _, err := r.Get(context.Background(), "s3://configs/w.properties?versionId="+v1)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "version=1\n" {
			t.Errorf("got %q, want the first version", b)
		}
		b, _, _ = r.Get(context.Background(), "s3://configs/w.properties")
		if string(b) != "version=2\n" {
			t.Errorf("latest: got %q", b)
		}
		_, _, err = r.Get(context.Background(), "s3://configs/w.properties?versionId=nope")
		if err == nil {
			t.Error("unknown version id: no error")
		}
	})
}

func TestGetS3RetriesTransientFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults []string
	}{
		{"500", []string{"500", "500"}},
		{"503 SlowDown", []string{"503", "503", "503"}},
		{"connection reset", []string{"reset", "reset"}},
		{"mixed", []string{"reset", "503", "500"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := s3Server(t)
				putObject(t, s.backend, "k", []byte("payload"))
				var outcomes []string
				const deadline = 8 * time.Second
				r := s.reader(Options{Config: Config{FetchDeadline: deadline}, Fetched: func(o string) { outcomes = append(outcomes, o) }})
				s.faults.push(tt.faults...)
				began := time.Now()
				b, _, err := r.Get(context.Background(), "s3://configs/k")
				if err != nil {
					t.Fatalf("not retried: %v", err)
				}
				if string(b) != "payload" {
					t.Errorf("got %q", b)
				}
				if got, want := s.faults.count(), len(tt.faults)+1; got != want {
					t.Errorf("%d requests, want %d", got, want)
				}
				if len(outcomes) != 1 || outcomes[0] != "ok" {
					t.Errorf("outcomes %v", outcomes)
				}
				// Deadline/4 caps each backoff, so the retries fit inside it.
				if took := time.Since(began); took > time.Duration(len(tt.faults))*deadline/4 {
					t.Errorf("%d retries took %s: a backoff went over a quarter of the deadline", len(tt.faults), took)
				}
			})
		})
	}
}

// An attempt that gets no answer is given up after a quarter of the
// deadline and tried again, so one stuck connection does not spend it all.
func TestGetS3RetriesAHungAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "k", []byte("payload"))
		s.faults.push("hang")
		const deadline = 4 * time.Second
		r := s.reader(Options{Config: Config{FetchDeadline: deadline}})
		began := time.Now()
		b, _, err := r.Get(context.Background(), "s3://configs/k")
		if err != nil || string(b) != "payload" {
			t.Fatalf("got %q, %v; want the object after a retry", b, err)
		}
		if s.faults.count() != 2 {
			t.Errorf("%d requests, want 2", s.faults.count())
		}
		// The hung attempt, then a backoff of at most a quarter too.
		if took := time.Since(began); took < deadline/4 || took > deadline/2 {
			t.Errorf("took %s, want the hung attempt given up after %s", took, deadline/4)
		}
	})
}

// AWS_ENDPOINT_URL (every service) works as AWS_ENDPOINT_URL_S3 does.
func TestGetS3GlobalEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "k", []byte("payload"))
		t.Setenv("AWS_ENDPOINT_URL", os.Getenv("AWS_ENDPOINT_URL_S3"))
		t.Setenv("AWS_ENDPOINT_URL_S3", "")
		os.Unsetenv("AWS_ENDPOINT_URL_S3")
		b, _, err := s.reader(Options{Config: Config{FetchDeadline: 10 * time.Second}}).Get(context.Background(), "s3://configs/k")
		if err != nil || string(b) != "payload" {
			t.Fatalf("through AWS_ENDPOINT_URL: %q, %v", b, err)
		}
	})
}

// The machine's AWS_CA_BUNDLE is read by the SDK's default configuration;
// the sidecar's own HTTP client must still accept it.
func TestGetS3WithCABundle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "k", []byte("payload"))
		ca, err := filepath.Abs("testdata/ca.pem")
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CA_BUNDLE", ca)
		if _, _, err := s.reader(Options{Config: Config{FetchDeadline: 10 * time.Second}}).Get(context.Background(), "s3://configs/k"); err != nil {
			t.Fatalf("with AWS_CA_BUNDLE set: %v", err)
		}
	})
}

func TestGetS3DeadlineHolds(t *testing.T) {
	for _, fault := range []string{"hang", "503"} {
		t.Run(fault, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := s3Server(t)
				for range 200 {
					s.faults.push(fault)
				}
				const deadline = 1500 * time.Millisecond
				r := s.reader(Options{Config: Config{FetchDeadline: deadline}})
				began := time.Now()
				_, _, err := r.Get(context.Background(), "s3://configs/k")
				if err == nil {
					t.Fatal("no error")
				}
				if took := time.Since(began); took != deadline {
					t.Errorf("the fetch ended after %s, want at its deadline %s", took, deadline)
				}
				if !strings.Contains(err.Error(), "SIDECAR_FETCH_DEADLINE") || !strings.Contains(err.Error(), "s3://configs/k") {
					t.Errorf("error %q should name the URI and the deadline setting", err)
				}
			})
		})
	}
}

func TestGetS3PermanentErrors(t *testing.T) {
	tests := []struct {
		name    string
		uri     string
		fault   string
		want    error
		wantMsg string
	}{
		{"403", "s3://configs/k", "403", ErrAccessDenied, "AccessDenied"},
		{"NoSuchKey", "s3://configs/missing", "", ErrNotFound, "NoSuchKey"},
		{"NoSuchBucket", "s3://no-such-bucket/k", "", ErrNotFound, "NoSuchBucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := s3Server(t)
				putObject(t, s.backend, "k", []byte("x"))
				if tt.fault != "" {
					s.faults.push(tt.fault)
				}
				r := s.reader(Options{Config: Config{FetchDeadline: 20 * time.Second}})
				_, _, err := r.Get(context.Background(), tt.uri)
				if !errors.Is(err, tt.want) {
					t.Fatalf("error %v, want %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.uri) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q should name %s and %s", err, tt.uri, tt.wantMsg)
				}
				if s.faults.count() != 1 {
					t.Errorf("%d requests; a permanent error must not be retried", s.faults.count())
				}
			})
		})
	}
}

func TestGetSizeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "big", bytes.Repeat([]byte("x"), 2048))
		putObject(t, s.backend, "exact", bytes.Repeat([]byte("x"), 1024))
		dir := t.TempDir()
		for name, size := range map[string]int{"big": 2048, "exact": 1024} {
			if err := os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := s.reader(Options{Config: Config{MaxObjectBytes: 1024, FetchDeadline: 10 * time.Second}})
		for _, uri := range []string{"s3://configs/big", "file://" + filepath.Join(dir, "big")} {
			if _, _, err := r.Get(context.Background(), uri); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), uri) {
				t.Errorf("%s: error %v, want ErrTooLarge naming the URI", uri, err)
			}
		}
		for _, uri := range []string{"s3://configs/exact", "file://" + filepath.Join(dir, "exact")} {
			if b, _, err := r.Get(context.Background(), uri); err != nil || len(b) != 1024 {
				t.Errorf("%s: object at the cap: %d bytes, %v", uri, len(b), err)
			}
		}
	})
}

func TestListS3Prefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		for _, k := range []string{"connectors/msc.json", "connectors/cpc.json", "connectors/sub/hbc.json", "connectors/.hidden.json", "connectors-old/x.json", "other.json"} {
			putObject(t, s.backend, k, []byte("{}"))
		}
		r := s.reader(Options{Config: Config{FetchDeadline: 10 * time.Second}})
		for _, uri := range []string{"s3://configs/connectors/", "s3://configs/connectors"} {
			objs, err := r.List(context.Background(), uri)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range objs {
				names = append(names, o.Name)
			}
			if got := strings.Join(names, ","); got != "cpc.json,msc.json,sub/hbc.json" {
				t.Errorf("%s: listed %s", uri, got)
			}
			if objs[0].URI != "s3://configs/connectors/cpc.json" || objs[0].Version == "" || objs[0].Size != 2 {
				t.Errorf("%+v", objs[0])
			}
		}
	})
}

// A listed object's URI must fetch that very object, whatever characters
// its name holds.
func TestListedURIsFetchTheirObject(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := []string{"a b.json", "100%.json", "what?.json", "n#1.json", "ü.json"}
		s := s3Server(t)
		dir := t.TempDir()
		for _, n := range names {
			putObject(t, s.backend, "c/"+n, []byte(n))
			if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := s.reader(Options{Config: Config{FetchDeadline: 10 * time.Second}})
		for _, uri := range []string{"s3://configs/c/", "file://" + dir} {
			objs, err := r.List(context.Background(), uri)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != len(names) {
				t.Fatalf("%s: listed %+v", uri, objs)
			}
			for _, o := range objs {
				b, _, err := r.Get(context.Background(), o.URI)
				if err != nil || string(b) != o.Name {
					t.Errorf("%s: Get(%q) = %q, %v; want the object %q", uri, o.URI, b, err, o.Name)
				}
			}
		}
	})
}

func TestFileURIs(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub", ".git"), 0o755)
	os.WriteFile(filepath.Join(dir, "a.json"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "b.json"), []byte("b"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", ".git", "c"), []byte("c"), 0o644)
	r := New(Options{})
	b, obj, err := r.Get(context.Background(), "file://"+filepath.Join(dir, "a.json"))
	if err != nil || string(b) != "a" || obj.Name != "a.json" {
		t.Fatalf("%q %+v %v", b, obj, err)
	}
	objs, err := r.List(context.Background(), "file://"+dir)
	if err != nil || len(objs) != 2 || objs[0].Name != "a.json" || objs[1].Name != "sub/b.json" {
		t.Fatalf("%+v %v", objs, err)
	}
	missing := "file://" + filepath.Join(dir, "nope")
	if _, _, err := r.Get(context.Background(), missing); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    URI
		wantErr string
	}{
		{"s3://b/k/x.json", URI{Scheme: "s3", Bucket: "b", Key: "k/x.json"}, ""},
		{"s3://b/k?versionId=abc", URI{Scheme: "s3", Bucket: "b", Key: "k", VersionID: "abc"}, ""},
		{"file:///etc/kafka/../x", URI{Scheme: "file", Path: "/etc/x"}, ""},
		{"file://localhost/x", URI{Scheme: "file", Path: "/x"}, ""},
		{"s3:///k", URI{}, "no bucket"},
		{"s3://b/k?foo=1", URI{}, "unknown query parameter"},
		{"file://host/x", URI{}, "no host"},
		{"/etc/x", URI{}, "no scheme"},
		{"http://x/y", URI{}, "unsupported scheme"},
		{"file:///x?y=1", URI{}, "no query"},
		{"file:///tmp/a%zz", URI{}, `"file:///tmp/a%zz": invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		got, err := ParseURI(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Count(err.Error(), tt.in) != 1 {
				t.Errorf("%s: error %v, want %q naming the URI once", tt.in, err, tt.wantErr)
			}
			continue
		}
		got.raw = ""
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v %v", tt.in, got, err)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"s3://b/k?versionId=1", "file:///a/b", "s3://b", "s3://b/p/", "file://x/y", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		obj, objErr := ParseObjectURI(s)
		if err != nil {
			if objErr == nil {
				t.Fatal("ParseObjectURI accepts what ParseURI refuses")
			}
			return
		}
		// An object URI is a URI naming one object: never a bare bucket
		// or a prefix.
		if objErr == nil && (obj != u || u.Scheme == "s3" && (u.Key == "" || strings.HasSuffix(u.Key, "/"))) {
			t.Fatalf("ParseObjectURI(%q) = %+v", s, obj)
		}
		if objErr != nil && u.Scheme == "s3" && u.Key != "" && !strings.HasSuffix(u.Key, "/") {
			t.Fatalf("ParseObjectURI(%q) refused an object: %v", s, objErr)
		}
		switch u.Scheme {
		case "s3":
			if u.Bucket == "" {
				t.Fatal("s3 URI without bucket")
			}
			// What List builds for this object must name it again.
			if back, err := ParseURI(s3URI(u.Bucket, u.Key)); err != nil || back.Bucket != u.Bucket || back.Key != u.Key {
				t.Fatalf("s3URI(%q, %q) parses back as %+v, %v", u.Bucket, u.Key, back, err)
			}
		case "file":
			if !strings.HasPrefix(u.Path, "/") {
				t.Fatal("relative file path")
			}
			if back, err := ParseURI(fileURI(u.Path)); err != nil || back.Path != u.Path {
				t.Fatalf("fileURI(%q) parses back as %+v, %v", u.Path, back, err)
			}
		default:
			t.Fatalf("scheme %q", u.Scheme)
		}
	})
}

// getWithin runs Get and fails the test, rather than hanging it, when Get
// does not return within limit.
func getWithin(t *testing.T, ctx context.Context, r *Reader, uri string, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, _, err := r.Get(ctx, uri); done <- err }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Get(%s) still blocked after %s", uri, limit)
		return nil
	}
}

// Only regular files are read: a FIFO with no writer, a device or a socket
// would block for ever or never end, and are refused with the path.
func TestGetFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "aaa.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ path, kind string }{
		{fifo, "named pipe"},
		{link, "named pipe"},
		{"/dev/zero", "device"},
		{sock, "socket"},
		{dir, "directory"},
	}
	r := New(Options{Config: Config{FetchDeadline: time.Minute}})
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			uri := "file://" + tt.path
			err := getWithin(t, context.Background(), r, uri, 5*time.Second)
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), uri) || !strings.Contains(err.Error(), tt.kind) {
				t.Errorf("error %v, want ErrNotRegular naming %s and %q", err, uri, tt.kind)
			}
		})
	}
}

// A cancelled fetch (SIGTERM) reads nothing, from a file or from S3, and
// says it was stopped: not that it gave up after SIDECAR_FETCH_DEADLINE.
func TestGetCancelledIsNotTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "k", []byte("payload"))
		for range 50 {
			s.faults.push("hang")
		}
		file := filepath.Join(t.TempDir(), "w.properties")
		if err := os.WriteFile(file, []byte("group.id=mm2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := s.reader(Options{Config: Config{FetchDeadline: 2 * time.Minute}})

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, _, err := r.Get(ctx, "file://"+file); !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "SIDECAR_FETCH_DEADLINE") {
			t.Errorf("file, cancelled: %v", err)
		}

		ctx, cancel = context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, _, err := r.Get(ctx, "s3://configs/k"); done <- err }()
		synctest.Wait()
		if s.faults.count() != 1 {
			t.Fatalf("%d requests before the cancellation, want the first attempt stalled at the server", s.faults.count())
		}
		began := time.Now()
		cancel()
		err := <-done
		if took := time.Since(began); took != 0 {
			t.Errorf("a cancelled S3 fetch returned %s later, want at once", took)
		}
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), "s3://configs/k") {
			t.Errorf("s3, cancelled while stalled: %v; want a cancellation naming the URI, not the deadline", err)
		}
	})
}
