package reconcile

import (
	"net"
	"net/url"
	"strings"
)

// Leadership says whether this sidecar's worker leads the Connect group.
// known is false while the leader cannot be determined (a rebalance, the
// metrics endpoint down); every sidecar may then write, after a random delay.
type Leadership interface {
	IsLeader() (leader bool, known bool)
}

// Always is a Leadership for a single sidecar that always writes.
type Always struct{}

// IsLeader reports a known leader: this one.
func (Always) IsLeader() (bool, bool) { return true, true }

// LeaderByURL compares the Connect group leader's URL, as the worker's
// rebalance metrics publish it (leader-name, e.g. "http://10.0.1.5:8083/"),
// with this worker's advertised REST URL.
type LeaderByURL struct {
	self   string
	leader func() (string, bool)
}

// NewLeaderByURL builds a Leadership from this worker's advertised REST URL
// and a source of the current leader's URL (ok false when unknown).
func NewLeaderByURL(selfURL string, leaderURL func() (string, bool)) *LeaderByURL {
	return &LeaderByURL{self: normalizeURL(selfURL), leader: leaderURL}
}

// IsLeader compares the normalized URLs; an empty or unparsable leader
// URL is unknown.
func (l *LeaderByURL) IsLeader() (bool, bool) {
	u, ok := l.leader()
	if !ok {
		return false, false
	}
	n := normalizeURL(u)
	if n == "" || l.self == "" {
		return false, false
	}
	return n == l.self, true
}

// normalizeURL reduces a URL to scheme://host:port, lower case, with the
// scheme's default port filled in, so that "http://Host:8083/" and
// "http://host:8083" compare equal.
func normalizeURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if scheme == "https" {
			port = "443"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(host), port)
}

// Unknown never knows the leader: every sidecar writes after a random
// delay, and compare-before-write keeps that safe. It serves until a
// leader-name source is wired in.
type Unknown struct{}

// IsLeader reports that the leader is not known.
func (Unknown) IsLeader() (bool, bool) { return false, false }
