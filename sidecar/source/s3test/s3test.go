// Package s3test runs a real S3-protocol server (gofakes3, in memory) on
// loopback for tests and the demo, and gives the environment that points the
// AWS SDK's default configuration at it. It owns no production behaviour:
// the sidecar always talks to S3 through package source.
package s3test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is an in-memory S3 endpoint over plain HTTP. Plain HTTP matters:
// over HTTPS gofakes3 stores the SDK's aws-chunked framing as the object.
type Server struct {
	// URL is the endpoint, http://127.0.0.1:<port>, for AWS_ENDPOINT_URL.
	URL string
	// Backend is the in-memory store, for tests that read or change it
	// without going through HTTP.
	Backend *s3mem.Backend
	srv     *httptest.Server
}

// Start serves an empty store on 127.0.0.1. wrap, when not nil, sits in
// front of the S3 handler (fault injection, request counting).
func Start(wrap func(http.Handler) http.Handler) (*Server, error) {
	backend := s3mem.New()
	var h http.Handler = gofakes3.New(backend).Server()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3 server: listen: %w", err)
	}
	srv.Listener = ln
	srv.Start()
	return &Server{URL: srv.URL, Backend: backend, srv: srv}, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Put stores data at bucket/key, creating the bucket when needed, and
// returns the version ID (empty unless versioning is on).
func (s *Server) Put(bucket, key string, data []byte) (string, error) {
	if ok, err := s.Backend.BucketExists(bucket); err != nil {
		return "", err
	} else if !ok {
		if err := s.Backend.CreateBucket(bucket); err != nil {
			return "", fmt.Errorf("create bucket %s: %w", bucket, err)
		}
	}
	res, err := s.Backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		return "", fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return string(res.VersionID), nil
}

// Env is the environment a task definition would give the SDK to reach this
// endpoint with static test credentials. configDir holds empty AWS config
// files so that none of the machine's profiles apply.
func (s *Server) Env(configDir string) map[string]string { return env(s.URL, configDir) }

func env(url, configDir string) map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL_S3":         url,
		"AWS_REGION":                  "us-east-1",
		"AWS_ACCESS_KEY_ID":           "AKIDS3TEST",
		"AWS_SECRET_ACCESS_KEY":       "s3test-secret",
		"AWS_CONFIG_FILE":             filepath.Join(configDir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(configDir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
}

// unsetForTests are variables of the machine that would change how the SDK
// reaches the server (this machine exports AWS_CA_BUNDLE, for one).
var unsetForTests = []string{"AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
	"AWS_DEFAULT_REGION", "AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"}

// New starts a server for one test, points the SDK at it with SetEnv and
// stops it when the test ends.
func New(t testing.TB, wrap func(http.Handler) http.Handler) *Server {
	t.Helper()
	s, err := Start(wrap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	SetEnv(t, s.URL)
	return s
}

// SetEnv points the SDK's default configuration at the S3 endpoint url for
// one test (t.Setenv), as Env says, and unsets the machine's variables that
// would change how it gets there. Tests that serve S3 on a network of their
// own (an in-memory one, for a fake clock) use it without a Server.
func SetEnv(t testing.TB, url string) {
	t.Helper()
	for k, v := range env(url, t.TempDir()) {
		t.Setenv(k, v)
	}
	for _, k := range unsetForTests {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
}

// MustPut is Put for tests.
func (s *Server) MustPut(t testing.TB, bucket, key string, data []byte) string {
	t.Helper()
	v, err := s.Put(bucket, key, data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
