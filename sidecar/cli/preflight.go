package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
	"github.com/mm2-fargate/mm2-ecs/sidecar/preflight"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

// Exit codes of preflight: 0 nothing FAILs, 1 something FAILs, 2 it could
// not run (bad usage, configuration or connector files).
func runPreflight(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("preflight", stderr,
		"Usage: connect-sidecar preflight [--json] [--connectors DIR] [--worker FILE] [--max-workers N]",
		"Checks what would break the migration before MirrorMaker 2 starts, on both clusters of the",
		"MirrorSourceConnector's config and on Connect (SIDECAR_CONNECT_URL); changes nothing.",
		"Exit status: 0 nothing FAILs, 1 something FAILs, 2 could not run.",
	)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	dir := fs.String("connectors", "", "read the connector files from this directory instead of SIDECAR_CONNECTORS_URI")
	worker := fs.String("worker", "", "worker properties file (default: connect-distributed.properties in SIDECAR_CONFIG_DIR, when present)")
	maxWorkers := fs.Int("max-workers", 0, "the service's maximum task count (the scaling policy's --max); 0: unknown")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "preflight: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := config.Load()
	if err != nil {
		printProblems(stderr, "connect-sidecar preflight", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	in, err := preflightInput(ctx, cfg, *dir, *worker)
	if err != nil {
		printProblems(stderr, "connect-sidecar preflight", err)
		return 2
	}
	in.MaxWorkers = *maxWorkers
	rep, err := preflight.Run(ctx, in)
	if err != nil {
		printProblems(stderr, "connect-sidecar preflight", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Failed bool `json:"failed"`
			*preflight.Report
		}{rep.Failed(), rep}); err != nil {
			fmt.Fprintf(stderr, "preflight: %v\n", err)
			return 2
		}
	} else {
		printPreflight(stdout, rep)
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

// preflightInput reads the connector files, the worker properties and the
// Connect client the checks need. Every problem is returned at once.
func preflightInput(ctx context.Context, cfg config.Config, dir, workerFile string) (preflight.Input, error) {
	in := preflight.Input{SourceConnector: cfg.Lag.SourceConnector}
	uri := cfg.Reconcile.ConnectorsURI
	if dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return in, fmt.Errorf("--connectors %s: %w", dir, err)
		}
		uri = "file://" + filepath.ToSlash(abs)
	}
	if uri == "" {
		return in, errors.New("SIDECAR_CONNECTORS_URI is not set and no --connectors DIR given: no connector files to check")
	}
	loader, err := desired.NewLoader(source.New(source.Options{Config: cfg.Source}), uri)
	if err != nil {
		return in, err
	}
	set, err := loader.Load(ctx)
	if err != nil {
		return in, fmt.Errorf("%s: %w", uri, err)
	}
	var errs []error
	for _, fe := range set.Errors {
		errs = append(errs, fe)
	}
	in.Connectors = set.Connectors

	explicit := workerFile != ""
	if !explicit {
		workerFile = filepath.Join(cfg.Bootstrap.ConfigDir, "connect-distributed.properties")
	}
	switch raw, err := os.ReadFile(workerFile); {
	case err == nil:
		p, perr := javaconfig.ParseProperties(workerFile, raw)
		if perr != nil {
			errs = append(errs, fmt.Errorf("worker properties: %w", perr))
		} else {
			in.Worker = p
		}
	case explicit || !errors.Is(err, os.ErrNotExist):
		errs = append(errs, fmt.Errorf("worker properties: %w", err))
	}
	if len(errs) > 0 {
		return in, errors.Join(errs...)
	}
	api, err := connect.New(cfg.Connect, nil)
	if err != nil {
		return in, err
	}
	in.Connect = api
	return in, nil
}

func printPreflight(w io.Writer, rep *preflight.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tFOUND\tFIX")
	for _, r := range rep.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Check, r.Status, r.Found, r.Fix)
	}
	tw.Flush()
	verdict := "nothing fails"
	if rep.Failed() {
		verdict = "something fails: fix the FAIL rows before creating the connectors"
	}
	fmt.Fprintf(w, "\npreflight: %s (%s)\n", verdict, rep.Duration.Round(time.Millisecond))
}

// preflightRunner runs the checks as the command does, reading the
// connector files through the sidecar's own loader each time.
func preflightRunner(cfg config.Config, loader *desired.Loader, api *connect.Client) func(context.Context) (*preflight.Report, error) {
	return func(ctx context.Context) (*preflight.Report, error) {
		set, err := loader.Load(ctx)
		if err != nil {
			return nil, err
		}
		in := preflight.Input{Connectors: set.Connectors, SourceConnector: cfg.Lag.SourceConnector, Connect: api}
		if raw, err := os.ReadFile(filepath.Join(cfg.Bootstrap.ConfigDir, "connect-distributed.properties")); err == nil {
			if p, err := javaconfig.ParseProperties("connect-distributed.properties", raw); err == nil {
				in.Worker = p
			}
		}
		return preflight.Run(ctx, in)
	}
}
