package reconcile

import (
	"strconv"
	"strings"
	"time"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
)

// restartDelay is how long to wait before restart number n+1 when n
// restarts have been made: at once, then 2, 6, 12, 20, 30, 42 and 56
// minutes (n(n+1)), then hourly, as Strimzi schedules it.
func restartDelay(n int) time.Duration {
	m := n * (n + 1)
	if m > 60 || n > 7 {
		m = 60
	}
	return time.Duration(m) * time.Minute
}

// restartState tracks auto-restarts of one connector.
type restartState struct {
	count  int
	last   time.Time
	gaveUp bool
}

// failed lists the failed parts of a connector: "connector" and task ids,
// each with its trace's summary.
func failedParts(st connect.ConnectorStatus) []failure {
	var out []failure
	if st.Connector.State == connect.StateFailed {
		out = append(out, failure{part: "connector", trace: TraceSummary(st.Connector.Trace)})
	}
	for _, t := range st.Tasks {
		if t.State == connect.StateFailed {
			out = append(out, failure{part: "task " + strconv.Itoa(t.ID), worker: t.WorkerID, trace: TraceSummary(t.Trace)})
		}
	}
	return out
}

type failure struct {
	part, worker, trace string
}

// TraceSummary is a Java stack trace in one line: its first line and,
// when there is one, its root cause (the last "Caused by:"). A real MM2
// task that fails on a record too large for the target starts with
// "ConnectException: Unrecoverable exception from producer send callback"
// and names RecordTooLargeException only as its cause.
func TraceSummary(trace string) string {
	lines := strings.Split(strings.TrimSpace(trace), "\n")
	out := clip(strings.TrimSpace(lines[0]))
	for i := len(lines) - 1; i > 0; i-- {
		if cause, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "Caused by: "); ok {
			return out + " | caused by " + clip(cause)
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
