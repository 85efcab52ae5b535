package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Summary is the migration as the sidecars' /metrics show it.
type Summary struct {
	// Leader is the index of the sidecar reporting is_leader 1; -1 when
	// none does.
	Leader int
	// HaveLag is true when the leader exported a lag measurement.
	HaveLag bool
	// TopicLag is connect_sidecar_topic_lag_records by topic, in records.
	TopicLag map[string]float64
	// Groups is each group's verdict: the verdict label of its
	// connect_sidecar_group_verdict series whose value is 1.
	Groups map[string]string
	// Ready is connect_sidecar_migration_ready.
	Ready bool
	// TaskStates counts tasks per state, connect_sidecar_task_state over
	// all sidecars.
	TaskStates map[string]int
	// Restarts is connect_sidecar_connector_restarts_total over all
	// sidecars.
	Restarts float64
	// Backlog is, per sidecar that answered the scrape, the EMF
	// ReplicationBacklogRecords its worker last printed; -1 when none was
	// yet.
	Backlog []float64
}

// Scrape reads one sidecar's /metrics.
func Scrape(ctx context.Context, metricsURL string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/metrics: HTTP %d", metricsURL, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// Summary scrapes every sidecar and reads the cluster-wide facts from the
// leader's sidecar, where they are exported once.
func (d *Demo) Summary(ctx context.Context) (Summary, error) {
	s := Summary{Leader: -1, TopicLag: map[string]float64{}, Groups: map[string]string{}, TaskStates: map[string]int{}}
	scrapes := make([]map[string]*dto.MetricFamily, len(d.Sidecars))
	var firstErr error
	for i, sc := range d.Sidecars {
		mfs, err := Scrape(ctx, sc.MetricsURL)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		scrapes[i] = mfs
		if value(mfs, "connect_sidecar_is_leader", nil) == 1 {
			s.Leader = i
		}
		for _, m := range metrics(mfs, "connect_sidecar_connector_restarts_total") {
			s.Restarts += m.GetCounter().GetValue()
		}
		s.Backlog = append(s.Backlog, EMFValue(sc.LastEMF(), "ReplicationBacklogRecords"))
		// Each sidecar exports the states of its own worker's tasks.
		for _, m := range metrics(mfs, "connect_sidecar_task_state") {
			if m.GetGauge().GetValue() == 1 {
				s.TaskStates[label(m, "state")]++
			}
		}
	}
	if s.Leader < 0 {
		return s, firstErr
	}
	mfs := scrapes[s.Leader]
	for _, m := range metrics(mfs, "connect_sidecar_topic_lag_records") {
		s.TopicLag[label(m, "topic")] = m.GetGauge().GetValue()
		s.HaveLag = true
	}
	for _, m := range metrics(mfs, "connect_sidecar_group_verdict") {
		if m.GetGauge().GetValue() == 1 {
			s.Groups[label(m, "group")] = label(m, "verdict")
		}
	}
	s.Ready = value(mfs, "connect_sidecar_migration_ready", nil) == 1
	return s, nil
}

func metrics(mfs map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if mf, ok := mfs[name]; ok {
		return mf.GetMetric()
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value returns the first sample's value whose labels include want, -1
// when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	for _, m := range metrics(mfs, name) {
		ok := true
		for k, v := range want {
			ok = ok && label(m, k) == v
		}
		if !ok {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return -1
}

// EMFValue reads a top-level metric value from an EMF line, -1 if absent.
func EMFValue(line []byte, name string) float64 {
	if len(line) == 0 {
		return -1
	}
	var doc map[string]any
	if json.Unmarshal(line, &doc) != nil {
		return -1
	}
	if v, ok := doc[name].(float64); ok {
		return v
	}
	return -1
}

// LineWidth is the most columns the default status line takes, so that it
// does not wrap on a 120-column terminal.
const LineWidth = 120

// Write prints the summary as one line: at most LineWidth columns with
// totals only, or, when wide, every topic's backlog and every group's
// verdict (as wide as that takes).
func (s Summary) Write(w io.Writer, elapsed time.Duration, wide bool) {
	if wide {
		fmt.Fprintln(w, s.wideLine(elapsed))
		return
	}
	fmt.Fprintln(w, s.line(elapsed))
}

// line is the compact form. The verdict comes first, so that the guard
// against an unusual width (many workers or task states) cuts only detail.
func (s Summary) line(elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4ds] ", int(elapsed.Seconds()))
	if s.Leader < 0 {
		b.WriteString("waiting for the leader's sidecar to report")
		return b.String()
	}
	if s.Ready {
		b.WriteString("READY     | backlog ")
	} else {
		b.WriteString("not ready | backlog ")
	}
	if s.HaveLag {
		var total float64
		for _, v := range s.TopicLag {
			total += v
		}
		b.WriteString(short(total))
	} else {
		b.WriteString("-")
	}
	synced := 0
	for _, v := range s.Groups {
		if v == "synced" {
			synced++
		}
	}
	fmt.Fprintf(&b, " | groups %d/%d synced", synced, len(s.Groups))
	tasks := 0
	for _, n := range s.TaskStates {
		tasks += n
	}
	fmt.Fprintf(&b, " | tasks %d/%d running", s.TaskStates["RUNNING"], tasks)
	fmt.Fprintf(&b, " | restarts %s | cloudwatch", short(s.Restarts))
	for _, v := range s.Backlog {
		if v < 0 {
			b.WriteString(" -")
		} else {
			b.WriteString(" " + short(v))
		}
	}
	line := b.String()
	if r := []rune(line); len(r) > LineWidth {
		line = string(r[:LineWidth-1]) + "…"
	}
	return line
}

// short prints a count in at most four characters: exact below 10,000,
// then in thousands or millions.
func short(v float64) string {
	switch n := int64(v); {
	case n < 10_000:
		return fmt.Sprintf("%d", n)
	case n < 999_500:
		return fmt.Sprintf("%dk", (n+500)/1000)
	case n < 9_950_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	default:
		return fmt.Sprintf("%dM", (n+500_000)/1_000_000)
	}
}

// wideLine names every topic's backlog, every group's verdict and every
// task state.
func (s Summary) wideLine(elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%4ds] ", int(elapsed.Seconds()))
	if s.Leader < 0 {
		b.WriteString("waiting for the leader's sidecar to report")
		return b.String()
	}
	fmt.Fprintf(&b, "leader sidecar %d | backlog", s.Leader+1)
	if !s.HaveLag {
		b.WriteString(" (not measured yet)")
	}
	var total float64
	for _, t := range sortedKeys(s.TopicLag) {
		fmt.Fprintf(&b, " %s=%d", t, int64(s.TopicLag[t]))
		total += s.TopicLag[t]
	}
	if s.HaveLag {
		fmt.Fprintf(&b, " (total %d)", int64(total))
	}
	b.WriteString(" | groups")
	if len(s.Groups) == 0 {
		b.WriteString(" (none judged yet)")
	}
	for _, g := range sortedKeys(s.Groups) {
		fmt.Fprintf(&b, " %s=%s", g, s.Groups[g])
	}
	b.WriteString(" | tasks")
	for _, st := range sortedKeys(s.TaskStates) {
		fmt.Fprintf(&b, " %d %s", s.TaskStates[st], strings.ToLower(st))
	}
	fmt.Fprintf(&b, " | restarts %d | cloudwatch backlog/worker", int64(s.Restarts))
	for _, v := range s.Backlog {
		if v < 0 {
			b.WriteString(" -")
		} else {
			fmt.Fprintf(&b, " %d", int64(v))
		}
	}
	if s.Ready {
		b.WriteString(" | READY for cutover")
	} else {
		b.WriteString(" | not ready")
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
