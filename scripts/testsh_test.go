package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// toolsOnly is a PATH holding only what test.sh needs before its checks
// (bash, dirname, id): no apt-get, no sudo, none of the test tools, no go.
func toolsOnly(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"bash", "dirname", "id"} {
		p, err := exec.LookPath(name)
		if err != nil {
			t.Skipf("%s is not installed", name)
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Without apt-get, test.sh says in one line which tools are missing (each
// once), how to get them and which tests go without them; outside CI it
// goes on, in CI it stops.
func TestTestShWithoutAptGet(t *testing.T) {
	path := toolsOnly(t)
	for _, ci := range []string{"", "true"} {
		cmd := exec.Command("./test.sh", "--short")
		cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "CI=" + ci}
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
			t.Fatalf("CI=%q: %v, want exit 1 (no go here)\n%s", ci, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		first := lines[0]
		for _, w := range []string{"test.sh: missing prometheus shellcheck jq openjdk-17-jdk-headless maven and no apt-get",
			"brew install", "the tests that need them are skipped", "real-Kafka suite", "go test ./... runs the Go tests alone"} {
			if !strings.Contains(first, w) {
				t.Errorf("CI=%q: first line lacks %q: %s", ci, w, first)
			}
		}
		missing, _, _ := strings.Cut(strings.TrimPrefix(first, "test.sh: missing "), " and no apt-get")
		seen := map[string]bool{}
		for _, m := range strings.Fields(missing) {
			if seen[m] {
				t.Errorf("%s named twice: %s", m, first)
			}
			seen[m] = true
		}
		if strings.Contains(string(out), "command not found") {
			t.Errorf("CI=%q: a missing command was run:\n%s", ci, out)
		}
		switch {
		case ci == "" && (len(lines) != 2 || !strings.Contains(lines[1], "Go 1.26 is required")):
			t.Errorf("outside CI it should go on to its next check (Go):\n%s", out)
		case ci != "" && len(lines) != 1:
			t.Errorf("in CI it should stop at the missing tools:\n%s", out)
		}
	}
}
