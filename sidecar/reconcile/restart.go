package reconcile

import (
	"strconv"
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
// when there is one, its root cause (connect.TraceLines).
func TraceSummary(trace string) string {
	first, cause := connect.TraceLines(trace)
	if cause == "" {
		return clip(first)
	}
	return clip(first) + " | caused by " + clip(cause)
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
