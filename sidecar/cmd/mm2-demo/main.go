// Command mm2-demo runs the whole control plane on a laptop: two
// in-process Kafka clusters, an S3-protocol server, a Kafka Connect cluster
// double running MirrorMaker 2's effects, and the real connect-sidecar per
// worker. It is a demo; the production binary carries none of its doubles.
// main only parses flags and wires package demo.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
)

func main() {
	var opts demo.RunOptions
	flag.DurationVar(&opts.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	flag.DurationVar(&opts.FailTask, "fail-task", 0, "mark task mm2-msc/0 FAILED after this long, to watch the auto-restart (0: never)")
	flag.BoolVar(&opts.Quiet, "quiet", false, "print only where to look and the final summary")
	flag.DurationVar(&opts.ProduceFor, "produce-for", 0, "how long the source producers keep writing after the initial backlog (default 20s)")
	flag.StringVar(&opts.RepoDir, "repo", "", "repository root (default: found from the working directory)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demo.Run(ctx, opts, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "mm2-demo: %v\n", err)
		os.Exit(1)
	}
}
