//go:build !linux

package scripts_test

import "os/exec"

// dieWithTest: only Linux can tie a child's life to the test binary's;
// elsewhere t.Cleanup stops it.
func dieWithTest(*exec.Cmd) {}
