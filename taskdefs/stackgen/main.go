// Stackgen writes the task definitions, IAM policies and scaling policy of
// taskdefs/ into the CloudFormation stack taskdefs/stack.yaml, so that the
// stack never holds a second, hand-kept copy of them. It owns the mapping
// from the files' ${PLACEHOLDER}s and auth-mode overlays to the stack's
// parameters, resources and conditions; the rest of the stack is written by
// hand and left as it is.
//
// Usage (from the repository root): go run ./taskdefs/stackgen [-check] [-dir taskdefs]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", "taskdefs", "the taskdefs directory")
	check := flag.Bool("check", false, "exit 1 when stack.yaml differs from what the files give, without writing")
	flag.Parse()
	if err := run(*dir, *check); err != nil {
		fmt.Fprintln(os.Stderr, "stackgen:", err)
		os.Exit(1)
	}
}

func run(dir string, check bool) error {
	path := filepath.Join(dir, stackFile)
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	generated, err := generate(os.DirFS(dir), old)
	if err != nil {
		return err
	}
	if bytes.Equal(old, generated) {
		return nil
	}
	if check {
		return fmt.Errorf("%s differs from the task definitions and policies: run go generate ./taskdefs", path)
	}
	return os.WriteFile(path, generated, 0o644)
}
