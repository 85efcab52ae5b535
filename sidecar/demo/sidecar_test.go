package demo

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The demo's sidecars are its own executable started as connect-sidecar:
// the link answers as connect-sidecar does, without the go tool on PATH,
// and a kept work directory's link is replaced.
func TestSelfAsSidecar(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	dir := t.TempDir()
	if err := os.Symlink("/nonexistent", dir+"/"+sidecarProgram); err != nil {
		t.Fatal(err)
	}
	link, err := selfAsSidecar(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"version"}, "connect-sidecar dev\n"},
		{[]string{"--version"}, "connect-sidecar dev\n"},
		{[]string{"--help"}, "Usage: connect-sidecar COMMAND"},
	} {
		out, err := exec.Command(link, tc.args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("%s %v: %v\n%s\nwant %q", link, tc.args, err, out, tc.want)
		}
	}
	cmd := exec.Command(link, "bootstrap", "--bogus")
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), `unknown argument "--bogus"`) {
		t.Errorf("bootstrap --bogus: %v, exit %d\n%s", err, cmd.ProcessState.ExitCode(), out)
	}
}
