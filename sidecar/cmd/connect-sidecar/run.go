package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/reconcile"
	"github.com/mm2-fargate/mm2-ecs/sidecar/source"
)

// runner supervises the long-running components of `run`: each gets the
// same context, the first to fail stops the others, and every component may
// register handlers on the shared mux served at SIDECAR_METRICS_ADDR.
type runner struct {
	mux        *http.ServeMux
	components []component
}

type component struct {
	name string
	run  func(ctx context.Context) error
}

func (r *runner) add(name string, run func(ctx context.Context) error) {
	r.components = append(r.components, component{name, run})
}

// run starts every component and waits for all of them. A component that
// returns while ctx is live (with or without an error) stops the others.
func (r *runner) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(r.components))
	for i, c := range r.components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", c.name, err)
				errs[i] = err
			}
			if ctx.Err() == nil {
				if err == nil {
					err = fmt.Errorf("%s stopped", c.name)
				}
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// health is what /healthz and /readyz answer from.
type health struct {
	mu        sync.Mutex
	reachable bool
	applied   bool
	detail    string
}

func (h *health) set(reachable, applied bool, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reachable, h.applied, h.detail = reachable, applied, detail
}

func (h *health) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		h.mu.Lock()
		ok, detail := h.reachable && h.applied, h.detail
		h.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, detail)
	})
}

func runRun(ctx context.Context, _ []string, _, stderr io.Writer) int {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "connect-sidecar run: %v\n", err)
		return 2
	}
	log := cfg.Logger(stderr)
	if cfg.ConnectorsURI == "" {
		log.Error("SIDECAR_CONNECTORS_URI is not set: nothing to reconcile")
		return 2
	}
	client, err := connect.New(cfg.Connect, nil)
	if err != nil {
		log.Error("connect client", "error", err.Error())
		return 2
	}
	reader := source.New(source.Options{MaxBytes: cfg.MaxObjectBytes, Deadline: cfg.FetchDeadline})
	loader, err := desired.NewLoader(reader, cfg.ConnectorsURI)
	if err != nil {
		log.Error("connector files", "error", err.Error())
		return 2
	}
	r := &runner{mux: http.NewServeMux()}
	h := &health{detail: "starting"}
	h.register(r.mux)
	rec := reconcile.New(client, reconcile.Options{
		Prune:       cfg.Prune,
		AutoRestart: cfg.AutoRestart,
		MaxRestarts: cfg.MaxRestarts,
		WriteJitter: cfg.WriteJitter,
		Leadership:  reconcile.Unknown{},
		Logger:      log,
	})
	r.add("http", func(ctx context.Context) error { return serveHTTP(ctx, cfg.MetricsAddr, r.mux, log) })
	r.add("reconcile", func(ctx context.Context) error {
		return reconcileLoop(ctx, cfg.Reconcile, client, loader, rec, h, log)
	})
	if err := r.run(ctx); err != nil {
		log.Error("stopped", "error", err.Error())
		return 1
	}
	log.Info("stopped")
	return 0
}

func serveHTTP(ctx context.Context, addr string, mux *http.ServeMux, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s (SIDECAR_METRICS_ADDR): %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving /healthz and /readyz", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// graceful returns a context that outlives ctx by grace, so that a request
// under way when SIGTERM arrives may finish, and is abandoned after that.
func graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-work.Done():
		}
	})
	return work, func() { stop(); cancel() }
}

func waitForConnect(ctx context.Context, client *connect.Client, log *slog.Logger) error {
	delay := 500 * time.Millisecond
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := client.Ping(ctx)
		if err == nil {
			log.Info("Connect REST is up", "url", client.BaseURL(), "after", time.Since(start).Round(time.Millisecond).String())
			return nil
		}
		log.Info("waiting for Connect REST", "url", client.BaseURL(), "attempt", attempt, "error", err.Error())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 15*time.Second)
	}
}

func reconcileLoop(ctx context.Context, cfg config.Reconcile, client *connect.Client, loader *desired.Loader,
	rec *reconcile.Reconciler, h *health, log *slog.Logger) error {
	if err := waitForConnect(ctx, client, log); err != nil || ctx.Err() != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	go func() {
		if err := loader.Watch(ctx, desired.WatchOptions{PollInterval: cfg.PollInterval}, changed); err != nil {
			log.Warn("not watching connector files; relying on SIDECAR_RECONCILE_INTERVAL", "uri", loader.URI(), "error", err.Error())
		}
	}()
	tick := time.NewTicker(cfg.ReconcileInterval)
	defer tick.Stop()
	var last desired.Set
	haveSet := false
	for {
		work, cancel := graceful(ctx, cfg.ShutdownGrace)
		set, err := loader.Load(work)
		switch {
		case err == nil:
			last, haveSet = set, true
		case haveSet:
			log.Warn("cannot list connector files; keeping the last good set", "uri", loader.URI(), "error", err.Error())
		default:
			log.Error("cannot list connector files", "uri", loader.URI(), "error", err.Error())
		}
		if haveSet {
			rep := rec.Cycle(work, last)
			detail := fmt.Sprintf("connect reachable: %v, applied: %v, connectors: %d, errors: %d",
				rep.Reached, rep.Applied, len(last.Connectors), len(rep.Errors))
			h.set(rep.Reached, rep.Applied, detail)
		} else {
			h.set(client.Ping(work) == nil, false, "connector files unreadable")
		}
		cancel()
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}
