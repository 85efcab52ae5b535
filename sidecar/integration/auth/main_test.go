// Package auth is the real-Kafka suite for the authenticated modes: the
// repository's scram and mtls worker and connector examples, unchanged,
// against real KRaft brokers with SASL_SSL/SCRAM-SHA-512 and client-auth
// SSL listeners and the StandardAuthorizer, the MM2 principal holding only
// the ACLs connect-image/README.md lists; and the MSK IAM worker as far as
// it goes without AWS. Each mode starts and stops its own brokers, worker
// and sidecar.
package auth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
)

var (
	// runtime is the resolved Kafka runtime; nil when the suite is skipped.
	runtime *realkafka.Runtime
	// binary is the connect-sidecar built for this run.
	binary string
	// repo is the repository root.
	repo string
	// workDir holds every process's config and logs.
	workDir    string
	skipReason string
	// failed is set by a mode that failed, so that its logs are kept.
	failed bool
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	if testing.Short() || os.Getenv("MM2_SKIP_REAL_KAFKA") != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "auth: the real-Kafka suite must run in CI (no -short, no MM2_SKIP_REAL_KAFKA)")
			return 1
		}
		skipReason = "real-Kafka suite skipped (-short or MM2_SKIP_REAL_KAFKA set)"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if repo, err = findRepo(); err != nil {
		fmt.Fprintf(os.Stderr, "auth: %v\n", err)
		return 1
	}
	rt, err := realkafka.Resolve(ctx, repo)
	switch {
	case errors.Is(err, realkafka.ErrNoJava) && os.Getenv("CI") != "":
		fmt.Fprintf(os.Stderr, "auth: the real-Kafka suite must run in CI: %v\n", err)
		return 1
	case errors.Is(err, realkafka.ErrNoJava):
		skipReason = fmt.Sprintf("real-Kafka suite skipped: %v", err)
		return m.Run()
	case err != nil:
		fmt.Fprintf(os.Stderr, "auth: %v\n", err)
		return 1
	}
	if workDir, err = os.MkdirTemp("", "mm2-auth-"); err != nil {
		fmt.Fprintf(os.Stderr, "auth: %v\n", err)
		return 1
	}
	binary = filepath.Join(workDir, "connect-sidecar")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./sidecar/cmd/connect-sidecar")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "auth: go build ./sidecar/cmd/connect-sidecar: %v\n%s", err, out)
		return 1
	}
	runtime = rt
	code := m.Run()
	if code == 0 && !failed {
		os.RemoveAll(workDir)
	} else {
		fmt.Fprintf(os.Stderr, "auth: logs kept under %s\n", workDir)
	}
	return code
}

// need skips the calling test when the suite does not run here.
func need(t *testing.T) {
	t.Helper()
	if runtime == nil {
		t.Skip(skipReason)
	}
}

func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
