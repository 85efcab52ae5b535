// Package integration is the real-Kafka suite: connect-sidecar against real
// Apache Kafka brokers, distributed Kafka Connect workers, MirrorMaker 2 and
// the Prometheus JMX exporter agent, all from the jars connect-image ships.
// One assembly (package demo in real mode) is started for the whole package
// and shared by its tests, which run in a fixed order.
package integration

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
)

// env is the shared assembly; nil when the suite is skipped.
var env *demo.Demo

// skipReason says why the suite does not run on this machine.
var skipReason string

func TestMain(m *testing.M) {
	// The sidecars are this test binary started as connect-sidecar.
	demo.ServeSidecar()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flagParse()
	switch {
	case testing.Short() || os.Getenv("MM2_SKIP_REAL_KAFKA") != "":
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "integration: the real-Kafka suite must run in CI (no -short, no MM2_SKIP_REAL_KAFKA)")
			return 1
		}
		skipReason = "real-Kafka suite skipped (-short or MM2_SKIP_REAL_KAFKA set)"
	default:
		if code, ok := start(); !ok {
			return code
		}
	}
	began := time.Now()
	code := m.Run()
	if env != nil {
		fmt.Fprintf(os.Stderr, "integration: tests took %s\n", time.Since(began).Round(time.Second))
		stopped := time.Now()
		if err := env.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: closing the assembly: %v\n", err)
			code = 1
		}
		fmt.Fprintf(os.Stderr, "integration: assembly stopped in %s\n", time.Since(stopped).Round(time.Millisecond))
		if code == 0 {
			os.RemoveAll(workDir)
		} else {
			fmt.Fprintf(os.Stderr, "integration: logs kept under %s\n", workDir)
		}
	}
	return code
}

// workDir holds every process's config and logs.
var workDir string

// start resolves the runtime and starts the assembly. Without Java or
// Maven the suite is skipped, except in CI, where that is a failure.
func start() (int, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	repo, err := demo.FindRepo()
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1, false
	}
	began := time.Now()
	rt, err := realkafka.Resolve(ctx, repo)
	if errors.Is(err, realkafka.ErrNoJava) {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "integration: the real-Kafka suite must run in CI: %v\n", err)
			return 1, false
		}
		skipReason = fmt.Sprintf("real-Kafka suite skipped: %v", err)
		return 0, true
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1, false
	}
	work, err := os.MkdirTemp("", "mm2-integration-")
	workDir = work
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", err)
		return 1, false
	}
	d, err := demo.Start(ctx, demo.Options{
		RepoDir:    repo,
		WorkDir:    work,
		Runtime:    rt,
		Workers:    3,
		Backlog:    2000,
		ProduceFor: 15 * time.Second,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: starting real Kafka, Connect and the sidecars: %v\n(logs under %s)\n", err, work)
		return 1, false
	}
	env = d
	fmt.Fprintf(os.Stderr, "integration: two KRaft brokers, three Connect workers and three sidecars up in %s (logs under %s)\n",
		time.Since(began).Round(time.Millisecond), work)
	return 0, true
}

// flagParse parses the test flags early: TestMain reads -short before
// m.Run would parse them.
func flagParse() {
	if !flag.Parsed() {
		flag.Parse()
	}
}

// need skips the calling test when the assembly is not running.
func need(t *testing.T) *demo.Demo {
	t.Helper()
	if env == nil {
		t.Skip(skipReason)
	}
	return env
}
