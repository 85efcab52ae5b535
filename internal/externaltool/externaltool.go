// Package externaltool finds the programs some tests drive for real
// (promtool, prometheus, shellcheck, jq, cfn-lint, the AWS CLI, moto_server)
// and the real Kafka runtime. It owns the one rule for a missing program: outside CI the test is skipped with the way to get it; in CI (CI
// set) it fails, so that nothing passes unchecked. It runs nothing itself.
package externaltool

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
)

// Path returns the path of name on PATH, or ends the test as the rule says.
func Path(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not installed: run scripts/test.sh, which installs it"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// KafkaRuntime resolves the real Kafka runtime (Java, Maven and the jars of
// connect-image/runtime/pom.xml, with scripts/kafka-runtime.sh under
// repoDir), or ends the test as the rule says when Java or Maven is missing.
func KafkaRuntime(t testing.TB, repoDir string) *realkafka.Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rt, err := realkafka.Resolve(ctx, repoDir)
	if errors.Is(err, realkafka.ErrNoJava) {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rt
}
