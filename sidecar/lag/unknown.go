package lag

import (
	"context"
	"errors"
	"net"
	"sort"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errNoLeader marks a partition whose metadata names no leader.
var errNoLeader = errors.New("no leader")

// reasonOf is the short cause of a read that failed, from a small fixed
// set (Kafka error names, "no leader", "unreachable", "timeout",
// "error"), so that it can label a metric; the full error is logged.
func reasonOf(err error) string {
	var ke *kerr.Error
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, errNoLeader):
		return "no leader"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &oe), errors.Is(err, kgo.ErrClientClosed):
		return "unreachable"
	}
	return "error"
}

// Kinds of item a measurement may fail to read, the item label of
// connect_sidecar_lag_items_in_error.
const (
	ItemTopic          = "topic"           // a source topic's metadata
	ItemPartition      = "partition"       // a source partition's start or end offset
	ItemGroup          = "group"           // a group's committed offsets on the source
	ItemGroupPartition = "group_partition" // a group partition's checkpoint, target offset or target end
)

// ItemError counts the items of one kind that failed for one reason.
type ItemError struct {
	// Item is the kind of item: one of the Item* values.
	Item string `json:"item"`
	// Reason is the items' Unknown value: a short cause such as a Kafka
	// error name, "no leader", "unreachable" or "timeout".
	Reason string `json:"reason"`
	// Count is how many items of that kind failed for that reason; never
	// 0.
	Count int `json:"count"`
}

// ItemErrors counts the items this measurement could not read, by kind
// and reason, sorted.
func (s *Snapshot) ItemErrors() []ItemError {
	type key struct{ item, reason string }
	n := map[key]int{}
	for _, t := range s.Topics {
		if t.Unknown != "" {
			n[key{ItemTopic, t.Unknown}]++
		}
		for _, p := range t.Partitions {
			if p.Unknown != "" {
				n[key{ItemPartition, p.Unknown}]++
			}
		}
	}
	for _, g := range s.Groups {
		if g.Unknown != "" {
			n[key{ItemGroup, g.Unknown}]++
		}
		for _, p := range g.Partitions {
			if p.Unknown != "" {
				n[key{ItemGroupPartition, p.Unknown}]++
			}
		}
	}
	for reason, c := range s.unknownGroupPartitions {
		n[key{ItemGroupPartition, reason}] += c
	}
	out := make([]ItemError, 0, len(n))
	for k, c := range n {
		out = append(out, ItemError{k.item, k.reason, c})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Item < out[j].Item || out[i].Item == out[j].Item && out[i].Reason < out[j].Reason
	})
	return out
}

// UnknownPartitions counts the partitions whose lag is unknown.
func (t *TopicLag) UnknownPartitions() int {
	n := 0
	for _, p := range t.Partitions {
		if p.Unknown != "" {
			n++
		}
	}
	return n
}

// LagKnown reports whether the topic's lag counts every partition.
func (t *TopicLag) LagKnown() bool { return t.Unknown == "" && t.UnknownPartitions() == 0 }

// UnknownReason is why the topic's lag is not whole: its own reason or
// that of its first unknown partition; "" when it is whole.
func (t *TopicLag) UnknownReason() string {
	if t.Unknown != "" {
		return t.Unknown
	}
	for _, p := range t.Partitions {
		if p.Unknown != "" {
			return p.Unknown
		}
	}
	return ""
}

// failures keeps the first error of each kind of item in one measurement,
// for one log line per measurement instead of one per item.
type failures struct {
	first map[string]error
}

func (f *failures) add(item string, err error) string {
	if f.first == nil {
		f.first = map[string]error{}
	}
	if _, ok := f.first[item]; !ok {
		f.first[item] = err
	}
	return reasonOf(err)
}

// requestCount counts the Kafka requests a client writes, for the
// requests-per-measurement figure.
type requestCount struct{ n atomic.Int64 }

func (c *requestCount) OnBrokerWrite(kgo.BrokerMetadata, int16, int, time.Duration, time.Duration, error) {
	c.n.Add(1)
}
