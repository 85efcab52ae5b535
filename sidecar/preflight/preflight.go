// Package preflight owns the checks an operator runs before a MirrorMaker 2
// migration starts: reach and auth, permissions, topic selection, record
// sizes and timestamps, existing target topics, replication policies,
// groups, internal topics, sizing and Connect's own validation, run once
// or periodically (Monitor). It reads both clusters and changes nothing on
// them; building clients from a connector config is package kafka's, MM2's
// naming package mm2's, loading connector files package desired's and
// exporting results as metrics package metrics'.
package preflight

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/desired"
	"github.com/mm2-fargate/mm2-ecs/sidecar/javaconfig"
)

// Status is the outcome of one check.
type Status string

// Outcomes, from best to worst.
const (
	Pass Status = "PASS"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Rank orders outcomes: 0 PASS, 1 WARN, 2 FAIL, the value of
// connect_sidecar_preflight_result.
func (s Status) Rank() int {
	switch s {
	case Fail:
		return 2
	case Warn:
		return 1
	}
	return 0
}

// worse returns the worse of two outcomes.
func worse(a, b Status) Status {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Check names, in the order they run and print; they are also the
// `check` label of connect_sidecar_preflight_result.
const (
	CheckReach        = "reach"
	CheckPermissions  = "permissions"
	CheckTopics       = "topic-selection"
	CheckMessageSize  = "message-size"
	CheckTimestamps   = "timestamps"
	CheckTargetTopics = "target-topics"
	CheckPolicy       = "replication-policy"
	CheckGroups       = "groups"
	CheckInternal     = "internal-topics"
	CheckSizing       = "sizing"
	CheckConnect      = "connect"
)

// Checks lists every check name in order.
func Checks() []string {
	return []string{CheckReach, CheckPermissions, CheckTopics, CheckMessageSize, CheckTimestamps,
		CheckTargetTopics, CheckPolicy, CheckGroups, CheckInternal, CheckSizing, CheckConnect}
}

// Result is one row of the report.
type Result struct {
	// Check is one of the Check* names.
	Check string `json:"check"`
	// Status is the outcome: Pass, Warn or Fail.
	Status Status `json:"status"`
	// Found says in a line what the check saw, including why it could not
	// run ("not checked: ...").
	Found string `json:"found"`
	// Fix says what to change when Found calls for a change; empty
	// otherwise.
	Fix string `json:"fix,omitempty"`
}

// Report is every check's result, in the order of Checks.
type Report struct {
	// Results has one row per check, in the order of Checks.
	Results []Result `json:"results"`
	// Duration is how long the whole run took; JSON gives it in
	// nanoseconds.
	Duration time.Duration `json:"duration_ns"`
}

// Failed reports whether any check failed.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Results, func(x Result) bool { return x.Status == Fail })
}

// Input is what a preflight reads besides the clusters.
type Input struct {
	// Connectors are the connector files of the migration.
	Connectors []desired.Connector
	// SourceConnector names the MirrorSourceConnector; empty: the one
	// found by class.
	SourceConnector string
	// Worker is the Connect worker's properties; nil skips the checks of
	// Connect's own internal topics.
	Worker map[string]string
	// MaxWorkers is the service's maximum task count; 0 when unknown.
	MaxWorkers int
	// Connect validates connector configs; nil skips that check.
	Connect ConnectAPI
	// Resolver resolves ${env:...} and ${file:...} in connector configs.
	Resolver javaconfig.Resolver
	// ClientOpts are added to both Kafka clients (hooks, timeouts).
	ClientOpts []kgo.Opt
	// Now is the time timestamps are judged against; time.Now when zero.
	Now time.Time
}

// ConfigError is an input preflight cannot run with: no
// MirrorSourceConnector, a config that does not parse. Callers exit 2 on
// it rather than report a check.
type ConfigError struct {
	// Err says what is wrong with the input.
	Err error
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run runs every check. Its error is a *ConfigError or the context's; a
// cluster that cannot be reached is a FAIL row, not an error.
func Run(ctx context.Context, in Input) (*Report, error) {
	start := time.Now()
	if in.Now.IsZero() {
		in.Now = start
	}
	mig, err := newMigration(in)
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	src, err := openSide(ctx, mig.src, in.ClientOpts)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("source cluster: %w", err)}
	}
	defer src.close()
	tgt, err := openSide(ctx, mig.tgt, in.ClientOpts)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("target cluster: %w", err)}
	}
	defer tgt.close()

	p := &run{in: in, mig: mig, src: src, tgt: tgt}
	p.gather(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &Report{}
	for _, c := range []func(context.Context) Result{
		p.reach, p.permissions, p.topicSelection, p.messageSize, p.timestamps,
		p.targetTopics, p.replicationPolicy, p.groups, p.internalTopicsCheck, p.sizing, p.connect,
	} {
		rep.Results = append(rep.Results, c(ctx))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// run is one preflight: its inputs and what it read from the clusters.
type run struct {
	in       Input
	mig      *migration
	src, tgt *side

	selected []topicInfo // source topics MM2 will replicate, sorted

	srcConfigs    map[string]map[string]string // selected source topics
	srcConfigsErr error
	tgtConfigs    map[string]map[string]string // existing target topics: remote and internal
	tgtConfigsErr error
	tgtBroker     map[string]string
	tgtBrokerErr  error
}
