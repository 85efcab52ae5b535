package mm2

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
	// Group is the consumer group, named the same on both clusters.
	Group string
	// Topic is the source topic (not its remote name on the target).
	Topic string
	// Partition is the partition's number, the same on both clusters.
	Partition int32
	// Upstream is the group's committed offset on the source.
	Upstream int64
	// Downstream is Upstream translated to the target through MM2's
	// offset syncs: where a consumer moved to the target resumes.
	Downstream int64
	// Metadata is the group's commit metadata, carried over as is.
	Metadata string
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
	group, topic, partition, err := DecodeCheckpointKey(key)
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

// DecodeCheckpointKey decodes a checkpoint's key (a tombstone's too);
// group and topic alias key, so that an index of checkpoints can look
// names up without a copy.
func DecodeCheckpointKey(key []byte) (group, topic []byte, partition int32, err error) {
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

// DecodeCheckpointInPlace decodes what an index of checkpoints keeps of
// a record, validating it as DecodeCheckpoint does without copying a
// name: group and topic alias key.
func DecodeCheckpointInPlace(key, value []byte) (group, topic []byte, partition int32, upstream, downstream int64, err error) {
	if group, topic, partition, err = DecodeCheckpointKey(key); err != nil {
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
