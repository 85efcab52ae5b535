package integration

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/demo"
)

// contractStep is one REST call of the sequence the sidecar makes. settle,
// when set, polls the connector's status until it shows that state before
// the call's answer is compared (Connect applies pause, resume and stop
// asynchronously).
type contractStep struct {
	name         string
	method, path string
	body         string
	settle       string
}

// contractWithConnecttest runs the REST sequence connect-sidecar uses
// against the real Connect cluster and against connecttest, and compares
// status codes and the JSON fields (their names, and the values that do
// not depend on the cluster) of each answer.
func contractWithConnecttest(t *testing.T, d *demo.Demo) {
	fake, err := connecttest.Start(3)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()

	const name = "contract-hbc"
	good := map[string]string{
		"connector.class":                     "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
		"tasks.max":                           "1",
		"source.cluster.alias":                "contract-src",
		"target.cluster.alias":                "contract-tgt",
		"source.cluster.bootstrap.servers":    strings.Join(d.SourceAddrs(), ","),
		"target.cluster.bootstrap.servers":    strings.Join(d.TargetAddrs(), ","),
		"heartbeats.topic.replication.factor": "-1",
		"emit.heartbeats.interval.seconds":    "5",
	}
	withName := maps.Clone(good)
	withName["name"] = name
	changed := maps.Clone(good)
	changed["emit.heartbeats.interval.seconds"] = "7"
	unknown := maps.Clone(good)
	unknown["connector.class"] = "com.example.NoSuchConnector"
	badTasks := maps.Clone(good)
	badTasks["tasks.max"] = "zero"
	js := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	steps := []contractStep{
		{name: "create", method: "POST", path: "/connectors", body: js(map[string]any{"name": name, "config": good})},
		{name: "create again", method: "POST", path: "/connectors", body: js(map[string]any{"name": name, "config": good})},
		{name: "read config", method: "GET", path: "/connectors/" + name + "/config", settle: "RUNNING"},
		{name: "put identical config", method: "PUT", path: "/connectors/" + name + "/config", body: js(withName)},
		{name: "put changed config", method: "PUT", path: "/connectors/" + name + "/config", body: js(changed)},
		{name: "pause", method: "PUT", path: "/connectors/" + name + "/pause", settle: "RUNNING"},
		{name: "status paused", method: "GET", path: "/connectors/" + name + "/status", settle: "PAUSED"},
		{name: "resume", method: "PUT", path: "/connectors/" + name + "/resume"},
		{name: "stop", method: "PUT", path: "/connectors/" + name + "/stop", settle: "RUNNING"},
		{name: "status stopped", method: "GET", path: "/connectors/" + name + "/status", settle: "STOPPED"},
		{name: "offsets of a stopped connector", method: "GET", path: "/connectors/" + name + "/offsets"},
		{name: "resume from stopped", method: "PUT", path: "/connectors/" + name + "/resume"},
		{name: "restart only failed", method: "POST", path: "/connectors/" + name + "/restart?includeTasks=true&onlyFailed=true", settle: "RUNNING"},
		{name: "list expanded", method: "GET", path: "/connectors?expand=status&expand=info"},
		{name: "unknown connector class", method: "PUT", path: "/connectors/contract-unknown/config", body: js(unknown)},
		{name: "bad tasks.max", method: "PUT", path: "/connectors/contract-bad/config", body: js(badTasks)},
		{name: "delete", method: "DELETE", path: "/connectors/" + name},
		{name: "read deleted", method: "GET", path: "/connectors/" + name + "/config"},
		{name: "status once deleted", method: "GET", path: "/connectors/" + name + "/status", settle: "gone"},
	}
	var divergences []string
	for _, s := range steps {
		realCode, realBody := call(t, d.ConnectURL(), name, s)
		fakeCode, fakeBody := call(t, fake.URL(), name, s)
		diffs := compareAnswers(realBody, fakeBody, "")
		if realCode != fakeCode {
			diffs = append([]string{fmt.Sprintf("status %d, connecttest %d", realCode, fakeCode)}, diffs...)
		}
		if len(diffs) > 0 {
			divergences = append(divergences, fmt.Sprintf("%s (%s %s): %s\n    real: %s\n    connecttest: %s",
				s.name, s.method, s.path, strings.Join(diffs, "; "), short(realBody), short(fakeBody)))
		} else {
			t.Logf("%-32s HTTP %d on both", s.name, realCode)
		}
	}
	if len(divergences) > 0 {
		t.Errorf("connecttest diverges from Kafka Connect %s:\n%s", "4.2.1", strings.Join(divergences, "\n"))
	}
	rebalanceAnswers(t, d, fake)
}

// call sends one step, after waiting for its settle state when it has one.
func call(t *testing.T, base, name string, s contractStep) (int, any) {
	t.Helper()
	if s.settle != "" {
		// "gone": Kafka Connect keeps answering a deleted connector's
		// status (type "unknown") until the status topic's tombstones are
		// read back; connecttest forgets it at once.
		deadline := time.Now().Add(45 * time.Second)
		for {
			code, body := rest(t, "GET", base+"/connectors/"+name+"/status", "")
			st, _ := body.(map[string]any)
			conn, _ := st["connector"].(map[string]any)
			settled := code == 200 && conn["state"] == s.settle || s.settle == "gone" && code == 404
			// Tasks follow their connector's state asynchronously.
			tasks, _ := st["tasks"].([]any)
			for _, task := range tasks {
				tm, _ := task.(map[string]any)
				settled = settled && tm["state"] == s.settle
			}
			if settled || time.Now().After(deadline) {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	return rest(t, s.method, base+s.path, s.body)
}

// compareAnswers lists the differences in shape between two JSON answers:
// missing or extra object keys, types, and the values that are the same
// on any cluster (states, names, config values, error codes). Values that
// name a worker, or Connect's free-text messages, are not compared.
func compareAnswers(real, fake any, at string) []string {
	switch r := real.(type) {
	case map[string]any:
		f, ok := fake.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: object, connecttest %T", orRoot(at), fake)}
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(r)) {
			fv, ok := f[k]
			if !ok {
				if strings.HasPrefix(k, "contract-") || isOtherConnector(at, k) {
					continue
				}
				out = append(out, fmt.Sprintf("%s.%s missing in connecttest", orRoot(at), k))
				continue
			}
			if k == "worker_id" || k == "message" || k == "trace" || k == "version" || k == "commit" || k == "kafka_cluster_id" {
				continue
			}
			out = append(out, compareAnswers(r[k], fv, at+"."+k)...)
		}
		for _, k := range slices.Sorted(maps.Keys(f)) {
			if _, ok := r[k]; !ok && !isOtherConnector(at, k) {
				out = append(out, fmt.Sprintf("%s.%s only in connecttest", orRoot(at), k))
			}
		}
		return out
	case []any:
		f, ok := fake.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: array, connecttest %T", orRoot(at), fake)}
		}
		if strings.HasSuffix(at, ".offsets") {
			// Offsets are data (what the connector committed), not shape.
			return nil
		}
		if len(r) != len(f) {
			return []string{fmt.Sprintf("%s: %d elements, connecttest %d", orRoot(at), len(r), len(f))}
		}
		var out []string
		for i := range r {
			out = append(out, compareAnswers(r[i], f[i], fmt.Sprintf("%s[%d]", at, i))...)
		}
		return out
	default:
		if fmt.Sprint(real) != fmt.Sprint(fake) {
			return []string{fmt.Sprintf("%s: %v, connecttest %v", orRoot(at), real, fake)}
		}
		return nil
	}
}

// isOtherConnector says whether key at the top of the expanded listing is
// one of the migration's own connectors, which only the real cluster runs.
func isOtherConnector(at, key string) bool {
	return at == "" && slices.Contains(connectors, key)
}

func orRoot(at string) string {
	if at == "" {
		return "(body)"
	}
	return at
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 400 {
		return string(b[:400]) + "…"
	}
	return string(b)
}

// rebalanceAnswers provokes a rebalance on the real cluster (creating a
// connector makes one) and reads a connector's config while it runs: the
// answer Connect gives then is what connecttest must give while
// rebalancing.
func rebalanceAnswers(t *testing.T, d *demo.Demo, fake *connecttest.Cluster) {
	t.Helper()
	body := `{"name":"contract-rebalance","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorHeartbeatConnector","tasks.max":"1","source.cluster.alias":"rb-src","target.cluster.alias":"rb-tgt","source.cluster.bootstrap.servers":"` +
		strings.Join(d.SourceAddrs(), ",") + `","target.cluster.bootstrap.servers":"` + strings.Join(d.TargetAddrs(), ",") + `","heartbeats.topic.replication.factor":"-1"}}`
	defer rest(t, "DELETE", d.ConnectURL()+"/connectors/contract-rebalance", "")
	var seenCode int
	var seenBody any
	for attempt := 0; attempt < 5 && seenCode == 0; attempt++ {
		rest(t, "POST", d.ConnectURL()+"/connectors", body)
		for until := time.Now().Add(8 * time.Second); time.Now().Before(until); {
			code, b := rest(t, "GET", d.ConnectURL()+"/connectors/mm2-hbc/config", "")
			if code != 200 {
				seenCode, seenBody = code, b
				break
			}
		}
		rest(t, "DELETE", d.ConnectURL()+"/connectors/contract-rebalance", "")
		time.Sleep(2 * time.Second)
	}
	if seenCode == 0 {
		t.Log("no rebalance answer was caught on the real cluster in 5 tries; nothing to compare")
		return
	}
	if err := fake.Put("mm2-hbc", map[string]string{"connector.class": "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", "tasks.max": "1"}, connecttest.StateRunning); err != nil {
		t.Fatal(err)
	}
	fake.SetRebalancing(true)
	defer fake.SetRebalancing(false)
	code, fb := rest(t, "GET", fake.URL()+"/connectors/mm2-hbc/config", "")
	t.Logf("during a rebalance, real Connect answered GET config with HTTP %d %s; connecttest %d %s", seenCode, short(seenBody), code, short(fb))
	if code != seenCode {
		t.Errorf("during a rebalance GET /connectors/{name}/config: real Connect %d, connecttest %d", seenCode, code)
	}
	if m, _ := seenBody.(map[string]any); m != nil {
		if fm, _ := fb.(map[string]any); fm == nil || fm["message"] != m["message"] {
			t.Errorf("during a rebalance: real message %q, connecttest %v", m["message"], fb)
		}
	}
}
