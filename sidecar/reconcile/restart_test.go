package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTraceSummary(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("testdata", "record-too-large.trace"))
	if err != nil {
		t.Fatal(err)
	}
	long := "java.lang.IllegalStateException: " + strings.Repeat("x", 400)
	tests := []struct {
		name, trace, want string
	}{
		{"real MM2 task, record too large for the target", string(real),
			"org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from producer send callback | caused by org.apache.kafka.common.errors.RecordTooLargeException: The request included a message larger than the max message size the server will accept."},
		{"one line", "org.apache.kafka.connect.errors.ConnectException: boom\n\tat a.b(C.java:1)", "org.apache.kafka.connect.errors.ConnectException: boom"},
		{"the last cause is the root", "A: top\n\tat x\nCaused by: B: middle\n\tat y\nCaused by: C: root\n\tat z", "A: top | caused by C: root"},
		{"long lines are clipped", long + "\nCaused by: " + long, long[:300] + "… | caused by " + long[:300] + "…"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TraceSummary(tt.trace); got != tt.want {
				t.Errorf("TraceSummary = %q, want %q", got, tt.want)
			}
		})
	}
}
