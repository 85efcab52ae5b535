// Package cli owns connect-sidecar's command line: its subcommands, their
// flags and help, exit codes, and the wiring of the sidecar's packages each
// subcommand runs. It holds no sidecar logic of its own; the binary's main
// and the demo's embedded sidecars call Main.
//
// Every subcommand follows one style: a configuration or usage problem is
// one plain line per problem on stderr and exit status 2; a failure while
// running is exit status 1.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
)

// Exit statuses shared by every subcommand.
const (
	exitOK      = 0
	exitFailed  = 1 // a runtime failure, or not ready (healthcheck, status --cutover)
	exitBadConf = 2 // bad usage or configuration
)

// Version is what `version` prints and the build-info metric carries; the
// binary's main sets it from its -ldflags "-X main.version=…".
var Version = "dev"

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
		{"version", "print the version (also --version)", runVersion},
	}
}

// Main runs the command line args (without the program name) and returns
// the exit status.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitBadConf
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, args[1:], stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "connect-sidecar: unknown command %q (see connect-sidecar --help)\n", args[0])
	return exitBadConf
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: connect-sidecar COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Exit status: 0 success; 1 a failure while running, or not ready (healthcheck,")
	fmt.Fprintln(w, "status --cutover); 2 bad usage or configuration, one line per problem on stderr.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "s3:// URIs are read with the AWS SDK's default credentials (task role, AWS_PROFILE,")
	fmt.Fprintln(w, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and need AWS_REGION; AWS_ENDPOINT_URL_S3")
	fmt.Fprintln(w, "points them at another S3-protocol server.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Configuration is read from the environment:")
	fmt.Fprintln(w)
	if err := config.Usage(w); err != nil {
		fmt.Fprintln(w, err)
	}
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "connect-sidecar version: unknown argument %q (it takes none)\n", args[0])
		return exitBadConf
	}
	fmt.Fprintf(stdout, "connect-sidecar %s\n", Version)
	return exitOK
}

// newFlags returns a subcommand's flag set: its errors go to stderr, and
// --help prints the usage lines, then the flags.
func newFlags(name string, stderr io.Writer, usage ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, line := range usage {
			fmt.Fprintln(stderr, line)
		}
		fs.PrintDefaults()
	}
	return fs
}

// parseStatus is the exit status after a flag parse error: 0 for --help,
// which printed the usage, and 2 for bad usage, which the flag package
// has described.
func parseStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitBadConf
}

// durationValue is a duration flag whose refusal says what a good value
// looks like instead of the flag package's "parse error".
type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return errors.New("want a positive duration such as 5s or 2m")
	}
	*d = durationValue(v)
	return nil
}

// durationFlag defines a duration flag on fs, as fs.Duration does.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	d := value
	fs.Var((*durationValue)(&d), name, usage)
	return &d
}
