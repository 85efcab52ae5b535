package preflight

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// noTimestamp marks a partition whose oldest timestamp is not known: empty,
// not answered, or written before timestamps existed (magic 0).
const noTimestamp = int64(math.MinInt64)

// headBytes is how much of each partition's first batch a fetch asks for:
// a v2 batch header is 61 bytes and its timestamps end at byte 43; brokers
// return a truncated batch when the limit is smaller than the batch.
const headBytes = 128

// oldestTimestamps reads the oldest record timestamp of every partition of
// topics: one ListOffsets (earliest) and then one Fetch per leader broker,
// each carrying all of that broker's partitions, so the cost grows with
// the number of brokers, not of partitions. The result is indexed like
// topics, then by partition.
func oldestTimestamps(ctx context.Context, s *side, topics []topicInfo) ([][]int64, error) {
	out := make([][]int64, len(topics))
	byLeader := map[int32][]tpRef{}
	for i, t := range topics {
		out[i] = make([]int64, len(t.leaders))
		for p, l := range t.leaders {
			out[i][p] = noTimestamp
			byLeader[l] = append(byLeader[l], tpRef{topic: i, partition: int32(p)})
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for leader, refs := range byLeader {
		wg.Go(func() {
			if err := oldestOnBroker(ctx, s, leader, topics, refs, out); err != nil {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("broker %d: %w", leader, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out, first
}

type tpRef struct {
	topic     int
	partition int32
}

// oldestOnBroker writes into out[topic][partition] only for refs, which
// no other broker's goroutine touches.
func oldestOnBroker(ctx context.Context, s *side, leader int32, topics []topicInfo, refs []tpRef, out [][]int64) error {
	br := s.cl.Broker(int(leader))
	byTopic := map[int][]int32{}
	var order []int
	for _, r := range refs {
		if _, ok := byTopic[r.topic]; !ok {
			order = append(order, r.topic)
		}
		byTopic[r.topic] = append(byTopic[r.topic], r.partition)
	}
	sort.Ints(order)

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	for _, ti := range order {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topics[ti].name
		for _, p := range byTopic[ti] {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -2 // earliest
			rt.Partitions = append(rt.Partitions, rp)
		}
		lo.Topics = append(lo.Topics, rt)
	}
	loResp, err := lo.RequestWith(ctx, br)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	index := make(map[string]int, len(order))
	ids := make(map[[16]byte]int, len(order))
	for _, ti := range order {
		index[topics[ti].name] = ti
		ids[topics[ti].id] = ti
	}
	start := map[tpRef]int64{}
	for _, rt := range loResp.Topics {
		ti, ok := index[rt.Topic]
		if !ok {
			continue
		}
		for _, rp := range rt.Partitions {
			if kerr.ErrorForCode(rp.ErrorCode) == nil {
				start[tpRef{ti, rp.Partition}] = rp.Offset
			}
		}
	}

	f := kmsg.NewPtrFetchRequest()
	f.ReplicaID = -1
	f.MaxWaitMillis = 0
	f.MinBytes = 0
	f.MaxBytes = math.MaxInt32
	f.SessionEpoch = -1 // no fetch session: a one-off read
	for _, ti := range order {
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic, ft.TopicID = topics[ti].name, topics[ti].id
		for _, p := range byTopic[ti] {
			off, ok := start[tpRef{ti, p}]
			if !ok {
				continue
			}
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, off, headBytes
			ft.Partitions = append(ft.Partitions, fp)
		}
		if len(ft.Partitions) > 0 {
			f.Topics = append(f.Topics, ft)
		}
	}
	if len(f.Topics) == 0 {
		return nil
	}
	fResp, err := f.RequestWith(ctx, br)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	for _, rt := range fResp.Topics {
		ti, ok := index[rt.Topic]
		if !ok {
			if ti, ok = ids[rt.TopicID]; !ok {
				continue
			}
		}
		for _, rp := range rt.Partitions {
			if kerr.ErrorForCode(rp.ErrorCode) != nil || int(rp.Partition) >= len(out[ti]) {
				continue
			}
			out[ti][rp.Partition] = firstTimestamp(rp.RecordBatches)
		}
	}
	return nil
}

// firstTimestamp reads the timestamp of the first data record from raw
// record batches, which may end in a truncated batch: only headers are
// read. Control batches (transaction markers) are skipped, as MM2 never
// copies them.
func firstTimestamp(b []byte) int64 {
	for len(b) >= 17 {
		size := int(int32(binary.BigEndian.Uint32(b[8:12])))
		switch magic := b[16]; {
		case magic >= 2 && len(b) >= 43:
			attrs := binary.BigEndian.Uint16(b[21:23])
			if attrs&0x20 == 0 { // not a control batch
				if attrs&0x08 != 0 { // LogAppendTime: every record has the max timestamp
					return int64(binary.BigEndian.Uint64(b[35:43]))
				}
				return int64(binary.BigEndian.Uint64(b[27:35]))
			}
		case magic == 1 && len(b) >= 26:
			return int64(binary.BigEndian.Uint64(b[18:26]))
		default:
			return noTimestamp
		}
		if size <= 0 || 12+size > len(b) {
			return noTimestamp
		}
		b = b[12+size:]
	}
	return noTimestamp
}

// timestampLimits are the target's bounds on record timestamps.
type timestampLimits struct {
	logAppend     bool          // the target stamps its own time: nothing is refused
	before, after time.Duration // 0: unbounded
	source        string        // which settings, for the report
}

// limitsFor reads the bounds a target topic applies: its own settings
// when it exists, else the broker's; the newer before/after settings
// (Kafka 3.6+) over the older difference setting.
func limitsFor(topicCfg, broker map[string]string) timestampLimits {
	get := func(topicKey, brokerKey string) (string, string, bool) {
		if v, ok := topicCfg[topicKey]; ok {
			return v, topicKey, true
		}
		v, ok := broker[brokerKey]
		return v, brokerKey, ok
	}
	var l timestampLimits
	if v, _, ok := get("message.timestamp.type", "log.message.timestamp.type"); ok && strings.EqualFold(v, "LogAppendTime") {
		l.logAppend, l.source = true, "LogAppendTime"
		return l
	}
	ms := func(v string) time.Duration {
		n := atoi(v, math.MaxInt64)
		if n <= 0 || n >= int64(math.MaxInt64/int64(time.Millisecond)) {
			return 0
		}
		return time.Duration(n) * time.Millisecond
	}
	var keys []string
	if v, k, ok := get("message.timestamp.before.max.ms", "log.message.timestamp.before.max.ms"); ok {
		l.before = ms(v)
		keys = append(keys, fmt.Sprintf("%s=%s", k, v))
	}
	if v, k, ok := get("message.timestamp.after.max.ms", "log.message.timestamp.after.max.ms"); ok {
		l.after = ms(v)
		keys = append(keys, fmt.Sprintf("%s=%s", k, v))
	}
	if v, k, ok := get("message.timestamp.difference.max.ms", "log.message.timestamp.difference.max.ms"); ok && l.before == 0 && l.after == 0 {
		l.before, l.after = ms(v), ms(v)
		keys = append(keys, fmt.Sprintf("%s=%s", k, v))
	}
	l.source = strings.Join(keys, ", ")
	if l.source == "" {
		l.source = "no limit reported"
	}
	return l
}

// timestamps: the oldest record of each selected partition against the
// target's timestamp bounds, counting the partitions it would refuse.
func (p *run) timestamps(ctx context.Context) Result {
	if r, ok := unreachable(CheckTimestamps, p.src, p.tgt); ok {
		return r
	}
	r := Result{Check: CheckTimestamps, Status: Pass}
	if p.tgtBrokerErr != nil {
		r.Status, r.Found, r.Fix = Warn, fmt.Sprintf("target broker configs not readable: %v", p.tgtBrokerErr), "grant DESCRIBE_CONFIGS on the target cluster"
		return r
	}
	oldest, err := oldestTimestamps(ctx, p.src, p.selected)
	now := p.in.Now
	var refused []string
	var count, known int
	var oldestSeen int64 = math.MaxInt64
	var limitsSeen string
	for i, t := range p.selected {
		l := limitsFor(p.tgtConfigs[t.remote], p.tgtBroker)
		if limitsSeen == "" || l.source != "no limit reported" {
			limitsSeen = l.source
		}
		for part, ts := range oldest[i] {
			if ts == noTimestamp || ts < 0 {
				continue
			}
			known++
			oldestSeen = min(oldestSeen, ts)
			at := time.UnixMilli(ts)
			if l.logAppend {
				continue
			}
			if l.before > 0 && at.Before(now.Add(-l.before)) || l.after > 0 && at.After(now.Add(l.after)) {
				count++
				refused = append(refused, fmt.Sprintf("%s[%d] %s", t.name, part, at.UTC().Format(time.RFC3339)))
			}
		}
	}
	var found []string
	if count > 0 {
		r.Status = Fail
		found = append(found, fmt.Sprintf("%d of %d partitions hold records the target refuses (%s): %s", count, p.selectedPartitions(), limitsSeen, strings.Join(trim(refused, 5), ", ")))
		r.Fix = "raise the target's log.message.timestamp.before.max.ms (or after.max.ms), set message.timestamp.type=LogAppendTime on the target topics, or exclude the topics"
	} else {
		oldestText := "none"
		if known > 0 {
			oldestText = time.UnixMilli(oldestSeen).UTC().Format(time.RFC3339)
		}
		found = append(found, fmt.Sprintf("%d partitions with records, oldest %s; target: %s", known, oldestText, limitsSeen))
	}
	if err != nil {
		r.Status = worse(r.Status, Warn)
		found = append(found, fmt.Sprintf("some partitions not read: %v", err))
		if r.Fix == "" {
			r.Fix = "grant READ on the source topics and run again"
		}
	}
	r.Found = strings.Join(found, "; ")
	return r
}
