// Package externaltool finds the programs some tests drive for real
// (promtool, prometheus, shellcheck, jq, cfn-lint, the AWS CLI, moto_server). It owns the one rule for a missing
// program: outside CI the test is skipped with the way to get it; in CI (CI
// set) it fails, so that nothing passes unchecked. It runs nothing itself.
package externaltool

import (
	"os"
	"os/exec"
	"testing"
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
