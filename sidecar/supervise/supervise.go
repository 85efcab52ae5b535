// Package supervise runs the sidecar's long-lived parts side by side and
// stops them in time: the first part to end stops the others, work under
// way when the stop begins gets a grace period, and a part still running
// past the stop's bound is named and left behind so that the process exits
// before ECS turns the stop into a SIGKILL. It does not know what the parts do.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// StopMargin is how long after the shutdown grace the process may take to
// exit: answering the last scrapes, closing clients. The grace plus this
// margin must stay well inside the task definition's stopTimeout.
const StopMargin = time.Second

// Group runs parts together. The zero value is ready to use.
type Group struct {
	// StopWithin bounds how long Run waits for the parts once its context
	// ends (0: no bound).
	StopWithin time.Duration

	parts []part
}

type part struct {
	name string
	run  func(ctx context.Context) error
}

// Add registers a part; name labels its errors and a late stop.
func (g *Group) Add(name string, run func(ctx context.Context) error) {
	g.parts = append(g.parts, part{name, run})
}

// Run starts every part and waits for all of them. A part that returns
// while ctx is live (with or without an error) stops the others.
func (g *Group) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := make([]error, len(g.parts))
	finished := make([]bool, len(g.parts))
	for i, p := range g.parts {
		wg.Go(func() {
			err := p.run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", p.name, err)
			}
			mu.Lock()
			errs[i], finished[i] = err, true
			mu.Unlock()
			if ctx.Err() == nil {
				if err == nil {
					err = fmt.Errorf("%s stopped", p.name)
				}
				cancel(err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-g.stopped(ctx):
		mu.Lock()
		defer mu.Unlock()
		var late []string
		for i, p := range g.parts {
			if !finished[i] {
				late = append(late, p.name)
			}
		}
		return errors.Join(append(slices.Clone(errs), fmt.Errorf("still running %s after the stop began: %s", g.StopWithin, strings.Join(late, ", ")))...)
	}
	return errors.Join(errs...)
}

// stopped is closed StopWithin after ctx ends; never without a bound.
func (g *Group) stopped(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	if g.StopWithin <= 0 {
		return ch
	}
	context.AfterFunc(ctx, func() { time.AfterFunc(g.StopWithin, func() { close(ch) }) })
	return ch
}

// Graceful returns a context that outlives ctx by grace, so that a request
// under way when the stop begins may finish, and is abandoned after that.
func Graceful(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
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

// ServeHTTP serves h on addr until ctx ends. Requests under way then get
// half the exit margin; after that their connections are closed, so that
// they cannot hold the process past the stop.
func ServeHTTP(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	log.Info("serving /metrics, /healthz and /readyz", "addr", ln.Addr().String())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), StopMargin/2)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		_ = srv.Close()
	}
	return nil
}
