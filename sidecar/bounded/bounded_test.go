package bounded

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	errBig := errors.New("too large")
	tests := []struct {
		name, in string
		n        int64
		want     string
		err      error
	}{
		{"shorter than the cap", "abc", 5, "abc", nil},
		{"exactly the cap", "abcde", 5, "abcde", nil},
		{"one byte over", "abcdef", 5, "abcde", errBig},
		{"far over", strings.Repeat("x", 100), 10, strings.Repeat("x", 10), errBig},
		{"empty", "", 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per read, so the cap is met across reads.
			got, err := io.ReadAll(Reader(iotest.OneByteReader(strings.NewReader(tt.in)), tt.n, errBig))
			if string(got) != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("read %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}
