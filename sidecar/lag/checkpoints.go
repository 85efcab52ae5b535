package lag

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
