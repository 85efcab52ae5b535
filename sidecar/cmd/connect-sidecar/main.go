// Command connect-sidecar runs next to a Kafka Connect worker in an ECS task:
// it prepares the worker's configuration, manages connectors and exports
// metrics. main only hands the command line to package cli; it links no
// test double (a test in package cli checks its dependencies).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mm2-fargate/mm2-ecs/sidecar/cli"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	cli.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
