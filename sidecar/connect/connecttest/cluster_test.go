package connecttest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"
)

const mscJSON = `{"name":"msc","config":{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","tasks.max":2,"source.cluster.alias":"src","target.cluster.alias":"dst","topics":".*","sync.topic.acls.enabled":false}}`

type answer struct {
	status int
	body   string
}

func do(t *testing.T, method, url, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b)}
}

func errorMessage(t *testing.T, a answer) (int, string) {
	t.Helper()
	var e struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("error body %q: %v", a.body, err)
	}
	return e.Code, e.Message
}

func TestEndpoints(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	leader := c.URLs()[0]
	follower := c.URLs()[2]
	steps := []struct {
		name, method, url, body string
		status                  int
		contains                string
	}{
		{"version", "GET", "/", "", 200, `"version"`},
		{"config of unknown", "GET", "/connectors/msc/config", "", 404, "Connector msc not found"},
		{"create via follower is forwarded", "POST", "/connectors", mscJSON, 201, `"tasks":[]`},
		{"create again", "POST", "/connectors", mscJSON, 409, "Connector msc already exists"},
		{"config has name and strings", "GET", "/connectors/msc/config", "", 200, `"tasks.max":"2"`},
		{"identical put", "PUT", "/connectors/msc/config", `{"connector.class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","tasks.max":"2","source.cluster.alias":"src","target.cluster.alias":"dst","topics":".*","sync.topic.acls.enabled":"false","name":"msc"}`, 200, `"name":"msc"`},
		{"name mismatch", "PUT", "/connectors/msc/config", `{"connector.class":"MirrorSourceConnector","name":"other"}`, 400, "Connector name configuration (other) doesn't match connector name in the URL (msc)"},
		{"bad tasks.max", "PUT", "/connectors/msc/config", `{"connector.class":"MirrorSource","tasks.max":"0"}`, 400, "Connector configuration is invalid and contains the following 1 error(s):\nInvalid value 0 for configuration tasks.max: Value must be at least 1"},
		{"unknown class", "PUT", "/connectors/x/config", `{"connector.class":"com.example.Nope"}`, 400, "Failed to find any class that implements Connector and which name matches com.example.Nope"},
		{"status", "GET", "/connectors/msc/status", "", 200, `"state":"RUNNING"`},
		{"expand", "GET", "/connectors?expand=status&expand=info", "", 200, `"info":{"name":"msc"`},
		{"offsets need stop", "PATCH", "/connectors/msc/offsets", `{"offsets":[{"partition":{"cluster":"src","topic":"t","partition":0},"offset":{"offset":5}}]}`, 400, "Connectors must be in the STOPPED state"},
		{"pause", "PUT", "/connectors/msc/pause", "", 202, ""},
		{"paused", "GET", "/connectors/msc/status", "", 200, `"state":"PAUSED"`},
		{"resume", "PUT", "/connectors/msc/resume", "", 202, ""},
		{"stop", "PUT", "/connectors/msc/stop", "", 204, ""},
		{"stopped has no tasks", "GET", "/connectors/msc/status", "", 200, `"tasks":[]`},
		{"alter offsets", "PATCH", "/connectors/msc/offsets", `{"offsets":[{"partition":{"cluster":"src","topic":"t","partition":0},"offset":{"offset":5}}]}`, 200, "The offsets for this connector have been altered successfully"},
		{"read offsets", "GET", "/connectors/msc/offsets", "", 200, `"offset":{"offset":5}`},
		{"reset offsets", "DELETE", "/connectors/msc/offsets", "", 200, "have been reset successfully"},
		{"resume stopped", "PUT", "/connectors/msc/resume", "", 202, ""},
		{"tasks back", "GET", "/connectors/msc/tasks", "", 200, `"task.class":"org.apache.kafka.connect.mirror.MirrorSourceTask"`},
		{"plain restart", "POST", "/connectors/msc/restart", "", 204, ""},
		{"restart only failed", "POST", "/connectors/msc/restart?includeTasks=true&onlyFailed=true", "", 202, `"state":"RUNNING"`},
		{"delete", "DELETE", "/connectors/msc", "", 204, ""},
		{"deleted", "GET", "/connectors/msc", "", 404, "Connector msc not found"},
	}
	for i, s := range steps {
		base := leader
		if i%2 == 0 {
			base = follower
		}
		a := do(t, s.method, base+s.url, s.body)
		if a.status != s.status {
			t.Fatalf("%s: %s %s: got %d %s, want %d", s.name, s.method, s.url, a.status, a.body, s.status)
		}
		if s.status >= 400 {
			code, msg := errorMessage(t, a)
			if code != s.status || !strings.Contains(msg, s.contains) {
				t.Fatalf("%s: got error %d %q, want %d containing %q", s.name, code, msg, s.status, s.contains)
			}
		} else if !strings.Contains(a.body, s.contains) {
			t.Fatalf("%s: body %s does not contain %s", s.name, a.body, s.contains)
		}
	}
	// create, identical put, pause, resume, stop, alter, reset, resume, delete
	if got := c.Writes("msc"); got != 9 {
		t.Errorf("writes = %d, want 9", got)
	}
	// identical put, plain restart; restart?onlyFailed with nothing failed restarts nothing
	if got := c.Restarts("msc"); got != 2 {
		t.Errorf("restarts = %d, want 2", got)
	}
	if c.Forwarded() == 0 {
		t.Error("no write was forwarded to the leader")
	}
}

func TestLeaderAndRebalance(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	c.SetLeader(-1)
	a := do(t, "POST", c.URLs()[1]+"/connectors", mscJSON)
	if _, msg := errorMessage(t, a); a.status != 409 || msg != connecttest.MsgNoLeader {
		t.Fatalf("no leader: got %d %s", a.status, a.body)
	}
	c.SetLeader(1)
	if a := do(t, "POST", c.URLs()[0]+"/connectors", mscJSON); a.status != 201 {
		t.Fatalf("create via worker 0 to leader 1: %d %s", a.status, a.body)
	}
	if u, ok := c.Leader(); !ok || u != c.URLs()[1]+"/" {
		t.Fatalf("Leader() = %q, %v", u, ok)
	}
	c.SetRebalancing(true)
	a = do(t, "GET", c.URLs()[1]+"/connectors/msc/config", "")
	if _, msg := errorMessage(t, a); a.status != 500 || msg != connecttest.MsgRebalanceExpected {
		t.Fatalf("rebalancing: got %d %s", a.status, a.body)
	}
	if a := do(t, "GET", c.URLs()[1]+"/connectors?expand=status", ""); a.status != 200 {
		t.Fatalf("status during a rebalance: %d", a.status)
	}
	c.SetRebalancing(false)
	// A request already forwarded once with forward=false must not hop again.
	a = do(t, "PUT", c.URLs()[2]+"/connectors/msc/stop?forward=false", "")
	if _, msg := errorMessage(t, a); a.status != 409 || msg != connecttest.MsgConflictingOp {
		t.Fatalf("second hop: got %d %s", a.status, a.body)
	}
}

func TestFaultsTasksAndHooks(t *testing.T) {
	c := connecttest.NewCluster(t, 3)
	var events []connecttest.Event
	c.OnEvent(func(e connecttest.Event) { events = append(events, e) })
	if a := do(t, "POST", c.URL()+"/connectors", mscJSON); a.status != 201 {
		t.Fatal(a)
	}
	c.Conflicts(2, "GET", "/connectors/msc/config")
	for i, want := range []int{409, 409, 200} {
		if a := do(t, "GET", c.URLs()[i]+"/connectors/msc/config", ""); a.status != want {
			t.Fatalf("request %d: %d, want %d", i, a.status, want)
		}
	}
	c.ServerErrors(1, "", "", "")
	if _, msg := errorMessage(t, do(t, "GET", c.URL()+"/connectors", "")); msg != connecttest.MsgTimedOut {
		t.Fatalf("server error message %q", msg)
	}
	if err := c.SetTaskState("msc", 1, connecttest.StateFailed, "java.lang.RuntimeException: boom\n\tat x"); err != nil {
		t.Fatal(err)
	}
	tasks := c.Tasks()
	if len(tasks) != 2 || tasks[1].State != connecttest.StateFailed || tasks[0].WorkerID == tasks[1].WorkerID {
		t.Fatalf("tasks = %+v", tasks)
	}
	a := do(t, "POST", c.URL()+"/connectors/msc/restart?includeTasks=true&onlyFailed=true", "")
	if a.status != 202 || !strings.Contains(a.body, `"id":1,"state":"RESTARTING"`) || strings.Contains(a.body, `"id":0,"state":"RESTARTING"`) {
		t.Fatalf("restart: %d %s", a.status, a.body)
	}
	if c.Restarts("msc") != 1 || c.Tasks()[1].State != connecttest.StateRunning {
		t.Fatalf("after restart: restarts %d, task %+v", c.Restarts("msc"), c.Tasks()[1])
	}
	if err := c.SetOffsets("msc", []connecttest.Offset{{Partition: map[string]any{"cluster": "src", "topic": "t", "partition": 0}, Offset: map[string]any{"offset": 41}}}); err != nil {
		t.Fatal(err)
	}
	if a := do(t, "GET", c.URL()+"/connectors/msc/offsets", ""); !strings.Contains(a.body, `"offset":41`) {
		t.Fatalf("offsets %s", a.body)
	}
	kinds := map[connecttest.EventKind]int{}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if kinds[connecttest.EventCreated] != 1 || kinds[connecttest.EventRestarted] != 1 || kinds[connecttest.EventOffsetsChanged] != 1 {
		t.Fatalf("events %v", kinds)
	}
}

func TestWorkerDownRefuses(t *testing.T) {
	c := connecttest.NewCluster(t, 2)
	w := c.Workers()[1]
	w.Down()
	if _, err := http.Get(w.URL() + "/"); err == nil {
		t.Fatal("a down worker answered")
	}
	w.Up()
	if a := do(t, "GET", w.URL()+"/", ""); a.status != 200 {
		t.Fatalf("after Up: %d", a.status)
	}
}
