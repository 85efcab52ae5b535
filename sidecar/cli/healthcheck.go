package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
)

// runHealthcheck asks the running sidecar's /readyz (or /healthz) and exits
// 0 when it answers 200, for container health checks in an image without
// curl. ECS task definitions use --healthz: ECS replaces a task whose
// essential container is unhealthy, and a connector file Connect rejects
// must not restart a worker.
func runHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("healthcheck", stderr,
		"Usage: connect-sidecar healthcheck [--healthz] [--addr HOST:PORT] [--timeout DURATION]",
		"Asks the running sidecar's /readyz (--healthz: /healthz) and prints the answer.",
		"Exit status: 0 when it answers 200, 1 otherwise, 2 bad usage or configuration.",
	)
	live := fs.Bool("healthz", false, "check liveness (/healthz) instead of readiness (/readyz)")
	addr := fs.String("addr", "", "address to query (default: SIDECAR_METRICS_ADDR, on 127.0.0.1 when it names no host)")
	timeout := durationFlag(fs, "timeout", 3*time.Second, "give up after this long, a `duration`")
	if err := fs.Parse(args); err != nil {
		return parseStatus(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "connect-sidecar healthcheck: unknown argument %q (see connect-sidecar healthcheck --help)\n", fs.Arg(0))
		return exitBadConf
	}
	if *addr == "" {
		cfg, err := config.Load()
		if err != nil {
			printProblems(stderr, "connect-sidecar healthcheck", err)
			return exitBadConf
		}
		*addr = cfg.Metrics.Addr
	}
	path := "/readyz"
	if *live {
		path = "/healthz"
	}
	u := "http://" + localAddr(*addr) + path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(stderr, "connect-sidecar healthcheck: %v\n", err)
		return 1
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "connect-sidecar healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%s %d %s\n", path, resp.StatusCode, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

// localAddr turns a listen address such as ":9400" or "0.0.0.0:9400"
// into one to dial on this host.
func localAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
