package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
	"github.com/mm2-fargate/mm2-ecs/sidecar/lag"
)

// Exit codes of status: 0 ready (or no --cutover), 1 not ready for
// cutover or a measurement that failed, 2 bad usage or configuration.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", stderr,
		"Usage: connect-sidecar status [--json] [--cutover GROUP...] [--reset-plan [--apply] [GROUP...]]",
		"Shows connectors and tasks, replication lag per topic and consumer-group readiness,",
		"read from Connect (SIDECAR_CONNECT_URL) and the clusters in the MirrorSourceConnector's config.",
		"${env:VAR} and ${file:path:key} references in that config are resolved here, from this",
		"shell's environment and files, as the worker's config providers would: export them first.",
		"Exit status: 0 ready (or no --cutover), 1 not ready for cutover or a failed measurement,",
		"2 bad usage or configuration.",
	)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	cutover := fs.Bool("cutover", false, "exit 0 only when the GROUPs given as arguments and their topics are ready")
	resetPlan := fs.Bool("reset-plan", false, "print the offsets that would fix negative-lag partitions of GROUPs (all when none)")
	apply := fs.Bool("apply", false, "with --reset-plan: commit the plan on the target (each group must be empty there)")
	timeout := durationFlag(fs, "timeout", time.Minute, "give up measuring after this long, a `duration`")
	groups, err := parseInterspersed(fs, args)
	if err != nil {
		return parseStatus(err)
	}
	if *cutover && len(groups) == 0 {
		fmt.Fprintln(stderr, "status: --cutover needs at least one GROUP")
		return 2
	}
	if *apply && (!*resetPlan || len(groups) == 0) {
		fmt.Fprintln(stderr, "status: --apply needs --reset-plan and the GROUPs to reset")
		return 2
	}
	cfg, err := config.Load()
	if err != nil {
		printProblems(stderr, "connect-sidecar status", err)
		return 2
	}
	api, err := connect.New(cfg.Connect, nil)
	if err != nil {
		fmt.Fprintf(stderr, "status: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	statuses, err := api.Statuses(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "status: connect %s: %v\n", api.BaseURL(), err)
		return exitFailed
	}
	m := lag.NewMeasurer(api, lag.MeasurerOptions{Config: cfg.Lag})
	defer m.Close()
	snap, err := m.Measure(ctx)
	if err != nil {
		// Connector and task state still helps when a cluster is down.
		if !*asJSON {
			printConnectors(stdout, statuses)
		}
		fmt.Fprintf(stderr, "status: measure: %v\n", err)
		return exitFailed
	}
	// One line per cluster that could not be used, whole or in part, with
	// its diagnosis and fix; a cluster unreachable without one is named too.
	diagnosed := map[string]bool{}
	for _, p := range snap.Problems() {
		diagnosed[p.Alias] = true
		fmt.Fprintf(stderr, "status: %s\n", p)
	}
	for _, alias := range slices.Sorted(maps.Keys(snap.Unreachable)) {
		if !diagnosed[alias] {
			fmt.Fprintf(stderr, "status: %s\n", snap.Unreachable[alias])
		}
	}
	incomplete := len(snap.Unreachable) > 0 || len(snap.ItemErrors()) > 0
	var plan []lag.Reset
	if *resetPlan {
		plan = snap.ResetPlan(groups...)
	}

	if *asJSON {
		if err := writeStatusJSON(stdout, statuses, snap, plan); err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFailed
		}
	} else {
		printStatus(stdout, statuses, snap, plan, *resetPlan, *apply)
	}

	if *apply && len(plan) > 0 {
		if err := m.ApplyResets(ctx, plan); err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stdout, "applied %d offset resets on %s\n", len(plan), snap.TargetAlias)
	}
	if *cutover {
		if err := snap.CutoverCheck(groups); err != nil {
			fmt.Fprintf(stderr, "status: %v\n", err)
			return 1
		}
		// With --json, stdout carries the document alone.
		verdict := stdout
		if *asJSON {
			verdict = stderr
		}
		fmt.Fprintf(verdict, "ready for cutover: %s\n", strings.Join(groups, " "))
	}
	if incomplete {
		// What could be measured is shown; the exit status says it is not
		// the whole picture.
		fmt.Fprintln(stderr, "status: the measurement is incomplete: the rows marked unknown could not be read")
		return exitFailed
	}
	return 0
}

// writeStatusJSON writes the --json document as it goes: one indented
// object, the measurement's topics and groups one at a time, so that its
// memory does not grow with the size of the document (see
// lag.Snapshot.WriteJSON). One document rather than JSON lines keeps
// every script that reads the output working.
func writeStatusJSON(w io.Writer, statuses map[string]connect.ConnectorStatus, snap *lag.Snapshot, plan []lag.Reset) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	field := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, "  %q: %s,\n", name, b)
		return nil
	}
	bw.WriteString("{\n")
	if err := field("connectors", statuses); err != nil {
		return err
	}
	fmt.Fprintf(bw, "  \"migration_ready\": %t,\n  \"total_lag\": %d,\n  \"measurement\": ", snap.Ready(), snap.TotalLag())
	if err := snap.WriteJSON(bw, "  ", "  "); err != nil {
		return err
	}
	if len(plan) > 0 {
		b, err := json.MarshalIndent(plan, "  ", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(bw, ",\n  \"reset_plan\": %s", b)
	}
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// parseInterspersed parses flags wherever they stand among the GROUP
// arguments, so that "--cutover billing --json" does not take "--json" for
// a group. Everything after "--" is a GROUP.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var groups []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return groups, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(groups, rest...), nil
		}
		groups, args = append(groups, rest[0]), rest[1:]
	}
}

func printConnectors(w io.Writer, statuses map[string]connect.ConnectorStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	names := make([]string, 0, len(statuses))
	for n := range statuses {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(tw, "CONNECTOR\tTASK\tSTATE\tWORKER\tTRACE")
	for _, n := range names {
		st := statuses[n]
		fmt.Fprintf(tw, "%s\t\t%s\t%s\t%s\n", n, st.Connector.State, st.Connector.WorkerID, firstLine(st.Connector.Trace))
		for _, t := range st.Tasks {
			fmt.Fprintf(tw, "\t%d\t%s\t%s\t%s\n", t.ID, t.State, t.WorkerID, firstLine(t.Trace))
		}
	}
	tw.Flush()
}

func printStatus(w io.Writer, statuses map[string]connect.ConnectorStatus, snap *lag.Snapshot, plan []lag.Reset, showPlan, applying bool) {
	printConnectors(w, statuses)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nLAG %s -> %s (measured %s in %s)\n", snap.SourceAlias, snap.TargetAlias, snap.Time.UTC().Format(time.RFC3339), snap.Duration.Round(time.Millisecond))
	for _, alias := range slices.Sorted(maps.Keys(snap.Unreachable)) {
		fmt.Fprintf(w, "UNREACHABLE %s\n", snap.Unreachable[alias])
	}
	fmt.Fprintln(tw, "TOPIC\tTARGET TOPIC\tPARTITIONS\tNOT COPIED")
	for i := range snap.Topics {
		t := &snap.Topics[i]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", t.Topic, t.RemoteTopic, len(t.Partitions), topicLagCell(t))
	}
	total := strconv.FormatInt(snap.TotalLag(), 10)
	if !snap.LagKnown() {
		total = "at least " + total
	}
	fmt.Fprintf(tw, "total\t\t\t%s\n", total)
	tw.Flush()

	if snap.CheckpointConnector == "" {
		fmt.Fprintln(w, "\nGROUPS: no MirrorCheckpointConnector found")
	} else {
		fmt.Fprintln(w, "\nGROUPS")
		fmt.Fprintln(tw, "GROUP\tVERDICT\tRECORDS BEHIND\tRECORDS SKIPPED\tPARTITIONS NOT SYNCED")
		for _, g := range snap.Groups {
			var bad []string
			for _, p := range g.Partitions {
				if p.Verdict != lag.Synced {
					bad = append(bad, fmt.Sprintf("%s[%d]:%s", p.Topic, p.Partition, p.Verdict))
				}
			}
			if len(bad) > 5 {
				bad = append(bad[:5], fmt.Sprintf("+%d more", len(bad)-5))
			}
			verdict := string(g.Verdict)
			if g.Verdict == lag.Unknown {
				verdict = fmt.Sprintf("unknown (%s)", g.UnknownReason())
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", g.Group, verdict, g.RecordsBehind, g.RecordsSkipped, strings.Join(bad, " "))
		}
		tw.Flush()
	}
	ready := "no"
	if snap.Ready() {
		ready = "yes"
	}
	fmt.Fprintf(w, "\nmigration ready: %s\n", ready)

	if showPlan {
		if applying {
			fmt.Fprintln(w, "\nRESET PLAN (applying)")
		} else {
			fmt.Fprintln(w, "\nRESET PLAN (dry run; add --apply GROUP... to commit it on the target)")
		}
		if len(plan) == 0 {
			fmt.Fprintln(w, "nothing to reset: no negative-lag partition")
			return
		}
		fmt.Fprintln(tw, "GROUP\tTARGET TOPIC\tPARTITION\tFROM\tTO")
		for _, r := range plan {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\n", r.Group, r.Topic, r.Partition, r.From, r.To)
		}
		tw.Flush()
	}
}

// topicLagCell is a topic's lag, or why it is not known: "unknown
// (reason)", with how many partitions when only some are.
func topicLagCell(t *lag.TopicLag) string {
	switch n := t.UnknownPartitions(); {
	case t.Unknown != "" || n == len(t.Partitions) && n > 0:
		return fmt.Sprintf("unknown (%s)", t.UnknownReason())
	case n > 0:
		return fmt.Sprintf("unknown (%s: %d of %d partitions; %d in the others)", t.UnknownReason(), n, len(t.Partitions), t.Lag)
	}
	return strconv.FormatInt(t.Lag, 10)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
