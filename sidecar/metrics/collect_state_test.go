package metrics

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExceptionLabel(t *testing.T) {
	real, err := os.ReadFile(filepath.Join("..", "reconcile", "testdata", "record-too-large.trace"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, trace, want string
	}{
		{"root cause of a real MM2 task failure", string(real), "org.apache.kafka.common.errors.RecordTooLargeException"},
		{"no cause", "org.apache.kafka.connect.errors.ConnectException: boom\n\tat a.b(C.java:1)", "org.apache.kafka.connect.errors.ConnectException"},
		{"class without message", "java.lang.NullPointerException\n\tat a.b(C.java:1)", "java.lang.NullPointerException"},
		{"not a class", "something went wrong: see log", "unknown"},
		{"empty", "", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exception(tt.trace); got != tt.want {
				t.Errorf("exception = %q, want %q", got, tt.want)
			}
		})
	}
}
