package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/reconcile"
)

// runner supervises the long-running components of `run`: each gets the
// same context, the first to fail stops the others, and every component may
// register handlers on the shared mux served at SIDECAR_METRICS_ADDR.
type runner struct {
	mux        *http.ServeMux
	components []component
	// stopWithin bounds how long run waits for the components once ctx
	// ends (0: no bound). A component still running then is reported by
	// name and left behind, so that the process exits before ECS's
	// stopTimeout turns the stop into a SIGKILL.
	stopWithin time.Duration
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
	var mu sync.Mutex
	errs := make([]error, len(r.components))
	finished := make([]bool, len(r.components))
	for i, c := range r.components {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.run(ctx)
			if err != nil {
				err = fmt.Errorf("%s: %w", c.name, err)
			}
			mu.Lock()
			errs[i], finished[i] = err, true
			mu.Unlock()
			if ctx.Err() == nil {
				if err == nil {
					err = fmt.Errorf("%s stopped", c.name)
				}
				cancel(err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-r.stopped(ctx):
		mu.Lock()
		defer mu.Unlock()
		var late []string
		for i, c := range r.components {
			if !finished[i] {
				late = append(late, c.name)
			}
		}
		return errors.Join(append(slices.Clone(errs), fmt.Errorf("still running %s after the stop began: %s", r.stopWithin, strings.Join(late, ", ")))...)
	}
	return errors.Join(errs...)
}

// stopped is closed stopWithin after ctx ends; never without a bound.
func (r *runner) stopped(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	if r.stopWithin <= 0 {
		return ch
	}
	context.AfterFunc(ctx, func() { time.AfterFunc(r.stopWithin, func() { close(ch) }) })
	return ch
}

// health is what /healthz and /readyz answer from. /healthz says the
// process serves; /readyz says the last reconcile cycle reached Connect
// and applied every connector, and that it is recent: a cycle stuck on a
// hung Connect must not leave the last good answer standing.
type health struct {
	maxAge time.Duration    // a cycle older than this is not ready
	now    func() time.Time // nil: time.Now

	mu     sync.Mutex
	cycled bool      // a cycle has finished
	at     time.Time // when the last cycle finished
	ok     bool
	detail string
}

func newHealth(interval time.Duration) *health {
	return &health{maxAge: 2 * interval, detail: "starting"}
}

func (h *health) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// starting records progress before the first cycle.
func (h *health) starting(detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.cycled {
		h.detail = detail
	}
}

// cycle records the outcome of a cycle that just finished.
func (h *health) cycle(ok bool, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cycled, h.at, h.ok, h.detail = true, h.clock(), ok, detail
}

// readiness is /readyz's answer now.
func (h *health) readiness() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.cycled {
		return false, "not ready: " + h.detail
	}
	age := h.clock().Sub(h.at)
	if age > h.maxAge {
		return false, fmt.Sprintf("not ready: the last reconcile cycle finished %s ago, over twice SIDECAR_RECONCILE_INTERVAL (%s); it said: %s",
			age.Round(time.Second), h.maxAge/2, h.detail)
	}
	if !h.ok {
		return false, "not ready: " + h.detail
	}
	return true, fmt.Sprintf("ready: %s (cycle finished %s ago)", h.detail, age.Round(time.Millisecond))
}

func (h *health) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, detail := h.readiness()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, detail)
	})
}

// appliedOutcomes are the outcomes after which a connector is as its file
// says (or, restarted, on its way back from FAILED).
var appliedOutcomes = []string{
	reconcile.OutcomeUnchanged, reconcile.OutcomeCreated, reconcile.OutcomeUpdated,
	reconcile.OutcomePaused, reconcile.OutcomeResumed, reconcile.OutcomeStopped,
	reconcile.OutcomeRestarted, reconcile.OutcomeDeleted,
}

// maxListed bounds the names /readyz lists, so that its body stays short
// with a thousand connectors failing.
const maxListed = 10

// judge turns one cycle's report into readiness: Connect answered, every
// file is good and every connector ended the cycle applied. The body names
// what is not, without error texts, which may quote config values.
func judge(set desired.Set, rep reconcile.Report) (bool, string) {
	if !rep.Reached {
		return false, fmt.Sprintf("Connect REST did not answer the listing; %d connectors not applied", len(set.Connectors))
	}
	var pending []string
	for _, c := range set.Connectors {
		outcome, seen := rep.Outcomes[c.Name]
		if !seen {
			outcome = "not reached"
		}
		if !slices.Contains(appliedOutcomes, outcome) {
			pending = append(pending, c.Name+" ("+outcome+")")
		}
	}
	var reasons []string
	if len(pending) > 0 {
		reasons = append(reasons, fmt.Sprintf("%d of %d connectors not applied: %s", len(pending), len(set.Connectors), list(pending)))
	}
	if len(set.Errors) > 0 {
		files := make([]string, 0, len(set.Errors))
		for _, fe := range set.Errors {
			files = append(files, fe.File)
		}
		reasons = append(reasons, fmt.Sprintf("%d connector files not applied: %s", len(files), list(files)))
	}
	if len(reasons) == 0 && !rep.Applied {
		reasons = append(reasons, "the cycle ended before every connector was applied")
	}
	if len(reasons) > 0 {
		return false, "connect reachable; " + strings.Join(reasons, "; ")
	}
	return true, fmt.Sprintf("connect reachable, %d connectors applied", len(set.Connectors))
}

func list(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}
