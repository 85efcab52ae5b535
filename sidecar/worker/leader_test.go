package worker

import "testing"

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
