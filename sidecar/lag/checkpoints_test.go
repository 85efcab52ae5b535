package lag

import "testing"

func TestCheckpointIndex(t *testing.T) {
	type op struct {
		del          bool
		group, topic string
		partition    int32
		up, down     int64
	}
	type look struct {
		group, topic string
		partition    int32
		want         cpVal
		ok           bool
	}
	for _, tc := range []struct {
		name  string
		ops   []op
		looks []look
	}{
		{
			name: "latest checkpoint per group, topic and partition",
			ops: []op{
				{group: "g", topic: "t", partition: 0, up: 1, down: 1},
				{group: "g", topic: "t", partition: 0, up: 5, down: 4},
				{group: "g", topic: "t", partition: 70, up: 7, down: 7},
				{group: "g", topic: "u", partition: 1, up: 2, down: 2},
				{group: "h", topic: "t", partition: 0, up: 3, down: 3},
			},
			looks: []look{
				{"g", "t", 0, cpVal{5, 4}, true},
				{"g", "t", 70, cpVal{7, 7}, true},
				{"g", "t", 1, cpVal{}, false},  // below one that is set
				{"g", "t", 71, cpVal{}, false}, // beyond the last
				{"g", "u", 1, cpVal{2, 2}, true},
				{"g", "u", 0, cpVal{}, false},
				{"h", "t", 0, cpVal{3, 3}, true},
				{"h", "u", 1, cpVal{}, false}, // both names known, not together
				{"x", "t", 0, cpVal{}, false},
			},
		},
		{
			name: "tombstones",
			ops: []op{
				{group: "g", topic: "t", partition: 3, up: 1, down: 1},
				{group: "g", topic: "t", partition: 4, up: 2, down: 2},
				{del: true, group: "g", topic: "t", partition: 3},
				{del: true, group: "g", topic: "t", partition: 900}, // never set
				{del: true, group: "nobody", topic: "t", partition: 4},
				{group: "g", topic: "u", partition: -1, up: 6, down: 6},
				{del: true, group: "g", topic: "u", partition: -1},
				{group: "g", topic: "t", partition: 9, up: 9, down: 9},
				{del: true, group: "g", topic: "t", partition: 9},
				{group: "g", topic: "t", partition: 9, up: 10, down: 10},
			},
			looks: []look{
				{"g", "t", 3, cpVal{}, false},
				{"g", "t", 4, cpVal{2, 2}, true},
				{"g", "t", 9, cpVal{10, 10}, true},
				{"g", "u", -1, cpVal{}, false},
			},
		},
		{
			name: "partitions no slice holds",
			ops: []op{
				{group: "g", topic: "t", partition: -5, up: 1, down: 2},
				{group: "g", topic: "t", partition: maxDensePartition, up: 3, down: 4},
				{group: "g", topic: "t", partition: 1<<31 - 1, up: 5, down: 6},
				{group: "g", topic: "t", partition: maxDensePartition - 1, up: 7, down: 8},
			},
			looks: []look{
				{"g", "t", -5, cpVal{1, 2}, true},
				{"g", "t", maxDensePartition, cpVal{3, 4}, true},
				{"g", "t", 1<<31 - 1, cpVal{5, 6}, true},
				{"g", "t", maxDensePartition - 1, cpVal{7, 8}, true},
				{"g", "t", -1, cpVal{}, false},
				{"g", "t", 0, cpVal{}, false},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newCheckpointIndex()
			for _, o := range tc.ops {
				if o.del {
					x.delete([]byte(o.group), []byte(o.topic), o.partition)
				} else {
					x.set([]byte(o.group), []byte(o.topic), o.partition, cpVal{o.up, o.down})
				}
			}
			for _, l := range tc.looks {
				if got, ok := x.of(l.group, l.topic).get(l.partition); got != l.want || ok != l.ok {
					t.Errorf("%s %s[%d] = %v, %t; want %v, %t", l.group, l.topic, l.partition, got, ok, l.want, l.ok)
				}
			}
		})
	}
}
