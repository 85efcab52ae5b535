package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Checkpoint is one record of MM2's "<alias>.checkpoints.internal" topic:
// the group's committed offset on the source (Upstream) translated to the
// target (Downstream). Topic is the source topic name.
type Checkpoint struct {
	Group      string
	Topic      string
	Partition  int32
	Upstream   int64
	Downstream int64
	Metadata   string
}

// The wire format is Kafka's protocol Schema encoding (mirror-client's
// Checkpoint): key = group STRING, topic STRING, partition INT32; value =
// a header with version INT16, then upstreamOffset INT64, offset INT64,
// metadata STRING. STRING is an INT16 length and UTF-8 bytes; all
// integers are big-endian.

// ErrCheckpointFormat marks bytes that are not an MM2 checkpoint.
var ErrCheckpointFormat = errors.New("not an mm2 checkpoint")

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCheckpointFormat, what)
	}
}

func (r *reader) int16(what string) int16 {
	if r.err != nil || len(r.b) < 2 {
		r.fail(what + " truncated")
		return 0
	}
	v := int16(binary.BigEndian.Uint16(r.b))
	r.b = r.b[2:]
	return v
}

func (r *reader) int32(what string) int32 {
	if r.err != nil || len(r.b) < 4 {
		r.fail(what + " truncated")
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

func (r *reader) int64(what string) int64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail(what + " truncated")
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *reader) string(what string) string { return string(r.bytes(what)) }

// bytes reads a STRING without copying it.
func (r *reader) bytes(what string) []byte {
	n := r.int16(what + " length")
	if r.err != nil {
		return nil
	}
	if n < 0 {
		r.fail(what + " has a negative length")
		return nil
	}
	if len(r.b) < int(n) {
		r.fail(what + " truncated")
		return nil
	}
	raw := r.b[:n]
	r.b = r.b[n:]
	if !utf8.Valid(raw) {
		r.fail(what + " is not UTF-8")
		return nil
	}
	return raw
}

// DecodeCheckpoint decodes a checkpoint record's key and value. Versions
// above 0 are read by their version-0 prefix, as later versions may only
// append fields.
func DecodeCheckpoint(key, value []byte) (Checkpoint, error) {
	group, topic, partition, err := checkpointKey(key)
	if err != nil {
		return Checkpoint{}, err
	}
	v := reader{b: value}
	c := Checkpoint{Group: string(group), Topic: string(topic), Partition: partition}
	c.Upstream, c.Downstream = checkpointOffsets(&v)
	c.Metadata = v.string("value metadata")
	if v.err != nil {
		return Checkpoint{}, v.err
	}
	return c, nil
}

// checkpointKey decodes a checkpoint's key; group and topic alias key, so
// that the checkpoint index can look names up without a copy.
func checkpointKey(key []byte) (group, topic []byte, partition int32, err error) {
	k := reader{b: key}
	group = k.bytes("key group")
	topic = k.bytes("key topic")
	partition = k.int32("key partition")
	if k.err != nil {
		return nil, nil, 0, k.err
	}
	if len(k.b) != 0 {
		return nil, nil, 0, fmt.Errorf("%w: %d bytes after the key", ErrCheckpointFormat, len(k.b))
	}
	return group, topic, partition, nil
}

// checkpointOffsets reads a checkpoint value's version and offsets.
func checkpointOffsets(v *reader) (upstream, downstream int64) {
	if ver := v.int16("value version"); v.err == nil && ver < 0 {
		v.err = fmt.Errorf("%w: value version %d", ErrCheckpointFormat, ver)
		return 0, 0
	}
	return v.int64("value upstreamOffset"), v.int64("value offset")
}

// decodeCheckpointIndexed decodes what the checkpoint index keeps of a
// record, validating it as DecodeCheckpoint does without copying a name.
func decodeCheckpointIndexed(key, value []byte) (group, topic []byte, partition int32, upstream, downstream int64, err error) {
	if group, topic, partition, err = checkpointKey(key); err != nil {
		return nil, nil, 0, 0, 0, err
	}
	v := reader{b: value}
	upstream, downstream = checkpointOffsets(&v)
	v.bytes("value metadata")
	if v.err != nil {
		return nil, nil, 0, 0, 0, v.err
	}
	return group, topic, partition, upstream, downstream, nil
}

// EncodeCheckpoint writes a checkpoint in MM2's version-0 format. Tests
// use it to stand in for MM2's checkpoint connector.
func EncodeCheckpoint(c Checkpoint) (key, value []byte) {
	key = binary.BigEndian.AppendUint16(nil, uint16(len(c.Group)))
	key = append(key, c.Group...)
	key = binary.BigEndian.AppendUint16(key, uint16(len(c.Topic)))
	key = append(key, c.Topic...)
	key = binary.BigEndian.AppendUint32(key, uint32(c.Partition))
	value = binary.BigEndian.AppendUint16(nil, 0)
	value = binary.BigEndian.AppendUint64(value, uint64(c.Upstream))
	value = binary.BigEndian.AppendUint64(value, uint64(c.Downstream))
	value = binary.BigEndian.AppendUint16(value, uint16(len(c.Metadata)))
	value = append(value, c.Metadata...)
	return key, value
}

// checkpointIndex holds the latest checkpoint read of every group, topic
// and partition: 200,000 of them for 200 groups of 1,000 partitions, kept
// between measurements. A topic's partitions are numbered from 0, so each
// group and topic keeps its checkpoints in a slice by partition, 16 bytes
// and a bit each, where a map keyed by group, topic and partition took
// about 64.
type checkpointIndex struct {
	names map[string]uint32 // ids of the group and topic names
	pairs map[cpPair]*cpPartitions
}

// cpPair is a group and a topic by their ids in checkpointIndex.names.
type cpPair struct{ group, topic uint32 }

type cpVal struct{ upstream, downstream int64 }

// maxDensePartition bounds the partitions kept by slice: a checkpoint
// naming a partition beyond it (no topic has that many) goes to a map
// instead of growing the slice to its number.
const maxDensePartition = 1 << 16

// cpPartitions are the checkpoints of one group and topic.
type cpPartitions struct {
	vals   []cpVal         // by partition
	has    []uint64        // bit p: vals[p] is a checkpoint
	sparse map[int32]cpVal // partitions outside [0, maxDensePartition)
}

func newCheckpointIndex() checkpointIndex {
	return checkpointIndex{names: map[string]uint32{}, pairs: map[cpPair]*cpPartitions{}}
}

// nameID returns the id of a group or topic name, adding it.
func (x *checkpointIndex) nameID(b []byte) uint32 {
	if id, ok := x.names[string(b)]; ok {
		return id
	}
	id := uint32(len(x.names))
	x.names[string(b)] = id
	return id
}

// set records a checkpoint; group and topic are copied when new.
func (x *checkpointIndex) set(group, topic []byte, partition int32, v cpVal) {
	pair := cpPair{x.nameID(group), x.nameID(topic)}
	c := x.pairs[pair]
	if c == nil {
		c = &cpPartitions{}
		x.pairs[pair] = c
	}
	if partition < 0 || partition >= maxDensePartition {
		if c.sparse == nil {
			c.sparse = map[int32]cpVal{}
		}
		c.sparse[partition] = v
		return
	}
	p := int(partition)
	if p >= len(c.vals) {
		c.vals = append(c.vals, make([]cpVal, p+1-len(c.vals))...)
	}
	if w := p / 64; w >= len(c.has) {
		c.has = append(c.has, make([]uint64, w+1-len(c.has))...)
	}
	c.vals[p] = v
	c.has[p/64] |= 1 << (p % 64)
}

// delete forgets a checkpoint, as MM2 does on a tombstone.
func (x *checkpointIndex) delete(group, topic []byte, partition int32) {
	c := x.of(string(group), string(topic))
	switch {
	case c == nil:
	case partition < 0 || partition >= maxDensePartition:
		delete(c.sparse, partition)
	case int(partition) < len(c.vals):
		c.has[partition/64] &^= 1 << (partition % 64)
	}
}

// of returns the checkpoints of a group and topic, nil when there are
// none.
func (x *checkpointIndex) of(group, topic string) *cpPartitions {
	g, ok := x.names[group]
	if !ok {
		return nil
	}
	t, ok := x.names[topic]
	if !ok {
		return nil
	}
	return x.pairs[cpPair{g, t}]
}

// get returns a partition's checkpoint; c may be nil.
func (c *cpPartitions) get(partition int32) (cpVal, bool) {
	switch {
	case c == nil:
		return cpVal{}, false
	case partition < 0 || partition >= maxDensePartition:
		v, ok := c.sparse[partition]
		return v, ok
	case int(partition) >= len(c.vals) || c.has[partition/64]&(1<<(partition%64)) == 0:
		return cpVal{}, false
	}
	return c.vals[partition], true
}
