package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bootstrap"
	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/ecsmeta"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

func runBootstrap(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			bootstrapUsage(stdout)
			return 0
		default:
			fmt.Fprintf(stderr, "connect-sidecar bootstrap: unknown argument %q (see connect-sidecar bootstrap --help)\n", a)
			return exitBadConf
		}
	}
	cfg, err := config.Load()
	if err != nil {
		printProblems(stderr, "connect-sidecar bootstrap", err)
		return exitBadConf
	}
	log := cfg.Logging.Logger(stderr)
	res, err := bootstrap.Run(ctx, bootstrap.Options{
		Config:      cfg.Bootstrap,
		Environ:     os.Environ(),
		Fetcher:     source.New(source.Options{Config: cfg.Source, Logger: log}),
		MetadataURI: os.Getenv(ecsmeta.EnvVar),
		Logger:      log,
	})
	if err != nil {
		printProblems(stderr, "connect-sidecar bootstrap", err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "wrote %s:\n", res.Dir)
	for _, f := range res.Files {
		state := "unchanged"
		if f.Changed {
			state = "changed"
		}
		fmt.Fprintf(stdout, "  %-34s %7d bytes  %s\n", f.Name, f.Bytes, state)
	}
	for _, p := range res.Removed {
		fmt.Fprintf(stdout, "  removed %s\n", p)
	}
	return 0
}

// printProblems writes one line per problem, each starting with prefix:
// errors.Join's parts each on their own line, and never a line break
// inside one problem.
func printProblems(w io.Writer, prefix string, err error) {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		if _, ok := e.(interface{ Unwrap() []error }); ok {
			printProblems(w, prefix, e)
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", prefix, strings.Join(strings.Fields(e.Error()), " "))
	}
}

func bootstrapUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: connect-sidecar bootstrap

Writes the Kafka Connect worker's config directory (SIDECAR_CONFIG_DIR), then
exits: connect-distributed.properties from KAFKA_CONNECT_PROPERTIES_S3_URI (or
SIDECAR_BASE_PROPERTIES) with every CONNECT_* variable applied over it, and the
keystore and truststore when their URIs are set. Everything is checked before
anything is written; files that already hold the same bytes are left alone.
Exit status 0 on success; 2 when a setting is wrong, 1 when fetching or
checking what the settings name fails; either way one line per problem on
stderr. s3:// URIs need AWS_REGION and credentials (see connect-sidecar --help).

Configuration is read from the environment:

`)
	if err := config.Usage(w); err != nil {
		fmt.Fprintln(w, err)
	}
}
