package metrics

import (
	"math"
	"sort"
	"strings"
	"testing"
)

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
