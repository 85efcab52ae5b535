package demo

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// RunOptions are the mm2-demo command's flags.
type RunOptions struct {
	// Options configure the assembly itself.
	Options
	// Duration is how long the demo runs; 0 runs until ctx ends (Ctrl-C).
	Duration time.Duration
	// FailTask, when positive, marks mm2-msc task 0 FAILED after this long,
	// to show the auto-restart; 0 never does.
	FailTask time.Duration
	// Every is the interval of the live summary; 0 or less is 3s.
	Every time.Duration
	// Quiet prints no live summary, only the banner and the end.
	Quiet bool
	// Wide makes the summary name every topic and group (wider than 120
	// columns).
	Wide bool
}

// Run starts the demo, prints where to look and a live summary, and
// stops everything when ctx ends or Duration has passed.
func Run(ctx context.Context, opts RunOptions, out io.Writer) (err error) {
	if opts.Every <= 0 {
		opts.Every = 3 * time.Second
	}
	if opts.Runtime != nil {
		fmt.Fprintln(out, "mm2-demo: starting two real Kafka brokers, S3, three real Connect workers with MirrorMaker 2, and a connect-sidecar beside each worker…")
	} else {
		fmt.Fprintln(out, "mm2-demo: starting two Kafka clusters, S3, three Connect workers with MirrorMaker 2, and a connect-sidecar beside each worker…")
	}
	d, err := Start(ctx, opts.Options)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "mm2-demo: stopping (SIGTERM to the sidecars)…")
		if cerr := d.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	d.printBanner(out)
	d.printPreflight(ctx, out)

	start := time.Now()
	var stop <-chan time.Time
	if opts.Duration > 0 {
		stop = time.After(opts.Duration)
	}
	var fail <-chan time.Time
	if opts.FailTask > 0 {
		fail = time.After(opts.FailTask)
	}
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	var last Summary
	for {
		select {
		case <-ctx.Done():
			last.Write(out, time.Since(start), opts.Wide)
			return nil
		case <-stop:
			last.Write(out, time.Since(start), opts.Wide)
			return nil
		case <-fail:
			if err := d.FailTask("mm2-msc", 0); err != nil {
				fmt.Fprintf(out, "mm2-demo: could not fail a task: %v\n", err)
			} else {
				fmt.Fprintln(out, "mm2-demo: marked task mm2-msc/0 FAILED; the leader's sidecar restarts it (watch restarts)")
			}
		case <-tick.C:
			for _, sc := range d.Sidecars {
				if done, err := sc.Exited(); done {
					return fmt.Errorf("sidecar %d exited (%v); see %s", sc.Index+1, err, sc.LogPath)
				}
			}
			s, _ := d.Summary(ctx)
			last = s
			if !opts.Quiet {
				s.Write(out, time.Since(start), opts.Wide)
			}
		}
	}
}

func (d *Demo) printBanner(out io.Writer) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nSource Kafka  %s   (topics orders, payments, inventory; groups billing, shipping, analytics)\n", strings.Join(d.SourceAddrs(), ","))
	fmt.Fprintf(&b, "Target Kafka  %s   (empty at start)\n", strings.Join(d.TargetAddrs(), ","))
	fmt.Fprintf(&b, "S3            %s   s3://%s/%s and s3://%s/%s*.json (from connect-image/)\n", d.S3.URL, Bucket, workerKey, Bucket, connectorsDir)
	b.WriteString("\nWorker  Connect REST              sidecar /metrics                        logs\n")
	for _, sc := range d.Sidecars {
		fmt.Fprintf(&b, "%d       %-25s %-39s %s\n", sc.Index+1, sc.WorkerURL, sc.MetricsURL+"/metrics", sc.LogPath)
	}
	b.WriteString("\nEach sidecar prints its CloudWatch EMF lines to emf.log next to sidecar.log.\n")
	b.WriteString("Lag and group verdicts are exported once, by the sidecar of the Connect leader (the summary names it);\n")
	b.WriteString("each sidecar exports its own worker's tasks and JMX series.\n")
	b.WriteString("\nIn another terminal:\n")
	fmt.Fprintf(&b, "  curl -s %s/metrics | grep -E 'connect_sidecar_(topic_lag_records|group_verdict|migration_ready)'\n", d.Sidecars[0].MetricsURL)
	fmt.Fprintf(&b, "  %s\n", d.StatusCommand())
	fmt.Fprintf(&b, "  curl -s %s/connectors?expand=status\n", d.ConnectURL())
	b.WriteString("\nCtrl-C stops everything.\n")
	fmt.Fprintln(out, b.String())
}

// printPreflight runs `connect-sidecar preflight` once, as an operator
// would before the first connector, against the demo's clusters, connector
// files and first worker's properties, and prints its table. Its verdict
// does not stop the demo.
func (d *Demo) printPreflight(ctx context.Context, out io.Writer) {
	fmt.Fprintln(out, "Preflight (connect-sidecar preflight):")
	b, err := d.Preflight(ctx)
	out.Write(b)
	if err != nil {
		fmt.Fprintf(out, "mm2-demo: %v\n", err)
	}
	fmt.Fprintln(out)
}
