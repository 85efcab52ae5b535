package lag

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/kafka"
)

// Verdict is the cutover readiness of a consumer group or one of its
// partitions.
type Verdict string

// Verdicts, from ready to worst. Each says what a consumer of the group
// moved to the target now would do: resume where the source group stands
// (synced), re-read records (behind), or skip records it never read
// (target-ahead, rewound, negative-lag).
const (
	// Synced: the latest checkpoint covers the group's source offset and
	// the offset a consumer resumes from on the target is the checkpoint's.
	Synced Verdict = "synced"
	// Behind: the group committed on the source after the latest
	// checkpoint, or its target offset lags the checkpoint; moving now
	// re-reads RecordsBehind records.
	Behind Verdict = "behind"
	// NoCheckpoint: MM2 has not checkpointed the partition yet.
	NoCheckpoint Verdict = "no-checkpoint"
	// Unknown: an offset the verdict needs could not be read in this
	// measurement; the partition or group carries the reason.
	Unknown Verdict = "unknown"
	// TargetAhead: the group's committed offset on the target lies beyond
	// the latest checkpoint's, further than the source group has moved
	// since: consumers already run on the target, or the group was rewound
	// on the source and MM2, which never moves a target group backwards,
	// left the target offset where it was. Moving now skips RecordsSkipped
	// records the source group has not read.
	TargetAhead Verdict = "target-ahead"
	// Rewound: the group committed on the source an offset below the
	// latest checkpoint's upstream offset (reset for reprocessing after MM2
	// checkpointed). A consumer moved now resumes at the checkpoint's
	// translation of the old, higher offset and skips about RecordsSkipped
	// records.
	Rewound Verdict = "rewound"
	// NegativeLag: the offset the group would use on the target lies
	// beyond the target's end offset (KAFKA-12635); consumers would skip
	// the records written there next. See Snapshot.ResetPlan.
	NegativeLag Verdict = "negative-lag"
)

// Verdicts lists every verdict in order, ready first. A group's verdict
// is the worst of its partitions': a known skip outranks an unknown, which
// outranks re-reading.
func Verdicts() []Verdict {
	return []Verdict{Synced, Behind, NoCheckpoint, Unknown, TargetAhead, Rewound, NegativeLag}
}

func (v Verdict) rank() int {
	for i, x := range Verdicts() {
		if x == v {
			return i
		}
	}
	return len(Verdicts())
}

// Snapshot is one measurement of both clusters. It is not modified after
// Measure returns it.
type Snapshot struct {
	// Time is when the measurement finished.
	Time time.Time `json:"time"`
	// Duration is how long the whole measurement took.
	Duration time.Duration `json:"duration_ns"`
	// SourceAlias and TargetAlias are the clusters' aliases in the
	// MirrorSourceConnector's config (source.cluster.alias,
	// target.cluster.alias), as MM2 names them in remote topics.
	SourceAlias string `json:"source_alias"`
	// TargetAlias: see SourceAlias.
	TargetAlias string `json:"target_alias"`
	// SourceConnector is the MirrorSourceConnector measured.
	SourceConnector string `json:"source_connector"`
	// CheckpointConnector is the MirrorCheckpointConnector whose
	// checkpoints judged the groups; empty when there is none, and then
	// no group is measured.
	CheckpointConnector string `json:"checkpoint_connector,omitempty"`
	// Unreachable names, by alias, the clusters a part of this measurement
	// could not reach at all, with the error; their items are unknown.
	Unreachable map[string]string `json:"unreachable,omitempty"`
	// problems holds, by cluster alias, the first diagnosed failure that
	// kept a whole cluster or some of its items out of the measurement.
	problems map[string]*kafka.ClusterError
	// Phases is how long each part of the measurement took, in order.
	Phases []Phase `json:"phases"`
	// Requests is how many Kafka requests the measurement sent, by
	// cluster alias.
	Requests map[string]int64 `json:"requests"`
	// Topics are the source topics MM2 replicates, sorted by name.
	Topics []TopicLag `json:"topics"`
	// Groups are the consumer groups MM2 checkpoints, sorted by name.
	Groups []GroupReadiness `json:"groups"`

	// unknownGroupPartitions counts, by reason, the unknown partitions of
	// groups measured without their partitions (MeasureSummary).
	unknownGroupPartitions map[string]int
}

// Phase is the duration of one part of a measurement.
type Phase struct {
	// Name is one of the Phase* constants.
	Name string `json:"name"`
	// Duration is how long the phase took.
	Duration time.Duration `json:"duration_ns"`
}

// Phases of a measurement.
const (
	PhaseConnectOffsets = "connect_offsets" // connector configs and MM2's committed source offsets
	PhaseSourceOffsets  = "source_offsets"  // source metadata, log start and end offsets
	PhaseSourceGroups   = "source_groups"   // source groups and their committed offsets
	PhaseCheckpoints    = "checkpoints"     // new records of the checkpoints topic
	PhaseTargetOffsets  = "target_offsets"  // target metadata, group offsets and end offsets
)

// TopicLag is the replication backlog of one source topic.
type TopicLag struct {
	// Topic is the source topic.
	Topic string `json:"topic"`
	// RemoteTopic is its copy on the target, named by the replication
	// policy (src.orders by default, orders with the identity policy).
	RemoteTopic string `json:"remote_topic"`
	// Lag sums the partitions whose lag is known.
	Lag int64 `json:"lag"`
	// Unknown is why the topic's metadata could not be read; its
	// partitions are then those of the last measurement, each unknown.
	Unknown string `json:"unknown,omitempty"`
	// Partitions are the topic's partitions, by number.
	Partitions []PartitionLag `json:"partitions"`
}

// PartitionLag is the backlog of one source partition: records between
// the last one MM2 copied (or the log start, if it copied none) and the
// end of the partition.
type PartitionLag struct {
	// Partition is the partition's number.
	Partition int32 `json:"partition"`
	// Start is the source partition's log start offset; -1 when unknown.
	Start int64 `json:"log_start"`
	// End is the source partition's end offset (the next offset to be
	// written); -1 when unknown.
	End int64 `json:"log_end"`
	// Copied is the source offset of the last record MM2 copied, from
	// Connect's offsets of the MirrorSourceConnector; -1: never copied.
	Copied int64 `json:"last_copied"`
	// Lag is how many records of the source are not copied yet: End minus
	// the next offset to copy (Start when MM2 never copied, or when
	// retention removed records it had not copied yet).
	Lag int64 `json:"lag"`
	// Unknown is why the partition's offsets could not be read; Lag is 0
	// and counts nowhere.
	Unknown string `json:"unknown,omitempty"`
}

// GroupReadiness is the cutover verdict of one consumer group.
type GroupReadiness struct {
	// Group is the consumer group's name, the same on both clusters.
	Group string `json:"group"`
	// Verdict is the worst of its partitions' verdicts; Synced only when
	// every partition is synced and none is unknown.
	Verdict Verdict `json:"verdict"`
	// RecordsBehind sums its partitions' RecordsBehind.
	RecordsBehind int64 `json:"records_behind"`
	// RecordsSkipped sums its partitions' RecordsSkipped.
	RecordsSkipped int64 `json:"records_skipped"`
	// Unknown is why the group's committed offsets on the source could not
	// be read; it then has no partitions.
	Unknown string `json:"unknown,omitempty"`
	// Partitions are the partitions the group committed on the source,
	// by topic and number; empty in a summary (MeasureSummary).
	Partitions []GroupPartition `json:"partitions"`
}

// GroupPartition is one partition a group has committed on the source.
type GroupPartition struct {
	// Topic is the source topic.
	Topic string `json:"topic"`
	// RemoteTopic is its copy on the target.
	RemoteTopic string `json:"remote_topic"`
	// Partition is the partition's number, the same on both clusters.
	Partition int32 `json:"partition"`
	// SourceOffset is the group's committed offset on the source.
	SourceOffset int64 `json:"source_offset"`
	// HasCheckpoint says MM2 checkpointed this partition for the group.
	HasCheckpoint bool `json:"has_checkpoint"`
	// Upstream is the latest checkpoint's source offset; -1 without a
	// checkpoint.
	Upstream int64 `json:"checkpoint_upstream"`
	// Downstream is the latest checkpoint's target offset, where a
	// consumer moved now would resume; -1 without a checkpoint.
	Downstream int64 `json:"checkpoint_downstream"`
	// TargetOffset is the group's committed offset on the target (MM2's
	// group offset sync writes it); -1 when none is committed.
	TargetOffset int64 `json:"target_offset"`
	// TargetEnd is the remote partition's end offset on the target.
	TargetEnd int64 `json:"target_end"`
	// Verdict is what moving the group's consumers now would do to this
	// partition (see the Verdict constants).
	Verdict Verdict `json:"verdict"`
	// RecordsBehind is how many records a consumer moved to the target
	// now would read twice. It is counted in source offsets, assuming MM2
	// copied the records between the checkpoint and the group's offset one
	// for one (compaction and transaction markers make the true figure
	// smaller).
	RecordsBehind int64 `json:"records_behind"`
	// RecordsSkipped is how many records a consumer moved to the target
	// now would never read (a group rewound on the source below its
	// checkpoint, or a target commit ahead of it); counted as RecordsBehind.
	RecordsSkipped int64 `json:"records_skipped"`
	// Unknown is why an offset the verdict needs could not be read.
	Unknown string `json:"unknown,omitempty"`
}

// judge sets the partition's verdict from its offsets.
func (p *GroupPartition) judge() {
	p.RecordsBehind, p.RecordsSkipped = 0, 0
	if p.Unknown != "" {
		p.Verdict = Unknown
		return
	}
	if !p.HasCheckpoint {
		p.Verdict = NoCheckpoint
		return
	}
	// The offset a consumer resumes from on the target: the group's own
	// commit there (MM2's sync.group.offsets, or a consumer already moved),
	// else the checkpoint an operator would apply.
	eff := p.TargetOffset
	if eff < 0 {
		eff = p.Downstream
	}
	if eff > p.TargetEnd {
		p.Verdict = NegativeLag
		return
	}
	// Where the group's source offset lands on the target: the checkpoint
	// maps Upstream to Downstream, and records after (or before) it are
	// taken to be copied one for one. A checkpoint beyond the target's end
	// cannot be reached and counts from the end (the group's own offset
	// was reset below it).
	want := min(p.Downstream, p.TargetEnd) + p.SourceOffset - p.Upstream
	switch d := want - eff; {
	case d > 0:
		p.RecordsBehind = d
	case d < 0:
		p.RecordsSkipped = -d
	}
	switch {
	case p.SourceOffset < p.Upstream:
		// The checkpoint predates a reset of the group on the source: even
		// a target offset that happens to land right is a guess below the
		// checkpoint, so a rewound partition is never synced.
		p.Verdict = Rewound
	case p.RecordsSkipped > 0:
		p.Verdict = TargetAhead
	case p.RecordsBehind > 0:
		p.Verdict = Behind
	default:
		p.Verdict = Synced
	}
}

// groupVerdict sums the verdicts of a group's partitions as they are
// judged, so that a group can be judged without keeping its partitions.
type groupVerdict struct {
	verdict         Verdict
	behind, skipped int64
	partitions      int
}

func (v *groupVerdict) add(p *GroupPartition) {
	if v.partitions == 0 || p.Verdict.rank() > v.verdict.rank() {
		v.verdict = p.Verdict
	}
	v.behind += p.RecordsBehind
	v.skipped += p.RecordsSkipped
	v.partitions++
}

func (v *groupVerdict) set(g *GroupReadiness) {
	g.Verdict, g.RecordsBehind, g.RecordsSkipped = v.verdict, v.behind, v.skipped
	switch {
	case g.Unknown != "":
		g.Verdict = Unknown
	case v.partitions == 0:
		g.Verdict = NoCheckpoint
	}
}

// UnknownReason is why the group's verdict is not whole: its own reason
// or that of its first unknown partition; "" when every offset was read.
func (g *GroupReadiness) UnknownReason() string {
	if g.Unknown != "" {
		return g.Unknown
	}
	for _, p := range g.Partitions {
		if p.Unknown != "" {
			return p.Unknown
		}
	}
	return ""
}

// TotalLag is the backlog of every selected topic, of the partitions
// whose lag is known.
func (s *Snapshot) TotalLag() int64 {
	var n int64
	for _, t := range s.Topics {
		n += t.Lag
	}
	return n
}

// GroupsNotReady counts groups whose verdict is not synced.
func (s *Snapshot) GroupsNotReady() int {
	n := 0
	for _, g := range s.Groups {
		if g.Verdict != Synced {
			n++
		}
	}
	return n
}

// LagKnown reports whether every selected partition's lag was read.
func (s *Snapshot) LagKnown() bool {
	for i := range s.Topics {
		if !s.Topics[i].LagKnown() {
			return false
		}
	}
	return true
}

// Ready reports whether the whole migration could cut over now: both
// clusters reached, every lag known, nothing left to copy and every group
// synced.
func (s *Snapshot) Ready() bool {
	return len(s.Unreachable) == 0 && s.LagKnown() && s.TotalLag() == 0 && s.GroupsNotReady() == 0
}

func (s *Snapshot) group(name string) *GroupReadiness {
	i := sort.Search(len(s.Groups), func(i int) bool { return s.Groups[i].Group >= name })
	if i < len(s.Groups) && s.Groups[i].Group == name {
		return &s.Groups[i]
	}
	return nil
}

// CutoverCheck returns nil when every named group is synced and every
// topic it consumes has no replication backlog; otherwise one reason per
// line.
func (s *Snapshot) CutoverCheck(groups []string) error {
	var reasons []string
	for _, name := range groups {
		g := s.group(name)
		if g == nil {
			reasons = append(reasons, fmt.Sprintf("group %s: not found on the source or not covered by the checkpoint connector", name))
			continue
		}
		if g.Verdict != Synced {
			r := fmt.Sprintf("group %s: %s", name, g.Verdict)
			switch g.Verdict {
			case Behind:
				r += fmt.Sprintf(" (%d records would be consumed twice)", g.RecordsBehind)
			case Rewound:
				r += fmt.Sprintf(" (committed on the source below the latest checkpoint: about %d records would be skipped; wait for a checkpoint of the rewound offset)", g.RecordsSkipped)
			case TargetAhead:
				r += fmt.Sprintf(" (target offset beyond the checkpoint: about %d records would be skipped)", g.RecordsSkipped)
			}
			if why := g.UnknownReason(); why != "" {
				r += fmt.Sprintf(" (%s)", why)
			}
			if g.Verdict == NegativeLag {
				r += " (target offset beyond the target's end: see the reset plan)"
			}
			reasons = append(reasons, r)
		}
		seen := map[string]bool{}
		for _, p := range g.Partitions {
			if seen[p.Topic] {
				continue
			}
			seen[p.Topic] = true
			t := topicLag(s.Topics, p.Topic)
			switch {
			case t == nil:
			case !t.LagKnown():
				reasons = append(reasons, fmt.Sprintf("group %s: topic %s: lag unknown (%s)", name, p.Topic, t.UnknownReason()))
			case t.Lag > 0:
				reasons = append(reasons, fmt.Sprintf("group %s: topic %s has %d records not yet copied", name, p.Topic, t.Lag))
			}
		}
	}
	if len(reasons) > 0 {
		return &NotReadyError{Reasons: reasons}
	}
	return nil
}

// NotReadyError says why a cutover check failed.
type NotReadyError struct {
	// Reasons are one line each: a group or topic and why it is not ready.
	Reasons []string
}

func (e *NotReadyError) Error() string {
	return "not ready for cutover:\n  " + strings.Join(e.Reasons, "\n  ")
}

// Reset is one offset a negative-lag fix would commit for a group on the
// target.
type Reset struct {
	// Group is the consumer group on the target.
	Group string `json:"group"`
	// Topic is the target topic.
	Topic string `json:"topic"`
	// Partition is the partition's number.
	Partition int32 `json:"partition"`
	// From is the offset the group would resume from now, past the end.
	From int64 `json:"from"`
	// To is the target partition's end offset, where the plan moves it.
	To int64 `json:"to"`
}

// ResetPlan lists, for the named groups (all when none are named), the
// offsets that move every negative-lag partition back to the target's end
// offset: the position of a consumer that has read everything copied.
func (s *Snapshot) ResetPlan(groups ...string) []Reset {
	want := map[string]bool{}
	for _, g := range groups {
		want[g] = true
	}
	var plan []Reset
	for _, g := range s.Groups {
		if len(want) > 0 && !want[g.Group] {
			continue
		}
		for _, p := range g.Partitions {
			if p.Verdict != NegativeLag {
				continue
			}
			from := p.TargetOffset
			if from < 0 {
				from = p.Downstream
			}
			plan = append(plan, Reset{Group: g.Group, Topic: p.RemoteTopic, Partition: p.Partition, From: from, To: p.TargetEnd})
		}
	}
	return plan
}

// Problems are the diagnosed failures, one per cluster, that kept a whole
// cluster or some of its items out of this measurement (a refused login,
// an untrusted certificate, a missing ACL, no answer), sorted by alias.
// Transient per-item errors, such as a partition leader that moved, are
// not problems: they show as unknown items only.
func (s *Snapshot) Problems() []*kafka.ClusterError {
	out := make([]*kafka.ClusterError, 0, len(s.problems))
	for _, alias := range slices.Sorted(maps.Keys(s.problems)) {
		out = append(out, s.problems[alias])
	}
	return out
}

// addProblem records err as alias's problem unless one is recorded, and
// only when it is a diagnosed failure.
func (s *Snapshot) addProblem(err error) {
	var ce *kafka.ClusterError
	if !errors.As(err, &ce) || ce.Reason == kafka.ReasonOther || ce.Reason == "" {
		return
	}
	if s.problems == nil {
		s.problems = map[string]*kafka.ClusterError{}
	}
	if _, ok := s.problems[ce.Alias]; !ok {
		s.problems[ce.Alias] = ce
	}
}
