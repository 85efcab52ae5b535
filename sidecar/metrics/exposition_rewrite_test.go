package metrics

import (
	"math"
	"sort"
	"strings"
	"testing"
)

func TestProcessorPartitionDetailKeepsEverySeries(t *testing.T) {
	in := readFixture(t, "connect_mm2.prom")
	out, res := process(t, in, testLabels(), false)
	want, _ := parseText(t, in)
	got, _ := parseText(t, out)
	if res.Malformed != 0 || res.Dropped != 0 {
		t.Fatalf("malformed=%d dropped=%d, want 0", res.Malformed, res.Dropped)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d series, want %d", len(got), len(want))
	}
	for k, v := range want {
		name, labels, _ := strings.Cut(strings.TrimSuffix(k, "}"), "{")
		all := []string{taskLabelSet}
		if labels != "" {
			all = append(all, labels)
		}
		parts := strings.Split(strings.Join(all, ","), ",")
		sort.Strings(parts)
		k2 := name + "{" + strings.Join(parts, ",") + "}"
		g, ok := got[k2]
		if !ok {
			t.Errorf("missing %s", k2)
			continue
		}
		if !(g == v || math.IsNaN(g) && math.IsNaN(v)) {
			t.Errorf("%s = %v, want %v", k2, g, v)
		}
	}
}
