package demo

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEMFTailKeepsLastEMFLine(t *testing.T) {
	var file bytes.Buffer
	e := &emfTail{w: &file}
	chunks := []string{
		`{"_aws":{"Timestamp":1},"ReplicationBacklogRecords":12}` + "\n" + `not emf` + "\n" + `{"_aws":{"Time`,
		`stamp":2},"ReplicationBacklogRecords":3}`,
		"\n",
	}
	for _, c := range chunks {
		if _, err := e.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if got := EMFValue(e.last(), "ReplicationBacklogRecords"); got != 3 {
		t.Errorf("last EMF backlog = %v, want 3 (a line split across writes)", got)
	}
	if file.String() != strings.Join(chunks, "") {
		t.Errorf("stdout not passed through unchanged: %q", file.String())
	}
}

func TestEMFValue(t *testing.T) {
	tests := []struct {
		name string
		line string
		want float64
	}{
		{"present", `{"_aws":{},"FailedTasks":2}`, 2},
		{"absent", `{"_aws":{}}`, -1},
		{"not json", `{"_aws":`, -1},
		{"empty", ``, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EMFValue([]byte(tt.line), "FailedTasks"); got != tt.want {
				t.Errorf("EMFValue(%q) = %v, want %v", tt.line, got, tt.want)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	tests := map[string]string{
		"127.0.0.1:9092,127.0.0.1:9093": "127.0.0.1:9092,127.0.0.1:9093",
		"/opt/a b/connect-sidecar":      "'/opt/a b/connect-sidecar'",
		"it's":                          `'it'\''s'`,
		"":                              "''",
	}
	for in, want := range tests {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// demoSummary is the demo at its widest: three topics and groups, every
// count as large as the demo's numbers get and beyond, a failed task.
func demoSummary(ready bool) Summary {
	return Summary{
		Leader: 0, HaveLag: true, Ready: ready,
		TopicLag:   map[string]float64{"inventory": 123456, "orders": 98765, "payments": 4321},
		Groups:     map[string]string{"analytics": "no-checkpoint", "billing": "synced", "shipping": "negative-lag"},
		TaskStates: map[string]int{"RUNNING": 5, "FAILED": 1},
		Restarts:   12, Backlog: []float64{45678, 1234567, -1},
	}
}

func TestSummaryWrite(t *testing.T) {
	tests := []struct {
		name string
		s    Summary
		wide bool
		want []string
	}{
		{"no leader yet", Summary{Leader: -1}, false, []string{"waiting for the leader's sidecar"}},
		{"converged", Summary{
			Leader: 0, HaveLag: true, Ready: true,
			TopicLag:   map[string]float64{"orders": 0, "payments": 0},
			Groups:     map[string]string{"billing": "synced", "shipping": "synced"},
			TaskStates: map[string]int{"RUNNING": 6},
			Restarts:   1, Backlog: []float64{0, -1},
		}, false, []string{"READY ", "backlog 0 ", "groups 2/2 synced", "tasks 6/6 running", "restarts 1", "cloudwatch 0 -"}},
		{"not measured yet", Summary{Leader: 0, TaskStates: map[string]int{"RUNNING": 2}, Backlog: []float64{-1, -1}}, false,
			[]string{"not ready | backlog - | groups 0/0 synced | tasks 2/2 running"}},
		{"large numbers", demoSummary(false), false,
			[]string{"not ready", "backlog 227k", "groups 1/3 synced", "tasks 5/6 running", "restarts 12", "cloudwatch 46k 1.2M -"}},
		{"wide", demoSummary(true), true, []string{"leader sidecar 1", "inventory=123456 orders=98765 payments=4321 (total 226542)",
			"analytics=no-checkpoint billing=synced shipping=negative-lag", "1 failed 5 running", "restarts 12",
			"backlog/worker 45678 1234567 -", "READY for cutover"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.s.Write(&b, 12*time.Second, tt.wide)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("summary %q lacks %q", b.String(), w)
				}
			}
		})
	}
}

// The default line fits a 120-column terminal at the demo's widest, with
// nothing cut; a line that would not fit is cut, never wrapped.
func TestSummaryLineFits120Columns(t *testing.T) {
	for _, ready := range []bool{false, true} {
		var b bytes.Buffer
		demoSummary(ready).Write(&b, 9999*time.Second, false)
		line := strings.TrimSuffix(b.String(), "\n")
		if n := utf8.RuneCountInString(line); n > LineWidth || strings.Contains(line, "…") {
			t.Errorf("%d columns (want at most %d, uncut): %q", n, LineWidth, line)
		}
	}
	many := demoSummary(false)
	many.Backlog = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	var b bytes.Buffer
	many.Write(&b, time.Second, false)
	line := strings.TrimSuffix(b.String(), "\n")
	if n := utf8.RuneCountInString(line); n != LineWidth || !strings.HasSuffix(line, "…") || !strings.Contains(line, "not ready") {
		t.Errorf("twenty workers: %d columns %q, want %d ending in … with the verdict kept", n, line, LineWidth)
	}
}

func TestShort(t *testing.T) {
	tests := map[float64]string{0: "0", 9999: "9999", 10000: "10k", 226542: "227k", 999499: "999k", 999500: "1.0M", 1234567: "1.2M", 9950000: "10M", 123456789: "123M"}
	for in, want := range tests {
		if got := short(in); got != want {
			t.Errorf("short(%v) = %q, want %q", in, got, want)
		}
	}
}

// The README's sample status lines are what Write prints, and fit.
func TestReadmeStatusLines(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var samples []string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "[") && strings.Contains(l, "s] ") && strings.Contains(l, " | backlog ") {
			samples = append(samples, l)
		}
	}
	if len(samples) < 2 {
		t.Fatalf("%d sample status lines in README.md, want at least 2", len(samples))
	}
	s := Summary{Leader: 0, HaveLag: true, TopicLag: map[string]float64{"orders": 8999},
		Groups:     map[string]string{"billing": "no-checkpoint", "shipping": "behind", "analytics": "no-checkpoint"},
		TaskStates: map[string]int{"RUNNING": 6}, Backlog: []float64{1194, 452, 2313}}
	var b bytes.Buffer
	s.Write(&b, 12*time.Second, false)
	if got := strings.TrimSuffix(b.String(), "\n"); got != samples[0] {
		t.Errorf("README's first sample is not what Write prints:\nREADME %q\nWrite  %q", samples[0], got)
	}
	for _, l := range samples {
		if n := utf8.RuneCountInString(l); n > LineWidth {
			t.Errorf("README sample is %d columns: %s", n, l)
		}
	}
}
