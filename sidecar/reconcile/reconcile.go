// Package reconcile owns making Kafka Connect's connectors match the desired
// set: create, update only on a real difference, pause/resume/stop, prune
// (when asked), and auto-restart of FAILED connectors and tasks on Strimzi's
// schedule. It decides who writes (the group leader's sidecar, as package
// worker tells), how to back off, and with Run when to cycle and whether a
// cycle leaves the sidecar ready. It does not read connector files (package
// desired) nor speak HTTP itself (package connect).
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/retry"
)

// Connect is what the reconciler needs from Kafka Connect's REST API;
// *connect.Client implements it.
type Connect interface {
	ExpandedAll(ctx context.Context) (map[string]connect.Expanded, error)
	Config(ctx context.Context, name string) (map[string]string, error)
	Status(ctx context.Context, name string) (connect.ConnectorStatus, error)
	Create(ctx context.Context, name string, cfg map[string]string, initialState string) error
	PutConfig(ctx context.Context, name string, cfg map[string]string) (bool, error)
	Delete(ctx context.Context, name string) error
	Pause(ctx context.Context, name string) error
	Resume(ctx context.Context, name string) error
	Stop(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
}

// Metrics receives reconcile outcomes; package metrics implements it.
type Metrics interface {
	ObserveReconcile(connector, outcome string, d time.Duration)
	CountRestart(connector string)
	SetConfigError(connector string, failed bool)
	SetUnmanaged(n int)
}

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) ObserveReconcile(string, string, time.Duration) {}
func (NopMetrics) CountRestart(string)                            {}
func (NopMetrics) SetConfigError(string, bool)                    {}
func (NopMetrics) SetUnmanaged(int)                               {}

// Outcomes of one connector in one cycle.
const (
	OutcomeUnchanged = "unchanged"
	OutcomeCreated   = "created"
	OutcomeUpdated   = "updated"
	OutcomePaused    = "paused"
	OutcomeResumed   = "resumed"
	OutcomeStopped   = "stopped"
	OutcomeRestarted = "restarted"
	OutcomeDeleted   = "deleted"
	OutcomeNotLeader = "not_leader" // a change is due but another sidecar writes
	OutcomeInvalid   = "invalid"    // Connect answered 400; held until the file changes
	OutcomeBackoff   = "backoff"    // failed earlier; waiting before trying again
	OutcomeError     = "error"      // retries exhausted this cycle
	OutcomeFileError = "file_error" // the connector's file is bad
)

// Leadership says whether this sidecar's worker leads the Connect group.
// known is false while the leader cannot be determined (a rebalance, the
// metrics endpoint down); every sidecar may then write, after a random delay.
// *worker.Leader is one.
type Leadership interface {
	IsLeader() (leader bool, known bool)
}

// Always is a Leadership for a single sidecar that always writes.
type Always struct{}

// IsLeader reports a known leader: this one.
func (Always) IsLeader() (bool, bool) { return true, true }

// Options tune a Reconciler. Zero values take the defaults shown.
type Options struct {
	// Config gives Prune, AutoRestart, MaxRestarts (0: no limit) and
	// WriteJitter, the largest delay before writing while the leader is
	// unknown; Run reads the intervals and the shutdown grace from it.
	Config
	// Leadership says whether this sidecar may write; nil is Always.
	Leadership Leadership
	// Metrics receives the outcomes; nil is NopMetrics.
	Metrics Metrics
	// Logger receives the changes made and the failures, each failure
	// logged once until it changes; nil discards.
	Logger *slog.Logger
	// Now is the clock of the restart schedule and the failure backoff;
	// nil is time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (nil: retry.Wait); tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error

	// ConflictRetries is how many answers a rebalance explains (a 409, or
	// the 500 of a read while one is pending) are retried per connector per
	// cycle; 0 or less is 6.
	ConflictRetries int
	// ServerRetries is how many other 5xx answers and transport errors are
	// retried per connector per cycle; 0 or less is 2.
	ServerRetries int
	// RetryBase is the first retry delay within a cycle, doubled per
	// retry; 0 or less is 200ms.
	RetryBase time.Duration
	// RetryMax caps the retry delay within a cycle; 0 or less is 5s.
	RetryMax time.Duration
	// FailureBackoff is the first wait, across cycles, before a connector
	// whose retries ran out is tried again, doubled per failure; 0 or less
	// is 30s.
	FailureBackoff time.Duration
	// FailureMax caps the wait across cycles; 0 or less is 10m.
	FailureMax time.Duration
}

// Reconciler converges Connect to desired sets. Cycle calls must not overlap.
type Reconciler struct {
	c    Connect
	opts Options
	log  *slog.Logger

	// retryDelay spaces the retries of one request within a cycle,
	// failureDelay the cycles a failed connector waits out, and writeDelay
	// is the wait before writing while the leader is unknown.
	retryDelay, failureDelay, writeDelay retry.Backoff

	mu        sync.Mutex
	blocked   map[string]blockedState // connectors Connect refused with 400
	failures  map[string]failState
	restarts  map[string]*restartState
	lastErr   map[string]string // connector or file -> last logged error, to log changes once
	unmanaged string
}

type blockedState struct {
	digest string
	err    error
}

type failState struct {
	n    int
	next time.Time
}

// New returns a Reconciler writing through c.
func New(c Connect, opts Options) *Reconciler {
	if opts.Leadership == nil {
		opts.Leadership = Always{}
	}
	if opts.Metrics == nil {
		opts.Metrics = NopMetrics{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = retry.Wait
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.RetryBase, 200*time.Millisecond)
	def(&opts.RetryMax, 5*time.Second)
	def(&opts.FailureBackoff, 30*time.Second)
	def(&opts.FailureMax, 10*time.Minute)
	if opts.ConflictRetries <= 0 {
		opts.ConflictRetries = 6
	}
	if opts.ServerRetries <= 0 {
		opts.ServerRetries = 2
	}
	return &Reconciler{
		c: c, opts: opts, log: opts.Logger,
		// Jitter within a cycle: sidecars refused together (a rebalance)
		// do not retry together.
		retryDelay:   retry.Backoff{Initial: opts.RetryBase, Max: opts.RetryMax, Jitter: retry.EqualJitter},
		failureDelay: retry.Backoff{Initial: opts.FailureBackoff, Max: opts.FailureMax},
		writeDelay:   retry.Backoff{Initial: opts.WriteJitter, Jitter: retry.FullJitter},

		blocked:  map[string]blockedState{},
		failures: map[string]failState{},
		restarts: map[string]*restartState{},
		lastErr:  map[string]string{},
	}
}

// ConnectorError is Connect refusing or failing a change to one connector.
type ConnectorError struct {
	// Connector is the connector's name.
	Connector string
	// File is the connector file that declares it; empty for a pruned
	// connector, which no file names.
	File string
	// Op is what failed: create, update, pause, resume, stop, restart,
	// delete or read.
	Op string
	// Err is the cause: a *connect.Error when Connect answered.
	Err error
}

func (e *ConnectorError) Error() string {
	var ce *connect.Error
	msg := e.Err.Error()
	if errors.As(e.Err, &ce) && ce.Status > 0 {
		msg = fmt.Sprintf("Connect answered %d: %s", ce.Status, ce.Message)
	}
	if e.File != "" {
		return fmt.Sprintf("%s: connector %s: %s: %s", e.File, e.Connector, e.Op, msg)
	}
	return fmt.Sprintf("connector %s: %s: %s", e.Connector, e.Op, msg)
}

func (e *ConnectorError) Unwrap() error { return e.Err }

// Report is the result of one cycle.
type Report struct {
	// Reached is true when Connect answered the listing of connectors;
	// when false, no connector was compared or written.
	Reached bool
	// Applied is true when Reached, no connector failed in the cycle other
	// than those Connect refused with a 400 (held until their file
	// changes), and the cycle was not cut short by its context.
	Applied bool
	// Outcomes is each connector's Outcome* value, by connector name,
	// including connectors deleted by Prune.
	Outcomes map[string]string
	// Errors are the cycle's failures: *desired.FileError,
	// *ConnectorError, or the listing's error when not Reached.
	Errors []error
	// Unmanaged are the connectors in Connect that no file names and that
	// were not deleted, sorted.
	Unmanaged []string
	// Writes counts the changes Connect accepted in the cycle (creates,
	// config updates, state changes, deletes); restarts are not counted.
	Writes int
	// Restarts counts the auto-restarts made in the cycle.
	Restarts int
	// Leader and Known are the cycle's Leadership answer: Leader is
	// whether this sidecar leads the Connect group, meaningful only when
	// Known.
	Leader bool
	// Known is false while the leader could not be determined; every
	// sidecar then writes, after the write jitter.
	Known bool
	// Statuses are every connector's status as the cycle's listing saw
	// them, before any write of the cycle; nil when Connect was not reached.
	Statuses map[string]connect.ConnectorStatus
}

// cycle carries one cycle's state.
type cycle struct {
	leader, known bool
	jittered      bool
	rep           *Report
}

// Cycle reconciles once against the desired set.
func (r *Reconciler) Cycle(ctx context.Context, set desired.Set) Report {
	rep := Report{Outcomes: map[string]string{}}
	leader, known := r.opts.Leadership.IsLeader()
	rep.Leader, rep.Known = leader, known
	cy := &cycle{leader: leader, known: known, rep: &rep}

	for _, fe := range set.Errors {
		rep.Errors = append(rep.Errors, fe)
		r.logOnce(fe.File, fe.Error(), "connector file is not applied", "file", fe.File, "connector", fe.Connector, "error", fe.Err.Error())
		if fe.Connector != "" {
			rep.Outcomes[fe.Connector] = OutcomeFileError
			r.opts.Metrics.SetConfigError(fe.Connector, true)
		}
	}

	var actual map[string]connect.Expanded
	err := r.retry(ctx, func(ctx context.Context) error {
		var err error
		actual, err = r.c.ExpandedAll(ctx)
		return err
	})
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Errorf("list connectors: %w", err))
		r.logOnce("", err.Error(), "cannot list connectors", "error", err.Error())
		return rep
	}
	rep.Reached = true
	rep.Statuses = make(map[string]connect.ConnectorStatus, len(actual))
	for name, a := range actual {
		rep.Statuses[name] = a.Status
	}
	r.clearLog("")
	applied := true

	for _, d := range set.Connectors {
		if ctx.Err() != nil {
			applied = false
			break
		}
		start := r.opts.Now()
		a, exists := actual[d.Name]
		outcome, err := r.one(ctx, cy, d, a, exists)
		if err != nil {
			rep.Errors = append(rep.Errors, err)
			if outcome != OutcomeInvalid {
				applied = false
			}
		}
		rep.Outcomes[d.Name] = outcome
		r.opts.Metrics.ObserveReconcile(d.Name, outcome, r.opts.Now().Sub(start))
	}

	r.handleUnmanaged(ctx, cy, set, actual)
	if !applied {
		rep.Applied = false
	} else {
		rep.Applied = ctx.Err() == nil
	}
	return rep
}

// one reconciles a single connector and returns its outcome.
func (r *Reconciler) one(ctx context.Context, cy *cycle, d desired.Connector, a connect.Expanded, exists bool) (string, error) {
	now := r.opts.Now()
	r.mu.Lock()
	if b, ok := r.blocked[d.Name]; ok {
		if b.digest == d.Digest {
			r.mu.Unlock()
			return OutcomeInvalid, b.err
		}
		delete(r.blocked, d.Name)
	}
	fs := r.failures[d.Name]
	r.mu.Unlock()
	if now.Before(fs.next) {
		return OutcomeBackoff, nil
	}

	outcome, op, err := r.converge(ctx, cy, d, a.Info.Config, exists, a.Status)
	if err == nil {
		r.mu.Lock()
		delete(r.failures, d.Name)
		r.mu.Unlock()
		r.opts.Metrics.SetConfigError(d.Name, false)
		r.clearLog(d.Name)
		if outcome == OutcomeUnchanged && exists && r.opts.AutoRestart {
			return r.autoRestart(ctx, cy, d, a.Status)
		}
		return outcome, nil
	}
	cerr := &ConnectorError{Connector: d.Name, File: d.File, Op: op, Err: err}
	r.opts.Metrics.SetConfigError(d.Name, true)
	if connect.IsBadRequest(err) {
		r.mu.Lock()
		r.blocked[d.Name] = blockedState{digest: d.Digest, err: cerr}
		r.mu.Unlock()
		r.logOnce(d.Name, cerr.Error(), "Connect refused the connector config; not retried until its file changes",
			"connector", d.Name, "file", d.File, "error", cerr.Error())
		return OutcomeInvalid, cerr
	}
	fs.n++
	wait := r.failureDelay.Delay(fs.n)
	fs.next = now.Add(wait)
	r.mu.Lock()
	r.failures[d.Name] = fs
	r.mu.Unlock()
	r.logOnce(d.Name, cerr.Error(), "connector not reconciled; trying again later",
		"connector", d.Name, "file", d.File, "error", cerr.Error(), "retry_in", wait.String())
	return OutcomeError, cerr
}

// converge makes one connector's config and state match, reading again
// before each retry so that a write is never made on stale knowledge.
func (r *Reconciler) converge(ctx context.Context, cy *cycle, d desired.Connector, cfg map[string]string, exists bool, st connect.ConnectorStatus) (string, string, error) {
	budget := retries{r: r}
	fresh := false
	stateKnown := exists
	for {
		op, act := r.decide(d, cfg, exists, st, stateKnown)
		if act == nil {
			return OutcomeUnchanged, op, nil
		}
		if cy.known && !cy.leader {
			return OutcomeNotLeader, op, nil
		}
		var err error
		if !cy.known && !fresh {
			// Look again before writing, after the cycle's wait.
			if err := r.jitter(ctx, cy); err != nil {
				return OutcomeError, op, err
			}
		} else {
			outcome := ""
			outcome, err = act(ctx)
			if err == nil {
				cy.rep.Writes++
				r.log.Info("connector "+outcome, "connector", d.Name, "file", d.File)
				// One write per connector per cycle: a state change after a
				// config write is the next cycle's, which sees the new status.
				return outcome, op, nil
			}
			if ctx.Err() != nil {
				return OutcomeError, op, err
			}
			switch {
			case connect.IsBadRequest(err):
				return OutcomeInvalid, op, err
			case connect.IsRetryable(err) || connect.IsNotFound(err):
				if err := budget.wait(ctx, err); err != nil {
					return OutcomeError, op, err
				}
			default:
				return OutcomeError, op, err
			}
		}
		// Read again: the connector, its config and its state may have moved.
		fresh = true
		got, rerr := r.c.Config(ctx, d.Name)
		switch {
		case rerr == nil:
			cfg, exists = got, true
			// A failure to read the state only means the state step waits
			// for the next cycle.
			st2, serr := r.c.Status(ctx, d.Name)
			st, stateKnown = st2, serr == nil
		case connect.IsNotFound(rerr):
			cfg, exists, stateKnown = nil, false, false
		default:
			if err := budget.wait(ctx, rerr); err != nil {
				return OutcomeError, "read", err
			}
			fresh = false
			cy.jittered = true
		}
	}
}

// decide returns the next action: create, update, or a state change.
func (r *Reconciler) decide(d desired.Connector, cfg map[string]string, exists bool, st connect.ConnectorStatus, stateKnown bool) (string, func(context.Context) (string, error)) {
	if !exists {
		initial := ""
		if d.State == desired.StatePaused || d.State == desired.StateStopped {
			initial = d.State
		}
		return "create", func(ctx context.Context) (string, error) {
			return OutcomeCreated, r.c.Create(ctx, d.Name, maps.Clone(d.Config), initial)
		}
	}
	if !maps.Equal(cfg, d.Config) {
		return "update", func(ctx context.Context) (string, error) {
			_, err := r.c.PutConfig(ctx, d.Name, maps.Clone(d.Config))
			return OutcomeUpdated, err
		}
	}
	if d.State == "" || !stateKnown {
		return "", nil
	}
	cur := st.Connector.State
	switch {
	case d.State == desired.StateRunning && (cur == connect.StatePaused || cur == connect.StateStopped):
		return "resume", func(ctx context.Context) (string, error) { return OutcomeResumed, r.c.Resume(ctx, d.Name) }
	case d.State == desired.StatePaused && (cur == connect.StateRunning || cur == connect.StateStopped):
		return "pause", func(ctx context.Context) (string, error) { return OutcomePaused, r.c.Pause(ctx, d.Name) }
	case d.State == desired.StateStopped && (cur == connect.StateRunning || cur == connect.StatePaused || cur == connect.StateFailed):
		return "stop", func(ctx context.Context) (string, error) { return OutcomeStopped, r.c.Stop(ctx, d.Name) }
	}
	return "", nil
}

// jitter waits a random while, at most WriteJitter and once per cycle,
// before the first write made while the leader is unknown: another sidecar
// may be about to make the same write.
func (r *Reconciler) jitter(ctx context.Context, cy *cycle) error {
	if cy.known || cy.jittered || r.opts.WriteJitter <= 0 {
		return nil
	}
	cy.jittered = true
	return r.opts.Sleep(ctx, r.writeDelay.Delay(1))
}

// retries counts the retries of one operation in one cycle: 409s against
// ConflictRetries, every other failure (5xx, no answer, 404) against
// ServerRetries.
type retries struct {
	r                  *Reconciler
	conflicts, servers int
}

// wait counts err and sleeps the backoff before the next attempt. It
// returns err when the bound of its kind is spent, or the sleep's error
// when ctx ends.
func (b *retries) wait(ctx context.Context, err error) error {
	if connect.IsRebalance(err) {
		b.conflicts++
	} else {
		b.servers++
	}
	if b.conflicts > b.r.opts.ConflictRetries || b.servers > b.r.opts.ServerRetries {
		return err
	}
	return b.r.opts.Sleep(ctx, b.r.retryDelay.Delay(b.conflicts+b.servers))
}

// retry runs a request with the cycle's retry bounds.
func (r *Reconciler) retry(ctx context.Context, fn func(context.Context) error) error {
	budget := retries{r: r}
	for {
		err := fn(ctx)
		if err == nil || !connect.IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		if err := budget.wait(ctx, err); err != nil {
			return err
		}
	}
}

// autoRestart restarts a FAILED connector or its FAILED tasks on Strimzi's
// schedule and resets the count once it has run longer than the next delay.
func (r *Reconciler) autoRestart(ctx context.Context, cy *cycle, d desired.Connector, st connect.ConnectorStatus) (string, error) {
	now := r.opts.Now()
	failed := failedParts(st)
	r.mu.Lock()
	rs := r.restarts[d.Name]
	if rs == nil {
		rs = &restartState{}
		r.restarts[d.Name] = rs
	}
	if len(failed) == 0 {
		if rs.count > 0 && now.Sub(rs.last) > restartDelay(rs.count) {
			rs.count, rs.gaveUp = 0, false
		}
		r.mu.Unlock()
		return OutcomeUnchanged, nil
	}
	if r.opts.MaxRestarts > 0 && rs.count >= r.opts.MaxRestarts {
		first := !rs.gaveUp
		rs.gaveUp = true
		r.mu.Unlock()
		if first {
			r.log.Error("connector still FAILED after the most restarts allowed (SIDECAR_MAX_RESTARTS); not restarting again",
				"connector", d.Name, "restarts", rs.count, "failed", describe(failed))
		}
		return OutcomeUnchanged, nil
	}
	due := rs.count == 0 || !now.Before(rs.last.Add(restartDelay(rs.count)))
	r.mu.Unlock()
	if !due {
		return OutcomeUnchanged, nil
	}
	if cy.known && !cy.leader {
		return OutcomeNotLeader, nil
	}
	if err := r.jitter(ctx, cy); err != nil {
		return OutcomeError, err
	}
	if err := r.retry(ctx, func(ctx context.Context) error { return r.c.Restart(ctx, d.Name) }); err != nil {
		cerr := &ConnectorError{Connector: d.Name, File: d.File, Op: "restart", Err: err}
		r.logOnce(d.Name, cerr.Error(), "restart failed", "connector", d.Name, "error", cerr.Error())
		return OutcomeError, cerr
	}
	r.mu.Lock()
	rs.count++
	rs.last = now
	n := rs.count
	r.mu.Unlock()
	cy.rep.Restarts++
	r.opts.Metrics.CountRestart(d.Name)
	for _, f := range failed {
		r.log.Warn("restarted FAILED "+f.part, "connector", d.Name, "worker", f.worker, "trace", f.trace,
			"restart", n, "next_restart_after", restartDelay(n).String())
	}
	return OutcomeRestarted, nil
}

func describe(fs []failure) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, f.part+": "+f.trace)
	}
	return strings.Join(parts, "; ")
}

// handleUnmanaged reports connectors no file names and prunes them when
// asked, but only from a complete, non-empty desired set.
func (r *Reconciler) handleUnmanaged(ctx context.Context, cy *cycle, set desired.Set, actual map[string]connect.Expanded) {
	want := map[string]bool{}
	for _, d := range set.Connectors {
		want[d.Name] = true
	}
	for _, h := range set.Held {
		want[h] = true
	}
	var extra []string
	for name := range actual {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	canPrune := r.opts.Prune && set.Complete() && len(set.Connectors) > 0 && (!cy.known || cy.leader)
	if canPrune && len(extra) > 0 {
		var kept []string
		for _, name := range extra {
			if r.jitter(ctx, cy) != nil {
				kept = append(kept, name)
				continue
			}
			err := r.retry(ctx, func(ctx context.Context) error { return r.c.Delete(ctx, name) })
			if err != nil && !connect.IsNotFound(err) {
				cy.rep.Errors = append(cy.rep.Errors, &ConnectorError{Connector: name, Op: "delete", Err: err})
				kept = append(kept, name)
				continue
			}
			cy.rep.Writes++
			cy.rep.Outcomes[name] = OutcomeDeleted
			r.log.Info("connector deleted (SIDECAR_PRUNE)", "connector", name)
		}
		extra = kept
	}
	cy.rep.Unmanaged = extra
	r.opts.Metrics.SetUnmanaged(len(extra))
	key := strings.Join(extra, ",")
	r.mu.Lock()
	changed := key != r.unmanaged
	r.unmanaged = key
	r.mu.Unlock()
	if changed && len(extra) > 0 {
		r.log.Warn("connectors in Connect that no file names", "connectors", slices.Clone(extra), "prune", r.opts.Prune)
	}
}

// logOnce logs an error when it differs from the last one logged for key,
// so that a bad file is reported once rather than every cycle.
func (r *Reconciler) logOnce(key, msg, text string, args ...any) {
	r.mu.Lock()
	same := r.lastErr[key] == msg
	r.lastErr[key] = msg
	r.mu.Unlock()
	if !same {
		r.log.Error(text, args...)
	}
}

func (r *Reconciler) clearLog(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.lastErr, key)
}
