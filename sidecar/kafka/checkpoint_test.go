package kafka

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
)

func readHex(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		b.WriteString(strings.ReplaceAll(line, " ", ""))
	}
	out, err := hex.DecodeString(b.String())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

func TestDecodeCheckpointFromSpec(t *testing.T) {
	key := readHex(t, "testdata/checkpoint_v0.key.hex")
	value := readHex(t, "testdata/checkpoint_v0.value.hex")
	got, err := DecodeCheckpoint(key, value)
	if err != nil {
		t.Fatal(err)
	}
	want := Checkpoint{Group: "orders-app", Topic: "orders", Partition: 7, Upstream: 1234, Downstream: 1200, Metadata: "md"}
	if got != want {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	k, v := EncodeCheckpoint(want)
	if !bytes.Equal(k, key) || !bytes.Equal(v, value) {
		t.Errorf("encode differs from the spec bytes:\n key %x\nwant %x\n val %x\nwant %x", k, key, v, value)
	}
}

func TestDecodeCheckpointRejects(t *testing.T) {
	key := readHex(t, "testdata/checkpoint_v0.key.hex")
	value := readHex(t, "testdata/checkpoint_v0.value.hex")
	later := append([]byte{0, 1}, value[2:]...)
	later = append(later, 0, 0, 0, 9) // a field a later version appends
	tests := []struct {
		name       string
		key, value []byte
		ok         bool
	}{
		{"later version reads its v0 prefix", key, later, true},
		{"empty key", nil, value, false},
		{"truncated key", key[:len(key)-1], value, false},
		{"trailing key bytes", append(append([]byte{}, key...), 0), value, false},
		{"negative string length", append([]byte{0xff, 0xff}, key[2:]...), value, false},
		{"negative version", key, append([]byte{0xff, 0xfe}, value[2:]...), false},
		{"truncated value", key, value[:10], false},
		{"metadata longer than value", key, append(append([]byte{}, value[:18]...), 0, 9, 'x'), false},
		{"invalid utf-8 group", []byte{0, 1, 0xff, 0, 0, 0, 0, 0, 0}, value, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCheckpoint(tc.key, tc.value)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && !errors.Is(err, ErrCheckpointFormat) {
				t.Fatalf("err = %v, want ErrCheckpointFormat", err)
			}
		})
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	k, v := EncodeCheckpoint(Checkpoint{Group: "g", Topic: "t", Partition: 3, Upstream: 10, Downstream: 9, Metadata: "m"})
	f.Add(k, v)
	f.Add([]byte{}, []byte{})
	f.Add([]byte{0xff, 0xff}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		c, err := DecodeCheckpoint(key, value)
		// The index's decoding accepts and reads exactly the same.
		g, tp, p, up, down, ierr := decodeCheckpointIndexed(key, value)
		if (ierr == nil) != (err == nil) || err == nil && (string(g) != c.Group || string(tp) != c.Topic || p != c.Partition || up != c.Upstream || down != c.Downstream) {
			t.Fatalf("index decoding = %q %q %d %d %d, %v; DecodeCheckpoint = %+v, %v", g, tp, p, up, down, ierr, c, err)
		}
		if err != nil {
			if !errors.Is(err, ErrCheckpointFormat) {
				t.Fatalf("error not marked ErrCheckpointFormat: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to a key that decodes the same.
		k2, v2 := EncodeCheckpoint(c)
		c2, err := DecodeCheckpoint(k2, v2)
		if err != nil || c2 != c {
			t.Fatalf("round trip: %+v -> %+v, %v", c, c2, err)
		}
	})
}

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
