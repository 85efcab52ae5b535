package lag

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// TestWriteJSONMatchesMarshalIndent: the streamed document is the one
// encoding/json builds in memory, byte for byte, for a measured snapshot
// and for the edge cases of empty, nil and omitted fields.
func TestWriteJSONMatchesMarshalIndent(t *testing.T) {
	e := scenario(t)
	m := NewMeasurer(e.api, MeasurerOptions{})
	t.Cleanup(m.Close)
	measured, err := m.Measure(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	withUnknown := *measured
	withUnknown.Unreachable = map[string]string{"tgt": `target cluster "tgt": <unreachable> & down`}
	withUnknown.Topics = append([]TopicLag{{Topic: "a<b>", RemoteTopic: "a<b>", Unknown: "no leader", Partitions: []PartitionLag{}}}, measured.Topics...)
	withUnknown.Groups = append([]GroupReadiness{{Group: "g", Verdict: Unknown, Unknown: "COORDINATOR_NOT_AVAILABLE"}}, measured.Groups...)
	for _, tc := range []struct {
		name string
		snap *Snapshot
	}{
		{"measured", measured},
		{"unknown items and escaping", &withUnknown},
		{"empty", &Snapshot{Time: time.Unix(0, 0).UTC(), Topics: []TopicLag{}}},
		{"zero", &Snapshot{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ind := range [][2]string{{"", "  "}, {"  ", "  "}, {"", "\t"}} {
				want, err := json.MarshalIndent(tc.snap, ind[0], ind[1])
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := tc.snap.WriteJSON(&got, ind[0], ind[1]); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("prefix %q indent %q:\ngot:\n%s\nwant:\n%s", ind[0], ind[1], got.Bytes(), want)
				}
			}
		})
	}
}

type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteJSONReportsWriteErrors(t *testing.T) {
	s := &Snapshot{Topics: []TopicLag{{Topic: "orders", Partitions: make([]PartitionLag, 100)}}}
	if err := s.WriteJSON(&failAfter{n: 1000}, "", "  "); err == nil || err.Error() != "disk full" {
		t.Fatalf("err = %v, want the writer's", err)
	}
}
