package source

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/awsfail"
)

type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func containsAll(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// With no credentials anywhere the fetch fails at once, sends nothing, and
// says which sources were tried and what to set, not the SDK's chain of
// wrapped messages.
func TestGetS3NoCredentials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
		r := s.reader(Options{Config: Config{FetchDeadline: 20 * time.Second}})
		began := time.Now()
		_, _, err := r.Get(context.Background(), "s3://configs/k")
		var nc *awsfail.NoCredentialsError
		if !errors.As(err, &nc) {
			t.Fatalf("error %v, want a NoCredentialsError", err)
		}
		containsAll(t, "error", err.Error(), "s3://configs/k", "no AWS credentials", "AWS_ACCESS_KEY_ID", "AWS_PROFILE",
			"the ECS task role", "EC2 instance metadata is off (AWS_EC2_METADATA_DISABLED=true)", "taskRoleArn")
		if strings.Contains(err.Error(), "failed to refresh cached credentials") || strings.Contains(err.Error(), "operation error") {
			t.Errorf("error repeats the SDK's words: %v", err)
		}
		// On the bubble's clock only a wait takes time: a retry's backoff would.
		if took := time.Since(began); took != 0 {
			t.Errorf("took %s: missing credentials were retried", took)
		}
		if s.faults.count() != 0 {
			t.Errorf("%d requests sent without credentials", s.faults.count())
		}
	})
}

// An endpoint that refuses connections: every retry is logged at INFO with
// its attempt and reason, and the error names the endpoint and region.
func TestGetS3Unreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		// Nothing listens there on the store's network: dialling it is
		// refused as a closed port is.
		const closed = "http://localhost:9001"
		t.Setenv("AWS_ENDPOINT_URL_S3", closed)
		var logs logBuffer
		r := s.reader(Options{Config: Config{FetchDeadline: 2 * time.Second}, Logger: logs.logger()})
		_, _, err := r.Get(context.Background(), "s3://configs/k")
		if err == nil {
			t.Fatal("no error")
		}
		containsAll(t, "error", err.Error(), "s3://configs/k", "gave up after 2s (SIDECAR_FETCH_DEADLINE)",
			"no answer from "+closed+"/configs (region us-east-1)", "connection refused", "AWS_REGION")
		containsAll(t, "log", logs.String(), "level=INFO", `msg="S3 request failed; retrying"`, "attempt=1 ", "attempt=2 ",
			`reason="no answer from `+closed+"/configs: cannot connect: connection refused")
	})
}

// Each retry after an answer names the attempt and S3's code; a deadline
// reached during a hung attempt reports the last answer, not "no answer".
func TestGetS3RetriesAreLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "k", []byte("payload"))
		s.faults.push("503", "500")
		var logs logBuffer
		r := s.reader(Options{Config: Config{FetchDeadline: 8 * time.Second}, Logger: logs.logger()})
		if _, _, err := r.Get(context.Background(), "s3://configs/k"); err != nil {
			t.Fatal(err)
		}
		containsAll(t, "log", logs.String(), `attempt=1 max_attempts=20 reason="SlowDown (HTTP 503)"`, `attempt=2 max_attempts=20 reason="InternalError (HTTP 500)"`)

		for range 100 {
			s.faults.push("503")
		}
		r = s.reader(Options{Config: Config{FetchDeadline: 2 * time.Second}})
		_, _, err := r.Get(context.Background(), "s3://configs/k")
		if err == nil || !strings.Contains(err.Error(), "last attempt: SlowDown (HTTP 503)") {
			t.Errorf("error %v, want the last answer", err)
		}
	})
}

// A fetch that lasts reports what it waits for, for how long and what to
// check, every WaitReport.
func TestGetS3ReportsALongWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		putObject(t, s.backend, "k", []byte("payload"))
		s.faults.push("hang")
		var logs logBuffer
		// The hung attempt is given up after a quarter of the deadline, 1.5s.
		r := s.reader(Options{Config: Config{FetchDeadline: 6 * time.Second}, WaitReport: 400 * time.Millisecond, Logger: logs.logger()})
		if _, _, err := r.Get(context.Background(), "s3://configs/k"); err != nil {
			t.Fatalf("%v\n%s", err, logs.String())
		}
		containsAll(t, "log", logs.String(), "level=WARN", `msg="still waiting for S3"`, "uri=s3://configs/k", "waited=",
			`gives_up_after="6s (SIDECAR_FETCH_DEADLINE)"`, "check=\"the network route to "+os.Getenv("AWS_ENDPOINT_URL_S3")+"/configs (region us-east-1) and the role's s3:GetObject\"")
		// At 0.4, 0.8 and 1.2s the first attempt still hangs.
		if n := strings.Count(logs.String(), "still waiting for S3"); n < 3 {
			t.Errorf("%d wait reports over a hung attempt of 1.5s, want at least 3", n)
		}
	})
}

// Access denied names the action and the resource.
func TestS3AccessDeniedNamesActionAndResource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		r := s.reader(Options{Config: Config{FetchDeadline: 5 * time.Second}})
		s.faults.push("403")
		_, _, err := r.Get(context.Background(), "s3://configs/workers/w.properties")
		if !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("error %v, want ErrAccessDenied", err)
		}
		containsAll(t, "get error", err.Error(), "access denied: s3:GetObject on arn:aws:s3:::configs/workers/w.properties (AccessDenied)",
			"task role", "s3:ListBucket on arn:aws:s3:::configs")
		s.faults.push("403")
		_, err = r.List(context.Background(), "s3://configs/connectors/")
		if !errors.Is(err, ErrAccessDenied) {
			t.Fatalf("error %v, want ErrAccessDenied", err)
		}
		containsAll(t, "list error", err.Error(), `access denied: s3:ListBucket on arn:aws:s3:::configs (prefix "connectors/")`)
		s.faults.push("badkey")
		_, _, err = r.Get(context.Background(), "s3://configs/workers/w.properties")
		if !errors.Is(err, ErrAccessDenied) || s.faults.count() != 3 {
			t.Fatalf("error %v after %d requests, want ErrAccessDenied without a retry", err, s.faults.count())
		}
		containsAll(t, "rejected key", err.Error(), "AWS rejected the credentials for s3:GetObject (InvalidAccessKeyId): check AWS_ACCESS_KEY_ID")
		if strings.Contains(err.Error(), "s3:ListBucket") {
			t.Errorf("a rejected key is not a missing grant: %v", err)
		}
	})
}

// An object URI without a key is refused when parsed, before any request.
func TestGetRefusesAnS3URIWithoutKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := s3Server(t)
		r := s.reader(Options{Config: Config{FetchDeadline: 5 * time.Second}})
		for _, uri := range []string{"s3://configs", "s3://configs/", "s3://configs/workers/"} {
			_, _, err := r.Get(context.Background(), uri)
			if err == nil || !strings.Contains(err.Error(), "want s3://configs/") {
				t.Errorf("%s: error %v, want what a good URI looks like", uri, err)
			}
		}
		if s.faults.count() != 0 {
			t.Errorf("%d requests for URIs naming no object", s.faults.count())
		}
	})
}

func TestParseObjectURI(t *testing.T) {
	tests := []struct{ in, wantErr string }{
		{"s3://b/k", ""},
		{"s3://b/dir/k.properties?versionId=1", ""},
		{"file:///etc/x", ""},
		{"s3://my-bucket", `"s3://my-bucket": no object key (want s3://my-bucket/path/to/object)`},
		{"s3://b/dir/", `"s3://b/dir/": names a prefix, not an object (want s3://b/dir/object)`},
		{"s3:///k", "no bucket"},
	}
	for _, tt := range tests {
		_, err := ParseObjectURI(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}
