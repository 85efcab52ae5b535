package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
)

// sidecarReads are the JMX exporter series connect-sidecar itself reads:
// the leader's name, the records-lag of MM2's consumers (the scaling
// metric) and MM2's record age and replication latency (CloudWatch).
var sidecarReads = map[string][]string{
	"kafka_connect_worker_rebalance_leader":                           {"leader_name"},
	"kafka_consumer_fetch_manager_records_lag":                        {"client_id", "topic", "partition"},
	"kafka_connect_mirror_source_connector_record_age_ms":             {"source", "target", "topic", "partition"},
	"kafka_connect_mirror_source_connector_replication_latency_ms":    {"source", "target", "topic", "partition"},
	"kafka_connect_mirror_checkpoint_connector_checkpoint_latency_ms": {"source", "target", "group", "topic", "partition"},
}

// updateFixture rewrites connect-image/testdata/jmx-exposition.prom from
// the live workers when set (MM2_UPDATE_JMX_FIXTURE=1).
var updateFixture = os.Getenv("MM2_UPDATE_JMX_FIXTURE") != ""

// jmxNamesExist scrapes the real agents of the running MM2 workers and
// checks every series the sidecar, the dashboards and the alert rules read
// is there with its labels. The dashboards' and rules' names are checked
// against connect-image/testdata/jmx-exposition.prom by TestQueriedMetricsExist;
// this step checks that fixture against the real agent, and the rules'
// own expectations (testdata/rules-expected.prom) too.
func jmxNamesExist(t *testing.T, d *demo.Demo) {
	var live map[string]*dto.MetricFamily
	var perWorker []map[string]*dto.MetricFamily
	eventually(t, 2*time.Minute, "MM2 source and checkpoint series on the agents", func() (bool, string) {
		perWorker = perWorker[:0]
		for _, w := range d.Workers {
			perWorker = append(perWorker, scrape(t, w.JMXURL))
		}
		live = merge(perWorker)
		var missing []string
		for name := range sidecarReads {
			if len(live[name].GetMetric()) == 0 {
				missing = append(missing, name)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %v", missing)
	})

	repo, err := demo.FindRepo()
	if err != nil {
		t.Fatal(err)
	}
	fixture := filepath.Join(repo, "connect-image", "testdata", "jmx-exposition.prom")
	if updateFixture {
		writeExposition(t, fixture, live)
		t.Logf("wrote %s from the live agents (%d families)", fixture, len(live))
	}

	var checked []string
	check := func(where, name string, labels []string) {
		checked = append(checked, name)
		fam, ok := live[name]
		if !ok || len(fam.GetMetric()) == 0 {
			t.Errorf("%s: %s is not in the real JMX exporter's output", where, name)
			return
		}
		have := labelNames(fam)
		for _, l := range labels {
			if !have[l] {
				t.Errorf("%s: %s has no label %q in the real output (it has %v)", where, name, l, slices.Sorted(maps.Keys(have)))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(sidecarReads)) {
		check("read by connect-sidecar", name, sidecarReads[name])
	}
	for _, f := range []string{"jmx-exposition.prom", "rules-expected.prom"} {
		fams := readExposition(t, filepath.Join(repo, "connect-image", "testdata", f))
		for _, name := range slices.Sorted(maps.Keys(fams)) {
			check("connect-image/testdata/"+f, name, slices.Sorted(maps.Keys(labelNames(fams[name]))))
		}
	}
	slices.Sort(checked)
	checked = slices.Compact(checked)
	t.Logf("checked %d series names against the real agent: %s", len(checked), strings.Join(checked, " "))
}

// merge takes every family from the first worker that has it, so each
// family of the result is one worker's real output.
func merge(perWorker []map[string]*dto.MetricFamily) map[string]*dto.MetricFamily {
	out := map[string]*dto.MetricFamily{}
	for _, fams := range perWorker {
		for name, fam := range fams {
			if len(out[name].GetMetric()) == 0 {
				out[name] = fam
			}
		}
	}
	return out
}

func labelNames(fam *dto.MetricFamily) map[string]bool {
	out := map[string]bool{}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			out[l.GetName()] = true
		}
	}
	return out
}

func readExposition(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fams, err := parseExposition(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return fams
}

func writeExposition(t *testing.T, path string, fams map[string]*dto.MetricFamily) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# Captured from the JMX exporter agent of real Kafka Connect workers running\n")
	b.WriteString("# MirrorMaker 2 (connect-image/runtime/pom.xml versions) by the integration\n")
	b.WriteString("# suite: MM2_UPDATE_JMX_FIXTURE=1 go test ./sidecar/integration -run TestRealKafka\n")
	for _, name := range slices.Sorted(maps.Keys(fams)) {
		if _, err := expfmt.MetricFamilyToText(&b, fams[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// backlogIsRecordsLag checks each worker's CloudWatch ReplicationBacklogRecords
// (EMF) against the records-lag of that worker's MM2 consumers in the JMX
// scrape the sidecar took it from: the sidecar's /metrics streams the scrape
// and keeps its reading, which the next EMF line publishes. To see a backlog
// above 0, MM2's consumers are held to small fetches (a connector file edit,
// undone at the end) under a real fetch quota on the source while a burst of
// small batches lands there.
func backlogIsRecordsLag(t *testing.T, d *demo.Demo) {
	ctx := context.Background()
	original := connectorFile(t, "mm2-msc")
	slow := maps.Clone(original.Config)
	slow["source.consumer.max.partition.fetch.bytes"] = "1024"
	slow["source.consumer.fetch.max.bytes"] = "1024"
	putConnector(t, d, "mm2-msc", slow)
	defer putConnector(t, d, "mm2-msc", original.Config)
	eventually(t, 90*time.Second, "mm2-msc reconfigured with small fetches", func() (bool, string) {
		code, body := rest(t, "GET", d.ConnectURL()+"/connectors/mm2-msc/config", "")
		cfg, _ := body.(map[string]any)
		return code == 200 && cfg["source.consumer.fetch.max.bytes"] == "1024", fmt.Sprintf("HTTP %d", code)
	})

	src, err := kgo.NewClient(kgo.SeedBrokers(d.SourceAddrs()...), kgo.ProducerBatchMaxBytes(1024), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	setQuota := func(remove bool) {
		res, err := kadm.NewClient(src).AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
			Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id"}}, // every consumer of the source
			Ops:    []kadm.AlterClientQuotaOp{{Key: "consumer_byte_rate", Value: 8192, Remove: remove}},
		}})
		for _, r := range res {
			err = errors.Join(err, r.Err)
		}
		if err != nil {
			t.Fatalf("source consumer quota: %v", err)
		}
	}
	setQuota(false)
	defer setQuota(true)
	recs := make([]*kgo.Record, 0, 50_000)
	for i := range cap(recs) {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: fmt.Appendf(nil, "burst-%d-%x", i, i*2654435761)})
	}
	if err := src.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	isMM2 := func(l map[string]string) bool { return strings.HasSuffix(l["client_id"], "|replication-consumer") }
	compared := 0
	eventually(t, 3*time.Minute, "a worker's EMF backlog compared with a records-lag above 0", func() (bool, string) {
		var seen []string
		for w, sc := range d.Sidecars {
			if exited, _ := d.Workers[w].Exited(); exited {
				continue
			}
			lag := sum(scrape(t, sc.MetricsURL+"/metrics"), "kafka_consumer_fetch_manager_records_lag", isMM2)
			scraped := time.Now()
			if lag == 0 {
				seen = append(seen, fmt.Sprintf("worker %d: 0", w+1))
				continue
			}
			var line []byte
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if l := sc.LastEMF(); emfTime(l).After(scraped) {
					line = l
					break
				}
			}
			if line == nil {
				t.Fatalf("sidecar %d printed no EMF line within 15s", w+1)
			}
			emf := demo.EMFValue(line, "ReplicationBacklogRecords")
			if emf != lag {
				t.Errorf("worker %d: EMF ReplicationBacklogRecords %v, records-lag of its MM2 consumers %v in the scrape it was read from", w+1, emf, lag)
			}
			t.Logf("worker %d: records-lag of its MM2 consumers %v in the sidecar's scrape, EMF ReplicationBacklogRecords %v", w+1, lag, emf)
			compared++
		}
		return compared > 0, strings.Join(seen, "; ")
	})
}

// emfTime is the _aws.Timestamp of an EMF line, the time its values were read.
func emfTime(line []byte) time.Time {
	var doc struct {
		AWS struct {
			Timestamp int64 `json:"Timestamp"`
		} `json:"_aws"`
	}
	if json.Unmarshal(line, &doc) != nil || doc.AWS.Timestamp == 0 {
		return time.Time{}
	}
	return time.UnixMilli(doc.AWS.Timestamp)
}
