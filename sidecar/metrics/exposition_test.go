package metrics

import (
	"bytes"
	"errors"
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

func TestProcessorTopicDetailReducesValueByValue(t *testing.T) {
	out, res := process(t, readFixture(t, "connect_mm2.prom"), testLabels(), true)
	got, _ := parseText(t, out)
	const mm2 = "kafka_connect_mirror_source_connector_"
	src := "source=src,target=dst,"
	tests := []struct {
		series string
		want   float64
	}{
		// counts, byte counts and rates add up.
		{mm2 + "record_count{" + src + "topic=orders}", 3500},
		{mm2 + "record_count{" + src + "topic=payments}", 30},
		{mm2 + "byte_count{" + src + "topic=orders}", 3.5e6},
		{mm2 + "byte_count{" + src + "topic=payments}", 3000},
		{mm2 + "byte_rate{" + src + "topic=orders}", 30.75},
		{mm2 + "byte_rate{" + src + "topic=payments}", 3},
		// ages and latencies, and their statistics, keep the maximum.
		{mm2 + "record_age_ms{" + src + "topic=orders}", 340},
		{mm2 + "record_age_ms{" + src + "topic=payments}", 25},
		{mm2 + "record_age_ms_max{" + src + "topic=orders}", 4500}, // NaN partition ignored
		{mm2 + "record_age_ms_max{" + src + "topic=payments}", 60},
		{mm2 + "record_age_ms_min{" + src + "topic=orders}", 7},
		{mm2 + "record_age_ms_min{" + src + "topic=payments}", math.NaN()}, // only NaN
		{mm2 + "record_age_ms_avg{" + src + "topic=orders}", 300},
		{mm2 + "record_age_ms_avg{" + src + "topic=payments}", 22},
		{mm2 + "replication_latency_ms{" + src + "topic=orders}", 13},
		{mm2 + "replication_latency_ms{" + src + "topic=payments}", 9},
		{mm2 + "replication_latency_ms_max{" + src + "topic=orders}", 95},
		{mm2 + "replication_latency_ms_max{" + src + "topic=payments}", math.Inf(1)},
		{mm2 + "replication_latency_ms_min{" + src + "topic=orders}", 3},
		{mm2 + "replication_latency_ms_min{" + src + "topic=payments}", 5},
		{mm2 + "replication_latency_ms_avg{" + src + "topic=orders}", 12.5},
		{mm2 + "replication_latency_ms_avg{" + src + "topic=payments}", 8.5},
		{"kafka_connect_mirror_checkpoint_connector_checkpoint_latency_ms{group=billing," + src + "topic=orders}", 55},
		{"kafka_connect_mirror_checkpoint_connector_checkpoint_latency_ms{group=audit," + src + "topic=orders}", 70},
		// consumer lag adds up per client and topic.
		{"kafka_consumer_fetch_manager_records_lag{client_id=src->dst|msc|replication-consumer,topic=orders}", 350},
		{"kafka_consumer_fetch_manager_records_lag{client_id=src->dst|msc|replication-consumer,topic=payments}", 40},
		{"kafka_consumer_fetch_manager_records_lag{client_id=connector-consumer-sink-0,topic=orders}", 9999},
		// series without a partition pass unchanged.
		{"kafka_consumer_fetch_manager_records_lag_max{client_id=src->dst|msc|replication-consumer}", 250},
		{"jvm_gc_collection_seconds{gc=G1 Young Generation}", 42},
	}
	for _, tt := range tests {
		t.Run(tt.series, func(t *testing.T) {
			name, labels, _ := strings.Cut(strings.TrimSuffix(tt.series, "}"), "{")
			parts := append(strings.Split(labels, ","), strings.Split(taskLabelSet, ",")...)
			sort.Strings(parts)
			k := name + "{" + strings.Join(parts, ",") + "}"
			g, ok := got[k]
			if !ok {
				t.Fatalf("missing %s in\n%s", k, out)
			}
			if !(g == tt.want || math.IsNaN(g) && math.IsNaN(tt.want)) {
				t.Fatalf("got %v, want %v", g, tt.want)
			}
		})
	}
	for k := range got {
		if strings.Contains(k, "partition=") {
			t.Errorf("series with partition left in topic mode: %s", k)
		}
	}
	if res.Samples != 97 {
		t.Errorf("samples read = %d, want 97", res.Samples)
	}
	if res.Written != len(got)+2 { // a summary's _count and _sum are one series for the parser, two samples here
		t.Errorf("written = %d, parsed series = %d", res.Written, len(got))
	}
}

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
