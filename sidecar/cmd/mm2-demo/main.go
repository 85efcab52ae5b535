// Command mm2-demo runs the whole control plane on a laptop: two
// in-process Kafka clusters, an S3-protocol server, a Kafka Connect cluster
// double running MirrorMaker 2's effects, and the real connect-sidecar per
// worker (this binary links its command line and starts itself as each); with -real, real Apache Kafka brokers, Kafka Connect workers and
// MirrorMaker 2 instead of the doubles. It is a demo; the production binary
// carries none of its doubles. main only parses flags and wires package demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mm2-fargate/mm2-ecs/internal/realkafka"
	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
)

func main() {
	// Each sidecar is this binary started as connect-sidecar; that
	// process runs the sidecar's command line and never gets past here.
	demo.ServeSidecar()
	var opts demo.RunOptions
	flag.DurationVar(&opts.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	flag.DurationVar(&opts.FailTask, "fail-task", 0, "mark task mm2-msc/0 FAILED after this long, to watch the auto-restart (0: never)")
	flag.BoolVar(&opts.Quiet, "quiet", false, "print only where to look and the final summary")
	flag.BoolVar(&opts.Wide, "wide", false, "status lines name every topic's backlog and every group's verdict (wider than 120 columns)")
	flag.DurationVar(&opts.ProduceFor, "produce-for", 0, "how long the source producers keep writing after the initial backlog (default 20s)")
	flag.StringVar(&opts.RepoDir, "repo", "", "repository root (default: found from the working directory)")
	flag.StringVar(&opts.WorkDir, "workdir", "", "keep configs and logs in this folder (default: a temporary folder, removed at the end)")
	real := flag.Bool("real", false, "run real Apache Kafka, Kafka Connect and MirrorMaker 2 (needs Java 17+; jars from Maven Central via scripts/kafka-runtime.sh)")
	libs := flag.String("kafka-libs", "", "with -real: use this folder of jars (e.g. the libs/ of an unpacked Kafka distribution) instead of resolving them")
	agent := flag.String("jmx-agent", "", "with -kafka-libs: the JMX exporter agent jar (default: one found in the folder or in ../agent)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, opts, *real || *libs != "", *libs, *agent)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mm2-demo: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts demo.RunOptions, real bool, libs, agent string) error {
	if real {
		var err error
		if libs != "" {
			opts.Runtime, err = realkafka.FromLibs(libs, agent)
		} else {
			repo := opts.RepoDir
			if repo == "" {
				if repo, err = demo.FindRepo(); err != nil {
					return err
				}
			}
			fmt.Println("mm2-demo: resolving the Kafka runtime (scripts/kafka-runtime.sh)…")
			opts.Runtime, err = realkafka.Resolve(ctx, repo)
		}
		if err != nil {
			return err
		}
	}
	return demo.Run(ctx, opts, os.Stdout)
}
