package demo

import (
	"bytes"
	"strings"
	"testing"
	"time"
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

func TestSummaryWrite(t *testing.T) {
	tests := []struct {
		name string
		s    Summary
		want []string
	}{
		{"no leader yet", Summary{Leader: -1}, []string{"waiting for the leader's sidecar"}},
		{"converged", Summary{
			Leader: 0, HaveLag: true, Ready: true,
			TopicLag:   map[string]float64{"orders": 0, "payments": 0},
			Groups:     map[string]string{"billing": "synced"},
			TaskStates: map[string]int{"RUNNING": 6},
			Restarts:   1, Backlog: []float64{0, -1},
		}, []string{"leader sidecar 1", "orders=0 payments=0 (total 0)", "billing=synced", "6 running", "restarts 1", "backlog/worker 0 -", "READY for cutover"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.s.Write(&b, 12*time.Second)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("summary %q lacks %q", b.String(), w)
				}
			}
		})
	}
}
