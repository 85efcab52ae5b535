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
// each with its trace's first line.
func failedParts(st connect.ConnectorStatus) []failure {
	var out []failure
	if st.Connector.State == connect.StateFailed {
		out = append(out, failure{part: "connector", trace: firstLine(st.Connector.Trace)})
	}
	for _, t := range st.Tasks {
		if t.State == connect.StateFailed {
			out = append(out, failure{part: "task " + strconv.Itoa(t.ID), worker: t.WorkerID, trace: firstLine(t.Trace)})
		}
	}
	return out
}

type failure struct {
	part, worker, trace string
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
