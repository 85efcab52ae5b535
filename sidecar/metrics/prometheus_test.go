package metrics

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type promResult struct {
	Status string `json:"status"`
	Data   struct {
		ProcessResult []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

func promQuery(base, q string) (promResult, error) {
	var r promResult
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, err
	}
	return r, nil
}

// TestRealPrometheusScrapesTheSidecar starts Debian's prometheus on
// loopback, lets it scrape the /metrics handler, and reads values back.
func TestRealPrometheusScrapesTheSidecar(t *testing.T) {
	bin := externaltool.Path(t, "prometheus")
	reg := NewRegistry("test")
	jmx := NewJMX(JMXOptions{URL: jmxExporter(t, 200, readFixture(t, "connect_mm2.prom"), 0).URL,
		Timeout: time.Second, Labels: testLabels(), PerTopic: true}, reg)
	// Prometheus appends what one scrape read before it starts the next,
	// so when a scrape starts the one before can be queried; when one ends
	// it may already be.
	scraped := make(chan struct{}, 1)
	tell := func() {
		select {
		case scraped <- struct{}{}:
		default:
		}
	}
	h := Handler(reg, jmx, nil)
	sidecar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tell()
		h.ServeHTTP(w, r)
		tell()
	}))
	t.Cleanup(sidecar.Close)

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: connect-sidecar
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(sidecar.URL, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	base := "http://" + listen
	const q = `kafka_connect_mirror_source_connector_record_count{topic="orders"}`
	giveUp := time.After(60 * time.Second)
	var res promResult
	var err error
	for {
		select {
		case <-scraped:
		case <-giveUp:
			t.Fatalf("prometheus never returned %s (last error %v)\n%s", q, err, logs.String())
		}
		res, err = promQuery(base, q)
		if err == nil && len(res.Data.ProcessResult) > 0 {
			break
		}
	}
	if len(res.Data.ProcessResult) != 1 {
		t.Fatalf("%d series for %s, want one per topic: %+v", len(res.Data.ProcessResult), q, res.Data.ProcessResult)
	}
	s := res.Data.ProcessResult[0]
	v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
	if v != 3500 {
		t.Errorf("%s = %v, want 3500", q, v)
	}
	for k, want := range map[string]string{"ecs_cluster": "mm2", "ecs_service": "connect",
		"ecs_task_id": "0123abcd", "availability_zone": "eu-west-1a", "job": "connect-sidecar"} {
		if s.Metric[k] != want {
			t.Errorf("label %s = %q, want %q", k, s.Metric[k], want)
		}
	}
	up, err := promQuery(base, `connect_sidecar_jmx_up`)
	if err != nil || len(up.Data.ProcessResult) != 1 || fmt.Sprint(up.Data.ProcessResult[0].Value[1]) != "1" {
		t.Errorf("connect_sidecar_jmx_up: %+v %v", up, err)
	}
}
