package metrics

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
)

// mm2Exposition generates the JMX exporter's output for a worker in a large
// migration: every MM2 source metric and the replication consumers' lag per
// partition. It returns the text and the number of topics.
func mm2Exposition(series, partitionsPerTopic int) ([]byte, int) {
	mm2 := []string{"record_count", "byte_count", "byte_rate",
		"record_age_ms", "record_age_ms_max", "record_age_ms_min", "record_age_ms_avg",
		"replication_latency_ms", "replication_latency_ms_max", "replication_latency_ms_min", "replication_latency_ms_avg"}
	consumer := []string{"records_lag", "records_lag_max", "records_lead"}
	perPartition := len(mm2) + len(consumer)
	partitions := series / perPartition
	topics := (partitions + partitionsPerTopic - 1) / partitionsPerTopic

	var b bytes.Buffer
	b.Grow(series * 150)
	num := make([]byte, 0, 32)
	value := func(i, f int) []byte {
		num = strconv.AppendFloat(num[:0], float64((i*7919+f*104729)%1000003), 'E', -1, 64)
		return num
	}
	writeSamples := func(family string, prefix func(topic, partition int)) {
		for p := 0; p < partitions; p++ {
			prefix(p/partitionsPerTopic, p%partitionsPerTopic)
			b.Write(value(p, len(family)))
			b.WriteByte('\n')
		}
	}
	for _, f := range mm2 {
		name := "kafka_connect_mirror_source_connector_" + f
		fmt.Fprintf(&b, "# HELP %s MM2 source connector metric %s\n# TYPE %s gauge\n", name, f, name)
		writeSamples(f, func(topic, partition int) {
			fmt.Fprintf(&b, `%s{source="onprem",target="msk",topic="migration.topic-%05d",partition="%d"} `, name, topic, partition)
		})
	}
	for _, f := range consumer {
		name := "kafka_consumer_fetch_manager_" + f
		fmt.Fprintf(&b, "# HELP %s consumer fetch manager metric %s\n# TYPE %s gauge\n", name, f, name)
		writeSamples(f, func(topic, partition int) {
			fmt.Fprintf(&b, `%s{client_id="onprem->msk|msc|replication-consumer",partition="%d",topic="migration.topic-%05d"} `,
				name, partition, topic)
		})
	}
	return b.Bytes(), topics
}

// peakHeap runs f while sampling the live heap and returns the largest
// growth over the heap in use before f started.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	peak := base
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if h := read(); h > peak {
					peak = h
				}
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if h := read(); h > peak {
		peak = h
	}
	return peak - base
}

// BenchmarkExposition compares the streaming processor with expfmt's
// TextParser on the same bytes. Run:
//
//	go test ./sidecar/metrics -run '^$' -bench Exposition -benchmem -benchtime 3x
func BenchmarkExposition(b *testing.B) {
	// The third case has ten times the series of the first on the same
	// topics: the per-topic processor's memory must not follow the series.
	for _, c := range []struct{ series, partitionsPerTopic int }{
		{100_000, 50}, {1_000_000, 50}, {1_000_000, 500},
	} {
		n := c.series
		in, topics := mm2Exposition(n, c.partitionsPerTopic)
		lines := bytes.Count(in, []byte("\n"))
		report := func(b *testing.B, peak uint64) {
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(topics), "topics")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		}
		for _, mode := range []struct {
			name     string
			perTopic bool
		}{{"stream-per-topic", true}, {"stream-per-partition", false}} {
			b.Run(fmt.Sprintf("series=%d,topics=%d/%s", n, topics, mode.name), func(b *testing.B) {
				p := NewProcessor(TaskLabels{Cluster: "mm2", Service: "connect", TaskID: "8f1c0b6e2a4d4c1b", AvailabilityZone: "eu-west-1a"}, mode.perTopic)
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				b.ResetTimer()
				peak := peakHeap(func() {
					for b.Loop() {
						res, err := p.Process(bytes.NewReader(in), io.Discard)
						if err != nil || res.Malformed != 0 {
							b.Fatalf("process: %v, malformed %d", err, res.Malformed)
						}
					}
				})
				report(b, peak)
			})
		}
		b.Run(fmt.Sprintf("series=%d,topics=%d/expfmt-TextParser", n, topics), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			b.ResetTimer()
			peak := peakHeap(func() {
				for b.Loop() {
					p := expfmt.NewTextParser(model.LegacyValidation)
					if _, err := p.TextToMetricFamilies(bytes.NewReader(in)); err != nil {
						b.Fatal(err)
					}
				}
			})
			report(b, peak)
		})
	}
}

// perScrape renders an exposition for every scrape, as /metrics did before
// scrapes shared renderings: the baseline of BenchmarkConcurrentScrapes.
type perScrape struct{ h *handler }

func (p perScrape) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	cur := &rendering{done: make(chan struct{})}
	p.h.render(cur, 0)
	_, _ = w.Write(cur.body)
}

// BenchmarkConcurrentScrapes sends 200 concurrent scrapes per operation to
// a sidecar with 1,000 connectors and the JMX passthrough on, and reports
// the peak heap growth and the requests made of the JMX exporter, shared
// renderings against one rendering per scrape. Run:
//
//	go test ./sidecar/metrics -run '^$' -bench ConcurrentScrapes -benchmem -benchtime 3x
func BenchmarkConcurrentScrapes(b *testing.B) {
	const connectors, scrapers = 1000, 200
	exposition, _ := mm2Exposition(20_000, 8)
	var exporterRequests atomic.Int64
	jmxSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		exporterRequests.Add(1)
		_, _ = w.Write(exposition)
	}))
	defer jmxSrv.Close()
	reg := NewRegistry("bench")
	statuses := map[string]connect.ConnectorStatus{}
	for i := range connectors {
		name := fmt.Sprintf("mm2-msc-%04d", i)
		reg.ObserveReconcile(name, "unchanged", time.Millisecond)
		statuses[name] = connect.ConnectorStatus{Name: name, Connector: connect.State{State: "RUNNING", WorkerID: "w:8083"},
			Tasks: []connect.TaskState{{ID: 0, State: "RUNNING", WorkerID: "w:8083"}, {ID: 1, State: "RUNNING", WorkerID: "w:8083"}}}
	}
	reg.State().Update(statuses, "w:8083", true)
	jmx := NewJMX(JMXOptions{URL: jmxSrv.URL, Timeout: 10 * time.Second, Labels: testLabels(), PerTopic: true}, reg)
	for _, bb := range []struct {
		name string
		h    http.Handler
	}{
		{"shared", Handler(reg, jmx, nil)},
		{"rendering-per-scrape", perScrape{&handler{reg: reg, jmx: jmx}}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			srv := httptest.NewServer(bb.h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: scrapers}}
			exporterRequests.Store(0)
			var peak uint64
			for b.Loop() {
				peak = max(peak, peakHeap(func() {
					var wg sync.WaitGroup
					for range scrapers {
						wg.Go(func() {
							resp, err := client.Get(srv.URL)
							if err != nil {
								b.Error(err)
								return
							}
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						})
					}
					wg.Wait()
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(exporterRequests.Load())/float64(b.N), "exporter-requests/op")
		})
	}
}
