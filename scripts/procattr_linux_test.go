package scripts_test

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel stop a server the test started when the
// test binary dies, even on a timeout panic, which skips t.Cleanup.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
