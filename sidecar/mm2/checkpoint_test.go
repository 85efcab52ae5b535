package mm2

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
		g, tp, p, up, down, ierr := DecodeCheckpointInPlace(key, value)
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
