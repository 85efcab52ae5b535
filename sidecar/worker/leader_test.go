package worker

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func TestLeader(t *testing.T) {
	tests := []struct {
		self, leader string
		ok           bool
		want, known  bool
	}{
		{"http://10.0.1.5:8083", "http://10.0.1.5:8083/", true, true, true},
		{"http://10.0.1.5:8083/", "HTTP://10.0.1.5:8083", true, true, true},
		{"10.0.1.5:8083", "http://10.0.1.5:8083/", true, true, true},
		{"http://ip-10-0-1-5.ec2.internal:8083", "http://IP-10-0-1-5.EC2.INTERNAL:8083/", true, true, true},
		{"http://10.0.1.5:8083", "http://10.0.1.6:8083/", true, false, true},
		{"http://10.0.1.5:8083", "https://10.0.1.5:8083/", true, false, true},
		{"http://10.0.1.5", "http://10.0.1.5:80/", true, true, true},
		{"http://10.0.1.5:8083", "", true, false, false},
		{"http://10.0.1.5:8083", "http://10.0.1.5:8083/", false, false, false},
	}
	for _, tt := range tests {
		l := NewLeader(tt.self, func() (string, bool) { return tt.leader, tt.ok })
		if got, known := l.IsLeader(); got != tt.want || known != tt.known {
			t.Errorf("self %q leader %q: got %v,%v want %v,%v", tt.self, tt.leader, got, known, tt.want, tt.known)
		}
		// With a leader source, only a known leader exports cluster facts:
		// an unknown one must not, or two sidecars could export them at once.
		if got := l.ExportsClusterFacts(); got != (tt.want && tt.known) {
			t.Errorf("self %q leader %q: ExportsClusterFacts %v", tt.self, tt.leader, got)
		}
	}
}

// Without a leader source the leader is never known, and every sidecar
// exports: there is no other sidecar that could.
func TestLeaderWithoutSource(t *testing.T) {
	l := NewLeader("http://10.0.1.5:8083", nil)
	if leader, known := l.IsLeader(); leader || known {
		t.Errorf("IsLeader = %v,%v; want false,false", leader, known)
	}
	if !l.ExportsClusterFacts() {
		t.Error("ExportsClusterFacts = false without a leader source")
	}
}

func TestLeaderAwait(t *testing.T) {
	tests := []struct {
		name      string
		knownFrom time.Duration // -1: never
		noSource  bool
		want      bool
		waited    time.Duration
	}{
		{"known at once", 0, false, true, 0},
		{"known after a rebalance", 3500 * time.Millisecond, false, true, 4 * time.Second},
		{"never known: the bound", -1, false, false, 10 * time.Second},
		{"no source: no wait", 0, true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				refreshed := 0
				source := func() (string, bool) {
					known := tt.knownFrom >= 0 && time.Since(start) >= tt.knownFrom
					return "http://10.0.1.5:8083/", known
				}
				l := NewLeader("http://10.0.1.6:8083", source)
				if tt.noSource {
					l = NewLeader("http://10.0.1.6:8083", nil)
				}
				got := l.Await(context.Background(), 10*time.Second, func(context.Context) { refreshed++ })
				if got != tt.want || time.Since(start) != tt.waited {
					t.Errorf("Await = %v after %s; want %v after %s", got, time.Since(start), tt.want, tt.waited)
				}
				if !tt.noSource && refreshed == 0 {
					t.Error("the leader source was never refreshed")
				}
			})
		})
	}
}

// A stop while waiting ends the wait at once.
func TestLeaderAwaitStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		l := NewLeader("http://10.0.1.6:8083", func() (string, bool) { return "", false })
		if l.Await(ctx, time.Minute, nil) || time.Since(start) != 2*time.Second {
			t.Errorf("Await returned after %s, want false at the stop (2s)", time.Since(start))
		}
	})
}
