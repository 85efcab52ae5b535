// Command connect-sidecar runs next to a Kafka Connect worker in an ECS task:
// it prepares the worker's configuration, manages connectors and exports
// metrics. main only parses the command line and wires packages together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"bootstrap", "write the worker's config directory from S3 or files, then exit", runBootstrap},
		{"run", "wait for Connect, then keep its connectors as the connector files say", runRun},
		{"healthcheck", "exit 0 when the running sidecar is ready (--healthz: alive)", runHealthcheck},
		{"status", "show connectors, replication lag and consumer-group readiness; gate a cutover", runStatus},
		{"preflight", "check both clusters, the connector files and Connect for what would break the migration", runPreflight},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "connect-sidecar: unknown command %q (see connect-sidecar --help)\n", args[0])
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: connect-sidecar COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Configuration is read from the environment:")
	fmt.Fprintln(w)
	if err := config.Usage(w); err != nil {
		fmt.Fprintln(w, err)
	}
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "connect-sidecar %s\n", version)
	return 0
}
