// Package health owns what /healthz and /readyz answer. /healthz says the
// process serves; /readyz says the last reconcile cycle reached Connect and
// applied every connector, and that it is recent: a cycle stuck on a hung
// Connect must not leave the last good answer standing. Judging a cycle is
// package reconcile's; this package only keeps and ages the verdict.
package health

import (
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Readiness keeps the latest cycle's verdict. It is safe for concurrent use.
type Readiness struct {
	maxAge time.Duration // a cycle older than this is not ready

	mu     sync.Mutex
	at     time.Time // when the last cycle finished; zero before the first
	ok     bool
	detail string
}

// New returns a Readiness for cycles every interval: one that has not
// finished a cycle in twice that is not ready.
func New(interval time.Duration) *Readiness {
	return &Readiness{maxAge: 2 * interval, detail: "starting"}
}

// Starting records progress before the first cycle.
func (r *Readiness) Starting(detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at.IsZero() {
		r.detail = detail
	}
}

// Cycle records the outcome of a cycle that just finished.
func (r *Readiness) Cycle(ok bool, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.at, r.ok, r.detail = time.Now(), ok, detail
}

// Answer is /readyz's answer now.
func (r *Readiness) Answer() (ready bool, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at.IsZero() {
		return false, "not ready: " + r.detail
	}
	age := time.Since(r.at)
	if age > r.maxAge {
		return false, fmt.Sprintf("not ready: the last reconcile cycle finished %s ago, over twice SIDECAR_RECONCILE_INTERVAL (%s); it said: %s",
			age.Round(time.Second), r.maxAge/2, r.detail)
	}
	if !r.ok {
		return false, "not ready: " + r.detail
	}
	return true, fmt.Sprintf("ready: %s (cycle finished %s ago)", r.detail, age.Round(time.Millisecond))
}

// Register serves /healthz and /readyz on mux.
func (r *Readiness) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, detail := r.Answer()
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, detail)
	})
}
