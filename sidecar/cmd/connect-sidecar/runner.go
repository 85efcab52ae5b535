package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
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
