package worker

import (
	"context"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/retry"
)

// Leader tells whether this worker leads the Connect group, by comparing
// the group leader's URL, as the worker's rebalance metrics publish it
// (leader-name, e.g. "http://10.0.1.5:8083/"), with this worker's
// advertised REST URL.
type Leader struct {
	self   string
	leader func() (string, bool) // nil: no source, the leader is never known
}

// NewLeader builds a Leader from this worker's advertised REST URL and a
// source of the current leader's URL (ok false when unknown). A nil source
// (no JMX exporter) never knows the leader: every sidecar then writes after
// a random delay, and compare-before-write keeps that safe.
func NewLeader(selfURL string, leaderURL func() (string, bool)) *Leader {
	return &Leader{self: normalizeURL(selfURL), leader: leaderURL}
}

// IsLeader compares the normalized URLs; known is false while the leader
// cannot be determined (a rebalance, the metrics endpoint down, no source),
// and for an empty or unparsable leader URL.
func (l *Leader) IsLeader() (leader, known bool) {
	if l.leader == nil {
		return false, false
	}
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

// ExportsClusterFacts says whether this sidecar exports the facts of the
// whole Connect cluster (connector state, lag, readiness, the leader's
// CloudWatch datums). Only the leader's sidecar does, so no sum ever counts
// one twice; while the leader is unknown nobody does, and the measurement's
// age tells the gap. Only without a leader source, where the leader can
// never be known, does every sidecar.
func (l *Leader) ExportsClusterFacts() bool {
	leader, known := l.IsLeader()
	return leader || (!known && l.leader == nil)
}

// Await waits until the leader is known, polling every second and calling
// refresh (when not nil) before each look, for at most within. Sidecars
// starting together would otherwise all write while none knows the leader,
// and Kafka Connect accepts two creates of one connector made in the same
// instant (two config records, a needless restart). It reports whether the
// leader became known; without a leader source it returns false at once.
func (l *Leader) Await(ctx context.Context, within time.Duration, refresh func(context.Context)) bool {
	if l.leader == nil {
		return false
	}
	deadline := time.Now().Add(within)
	for {
		if refresh != nil {
			refresh(ctx)
		}
		if _, known := l.IsLeader(); known {
			return true
		}
		if time.Until(deadline) <= 0 || retry.Wait(ctx, min(time.Second, time.Until(deadline))) != nil {
			return false
		}
	}
}
