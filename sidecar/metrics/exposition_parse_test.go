package metrics

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestProcessorMalformedAndSpecialValues(t *testing.T) {
	out, res := process(t, readFixture(t, "malformed.prom"), testLabels(), false)
	got, mfs := parseText(t, out)
	if res.Malformed != 12 {
		t.Errorf("malformed = %d, want 12\n%s", res.Malformed, out)
	}
	if res.Dropped != 3 {
		t.Errorf("dropped = %d, want 3 (the sidecar's own name)", res.Dropped)
	}
	if res.Written != 8 || len(got) != 8 {
		t.Errorf("written = %d, parsed = %d, want 8\n%s", res.Written, len(got), out)
	}
	if _, ok := mfs["connect_sidecar_jmx_up"]; ok {
		t.Error("passthrough kept a family in the sidecar's namespace")
	}
	for _, want := range []string{
		`good_metric{` + "ecs_cluster=\"mm2\",ecs_service=\"connect\",ecs_task_id=\"0123abcd\",availability_zone=\"eu-west-1a\"" + `,a="escaped \"quote\" and \\ and \n"} 11`,
		`a="nan"} NaN`, `a="inf"} +Inf`, `a="neginf"} -Inf`,
		`a="10"} 10 1700000000000`,
		`exported_ecs_cluster="theirs"} 12`,
		`,b="x"} 13`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %q\n%s", want, out)
		}
	}
	if n := bytes.Count(out, []byte("# TYPE good_metric")); n != 1 {
		t.Errorf("TYPE good_metric written %d times, want once", n)
	}
	esc := mfs["good_metric"]
	found := false
	for _, m := range esc.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "a" && l.GetValue() == "escaped \"quote\" and \\ and \n" {
				found = true
			}
		}
	}
	if !found {
		t.Error("escaped label value did not survive the round trip")
	}
}

func TestProcessorHugeLabelValues(t *testing.T) {
	big := strings.Repeat("x", 300<<10) // passes: longer than the read buffer, shorter than the line limit
	huge := strings.Repeat("y", 2<<20)  // skipped: longer than the line limit
	in := "# HELP m A gauge.\n# TYPE m gauge\n" +
		`m{v="` + big + `"} 1` + "\n" +
		`m{v="` + huge + `"} 2` + "\n" +
		`m{v="small"} 3` + "\n"
	out, res := process(t, []byte(in), testLabels(), false)
	got, _ := parseText(t, out)
	if res.Malformed != 1 || len(got) != 2 {
		t.Fatalf("malformed = %d, series = %d; want 1 and 2", res.Malformed, len(got))
	}
	for k, v := range got {
		if strings.Contains(k, big) && v != 1 {
			t.Errorf("big label series = %v", v)
		}
		if strings.Contains(k, "yyyyyyyy") {
			t.Error("line over the limit was passed through")
		}
	}
}

type failingReader struct {
	data []byte
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestProcessorReadErrorKeepsCompleteLines(t *testing.T) {
	in := "# TYPE m gauge\nm{a=\"1\"} 1\nm{a=\"2\"} 2\nm{a=\"3\"} 3"
	var out bytes.Buffer
	_, err := NewProcessor(TaskLabels{}, false).Process(&failingReader{data: []byte(in)}, &out)
	if err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("err = %v, want the read error", err)
	}
	got, _ := parseText(t, out.Bytes())
	if len(got) != 2 {
		t.Fatalf("got %d series, want the 2 complete lines:\n%s", len(got), out.String())
	}
}
