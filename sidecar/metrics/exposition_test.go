package metrics

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func testLabels() TaskLabels {
	return TaskLabels{Cluster: "mm2", Service: "connect", TaskID: "0123abcd", AvailabilityZone: "eu-west-1a"}
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseText parses b with the reference parser and returns the samples as
// "name{k=v,...}" (labels sorted) -> value, failing on any parse error.
func parseText(t *testing.T, b []byte) (map[string]float64, map[string]*dto.MetricFamily) {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("output is not valid text exposition: %v\n%s", err, b)
	}
	out := make(map[string]float64)
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			case m.Summary != nil:
				v = float64(m.GetSummary().GetSampleCount())
			default:
				continue
			}
			k := seriesKey(name, m.GetLabel())
			if _, dup := out[k]; dup {
				t.Fatalf("duplicate series %s", k)
			}
			out[k] = v
		}
	}
	return out, mfs
}

func seriesKey(name string, labels []*dto.LabelPair) string {
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

func process(t *testing.T, in []byte, labels TaskLabels, perTopic bool) ([]byte, ProcessResult) {
	t.Helper()
	var out bytes.Buffer
	res, err := NewProcessor(labels, perTopic).Process(bytes.NewReader(in), &out)
	if err != nil {
		t.Fatalf("process: %v", err)
	}
	return out.Bytes(), res
}

const taskLabelSet = "availability_zone=eu-west-1a,ecs_cluster=mm2,ecs_service=connect,ecs_task_id=0123abcd"

func TestProcessorCapturesScalingInputs(t *testing.T) {
	for _, perTopic := range []bool{false, true} {
		_, res := process(t, readFixture(t, "connect_mm2.prom"), TaskLabels{}, perTopic)
		if res.LeaderURL != "http://10.0.1.5:8083/" {
			t.Errorf("leader = %q", res.LeaderURL)
		}
		// 100+250+0+40 from the replication consumer; NaN and the sink
		// connector's consumer are left out.
		if res.BacklogRecords != 390 {
			t.Errorf("backlog = %v, want 390", res.BacklogRecords)
		}
		if res.MaxRecordAgeMs != 4500 {
			t.Errorf("max record age = %v, want 4500", res.MaxRecordAgeMs)
		}
		// +Inf is not a latency; the largest finite one is.
		if res.MaxReplicationLatencyMs != 95 {
			t.Errorf("max replication latency = %v, want 95", res.MaxReplicationLatencyMs)
		}
	}
}

// TestProcessorOnTheShippedRules runs the processor over what the Connect
// image's JMX exporter rules produce: the rules' expected output
// (rules-expected.prom, with known numbers) and the output of the real agent
// on running MM2 workers (jmx-exposition.prom, captured by the integration
// suite), whose numbers are read independently with prometheus/common. A
// change of a rule that breaks what the sidecar captures fails here.
func TestProcessorOnTheShippedRules(t *testing.T) {
	tests := []struct {
		file string
		want func(t *testing.T, in []byte) ProcessResult
	}{
		{"rules-expected.prom", func(*testing.T, []byte) ProcessResult {
			return ProcessResult{LeaderURL: "http://10.0.1.5:8083/", BacklogRecords: 1215, MaxRecordAgeMs: 2304, MaxReplicationLatencyMs: 120}
		}},
		{"jmx-exposition.prom", independentReading},
	}
	for _, tt := range tests {
		in, err := os.ReadFile(filepath.Join("..", "..", "connect-image", "testdata", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		want := tt.want(t, in)
		if want.LeaderURL == "" || math.IsNaN(want.MaxRecordAgeMs) {
			t.Fatalf("%s: holds no leader or no MM2 record age: %+v", tt.file, want)
		}
		for _, perTopic := range []bool{false, true} {
			out, res := process(t, in, testLabels(), perTopic)
			parseText(t, out)
			if res.Malformed != 0 || res.Dropped != 0 {
				t.Errorf("%s perTopic=%v: malformed %d dropped %d", tt.file, perTopic, res.Malformed, res.Dropped)
			}
			if res.LeaderURL != want.LeaderURL || res.BacklogRecords != want.BacklogRecords ||
				res.MaxRecordAgeMs != want.MaxRecordAgeMs || res.MaxReplicationLatencyMs != want.MaxReplicationLatencyMs {
				t.Errorf("%s perTopic=%v: captured %+v, want %+v", tt.file, perTopic, res, want)
			}
		}
	}
}

// independentReading computes what the processor should capture with
// prometheus/common's parser instead of the processor's own.
func independentReading(t *testing.T, in []byte) ProcessResult {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := ProcessResult{MaxRecordAgeMs: math.NaN(), MaxReplicationLatencyMs: math.NaN()}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	value := func(m *dto.Metric) float64 {
		if m.Gauge != nil {
			return m.GetGauge().GetValue()
		}
		return m.GetUntyped().GetValue()
	}
	for _, m := range fams["kafka_connect_worker_rebalance_leader"].GetMetric() {
		want.LeaderURL = label(m, "leader_name")
	}
	for _, m := range fams["kafka_consumer_fetch_manager_records_lag"].GetMetric() {
		if v := value(m); strings.HasSuffix(label(m, "client_id"), "|replication-consumer") && !math.IsNaN(v) {
			want.BacklogRecords += v
		}
	}
	for name, dst := range map[string]*float64{
		"kafka_connect_mirror_source_connector_record_age_ms":              &want.MaxRecordAgeMs,
		"kafka_connect_mirror_source_connector_record_age_ms_max":          &want.MaxRecordAgeMs,
		"kafka_connect_mirror_source_connector_replication_latency_ms":     &want.MaxReplicationLatencyMs,
		"kafka_connect_mirror_source_connector_replication_latency_ms_max": &want.MaxReplicationLatencyMs,
	} {
		for _, m := range fams[name].GetMetric() {
			if v := value(m); !math.IsNaN(v) && !math.IsInf(v, 0) && (math.IsNaN(*dst) || v > *dst) {
				*dst = v
			}
		}
	}
	return want
}

func TestProcessorIsReusable(t *testing.T) {
	p := NewProcessor(testLabels(), true)
	in := readFixture(t, "connect_mm2.prom")
	var a, b bytes.Buffer
	if _, err := p.Process(bytes.NewReader(in), &a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(bytes.NewReader(in), &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("second pass differs from the first")
	}
}

func FuzzProcessor(f *testing.F) {
	for _, name := range []string{"connect_mm2.prom", "malformed.prom"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	f.Add([]byte("m{topic=\"t\",partition=\"0\"} 1\nm{topic=\"t\",partition=\"1\"} NaN\n"), true)
	f.Fuzz(func(t *testing.T, in []byte, perTopic bool) {
		var out bytes.Buffer
		res, err := NewProcessor(testLabels(), perTopic).Process(bytes.NewReader(in), &out)
		if err != nil {
			t.Fatalf("process: %v", err)
		}
		// Whatever came in, what goes out is clean: a second pass finds
		// nothing to skip and every sample carries the task labels.
		var again bytes.Buffer
		res2, err := NewProcessor(TaskLabels{}, false).Process(bytes.NewReader(out.Bytes()), &again)
		if err != nil {
			t.Fatalf("second pass: %v", err)
		}
		if res2.Malformed != 0 || res2.Dropped != 0 {
			t.Fatalf("output has %d malformed and %d foreign lines:\n%q", res2.Malformed, res2.Dropped, out.String())
		}
		if res2.Samples != res.Written {
			t.Fatalf("wrote %d samples, second pass read %d", res.Written, res2.Samples)
		}
		if !bytes.Equal(out.Bytes(), again.Bytes()) {
			t.Fatalf("output is not stable under a second pass:\n%q\n%q", out.String(), again.String())
		}
		for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			if !bytes.Contains(line, []byte(`ecs_task_id="0123abcd"`)) {
				t.Fatalf("sample without task labels: %q", line)
			}
		}
		_, _ = io.Copy(io.Discard, &again)
	})
}
