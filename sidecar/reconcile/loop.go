package reconcile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/supervise"
)

// Progress receives what the loop is doing before its first cycle and the
// verdict of every cycle; *health.Readiness is one.
type Progress interface {
	Starting(detail string)
	Cycle(ready bool, detail string)
}

// Files is where the desired connectors come from; *desired.Loader is one.
type Files interface {
	URI() string
	Load(ctx context.Context) (desired.Set, error)
	Watch(ctx context.Context, opts desired.WatchOptions, changed chan<- struct{}) error
}

// RunOptions are what Run needs beside the Reconciler; the intervals and
// the shutdown grace come from Options.Config.
type RunOptions struct {
	// WaitForConnect blocks until Connect REST answers or ctx ends
	// ((*connect.Client).Wait); nil: no wait.
	WaitForConnect func(ctx context.Context) error
	// WaitForLeader blocks, within its own bound, until the Connect group
	// leader is known, and says whether it is ((*worker.Leader).Await);
	// nil: no wait. Sidecars that start together would otherwise all
	// write at once while none knows the leader.
	WaitForLeader func(ctx context.Context) bool
	// Progress hears the loop's state; nil: nobody.
	Progress Progress
	// OnCycle sees every cycle's report; nil: nobody.
	OnCycle func(Report)
}

// Run drives the Reconciler until ctx ends: once Connect answers, a cycle
// on every change of the connector files and every interval. A listing of
// the files that fails keeps the last good set. Requests under way when ctx
// ends get the shutdown grace to finish.
func (r *Reconciler) Run(ctx context.Context, files Files, o RunOptions) error {
	progress := o.Progress
	if progress == nil {
		progress = noProgress{}
	}
	progress.Starting("waiting for Connect REST")
	if o.WaitForConnect != nil {
		if err := o.WaitForConnect(ctx); err != nil || ctx.Err() != nil {
			return err
		}
	}
	if o.WaitForLeader != nil {
		progress.Starting("waiting for the Connect group leader to be known")
		if !o.WaitForLeader(ctx) && ctx.Err() == nil {
			r.log.Warn("the Connect group leader is not known; writing after a random delay (SIDECAR_WRITE_JITTER) until it is",
				"check", "that the worker's JMX exporter (SIDECAR_JMX_URL) exports kafka_connect_worker_rebalance_leader (the worker rebalance leader-name)")
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	changed := make(chan struct{}, 1)
	go func() {
		if err := files.Watch(ctx, desired.WatchOptions{PollInterval: r.opts.PollInterval}, changed); err != nil {
			r.log.Warn("not watching connector files; relying on SIDECAR_RECONCILE_INTERVAL", "uri", files.URI(), "error", err.Error())
		}
	}()
	tick := time.NewTicker(r.opts.Interval)
	defer tick.Stop()
	// One grace period from the signal for the whole loop: requests under
	// way may finish within it, and no cycle begun after it gets a fresh
	// one.
	work, cancel := supervise.Graceful(ctx, r.opts.ShutdownGrace)
	defer cancel()
	var last desired.Set
	haveSet := false
	progress.Starting("reading connector files")
	for {
		// A tick or a change may be pending next to ctx.Done(), and select
		// picks among ready cases at random: check before new work.
		if ctx.Err() != nil {
			return nil
		}
		set, err := files.Load(work)
		switch {
		case err == nil:
			last, haveSet = set, true
		case haveSet:
			r.log.Warn("cannot list connector files; keeping the last good set", "uri", files.URI(), "error", err.Error())
		default:
			r.log.Error("cannot list connector files", "uri", files.URI(), "error", err.Error())
		}
		if ctx.Err() != nil {
			return nil
		}
		if haveSet {
			rep := r.Cycle(work, last)
			if o.OnCycle != nil {
				o.OnCycle(rep)
			}
			progress.Cycle(rep.Ready(last))
		} else {
			progress.Cycle(false, "cannot list the connector files under "+files.URI()+" (see the log)")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-tick.C:
		}
	}
}

type noProgress struct{}

func (noProgress) Starting(string)    {}
func (noProgress) Cycle(bool, string) {}

// appliedOutcomes are the outcomes after which a connector is as its file
// says (or, restarted, on its way back from FAILED).
var appliedOutcomes = []string{
	OutcomeUnchanged, OutcomeCreated, OutcomeUpdated,
	OutcomePaused, OutcomeResumed, OutcomeStopped,
	OutcomeRestarted, OutcomeDeleted,
}

// maxListed bounds the names a verdict lists, so that /readyz stays short
// with a thousand connectors failing.
const maxListed = 10

// Ready judges the cycle that reported rep for set: Connect answered, every
// file is good and every connector ended the cycle applied. The detail
// names what is not, without error texts, which may quote config values.
func (rep Report) Ready(set desired.Set) (ready bool, detail string) {
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
