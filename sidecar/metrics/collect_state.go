package metrics

import (
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mm2-fargate/mm2-ecs/sidecar/connect"
)

// connectStates are Connect's connector and task states (AbstractStatus.State).
// Every state is exported with 0 or 1 so that a state change never leaves a
// stale 1 behind in Prometheus' lookback window.
func connectStates() []string {
	return []string{connect.StateUnassigned, connect.StateRunning, connect.StatePaused,
		connect.StateStopped, connect.StateFailed, connect.StateRestarting}
}

// StateCollector exports connector and task state from Connect REST exactly
// once across the cluster: each sidecar exports the tasks running on its own
// worker; the leader's sidecar also exports connector-level state and the
// tasks no worker runs (unassigned).
type StateCollector struct {
	connector *prometheus.Desc
	task      *prometheus.Desc
	failure   *prometheus.Desc

	mu       sync.Mutex
	statuses map[string]connect.ConnectorStatus
	workerID string
	leader   bool
}

// NewStateCollector returns an empty collector; Update fills it.
func NewStateCollector() *StateCollector {
	return &StateCollector{
		connector: prometheus.NewDesc("connect_sidecar_connector_state",
			"Connector state from Connect REST, 1 for the current state; exported by the leader's sidecar.",
			[]string{"connector", "state"}, nil),
		task: prometheus.NewDesc("connect_sidecar_task_state",
			"Task state from Connect REST, 1 for the current state; exported by the sidecar of the task's worker (unassigned tasks: by the leader's).",
			[]string{"connector", "task", "worker", "state"}, nil),
		failure: prometheus.NewDesc("connect_sidecar_task_failure",
			"1 for each FAILED task, labelled with the exception its trace starts with; exported like connect_sidecar_task_state.",
			[]string{"connector", "task", "worker", "exception"}, nil),
	}
}

// Update replaces the snapshot. workerID is this worker's id as Connect
// reports it (host:port); leader says whether this worker leads the group.
// The map is not modified and may be reused by the caller after Update.
func (s *StateCollector) Update(statuses map[string]connect.ConnectorStatus, workerID string, leader bool) {
	cp := make(map[string]connect.ConnectorStatus, len(statuses))
	for k, v := range statuses {
		cp[k] = v
	}
	s.mu.Lock()
	s.statuses, s.workerID, s.leader = cp, workerID, leader
	s.mu.Unlock()
}

// LocalTaskCounts counts the tasks on this worker that run and that failed;
// ok is false before the first Update.
func (s *StateCollector) LocalTaskCounts() (running, failed int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.statuses == nil {
		return 0, 0, false
	}
	for _, c := range s.statuses {
		for _, t := range c.Tasks {
			if t.WorkerID != s.workerID {
				continue
			}
			switch t.State {
			case connect.StateRunning:
				running++
			case connect.StateFailed:
				failed++
			}
		}
	}
	return running, failed, true
}

// Describe implements prometheus.Collector.
func (s *StateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.connector
	ch <- s.task
	ch <- s.failure
}

// Collect implements prometheus.Collector.
func (s *StateCollector) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	states := connectStates()
	for name, c := range s.statuses {
		if s.leader {
			for _, st := range states {
				ch <- prometheus.MustNewConstMetric(s.connector, prometheus.GaugeValue,
					boolValue(c.Connector.State == st), name, st)
			}
		}
		for _, t := range c.Tasks {
			// An unassigned task may still name its last worker; only the
			// leader exports it, so that it is counted once.
			unassigned := t.WorkerID == "" || t.State == connect.StateUnassigned
			mine := !unassigned && t.WorkerID == s.workerID
			if !mine && !(unassigned && s.leader) {
				continue
			}
			id := strconv.Itoa(t.ID)
			for _, st := range states {
				ch <- prometheus.MustNewConstMetric(s.task, prometheus.GaugeValue,
					boolValue(t.State == st), name, id, t.WorkerID, st)
			}
			if t.State == connect.StateFailed {
				ch <- prometheus.MustNewConstMetric(s.failure, prometheus.GaugeValue, 1,
					name, id, t.WorkerID, exception(t.Trace))
			}
		}
	}
}

// exception is the class of a Java stack trace's root cause (its last
// "Caused by:", else its first line), e.g.
// "org.apache.kafka.common.errors.RecordTooLargeException": a label of
// bounded cardinality that names the cause without its message, which may
// quote configuration values.
func exception(trace string) string {
	line, cause := connect.TraceLines(trace)
	if cause != "" {
		line = cause
	}
	class, _, _ := strings.Cut(line, ":")
	class = strings.TrimSpace(class)
	if class == "" || len(class) > 200 || strings.ContainsAny(class, " \t") {
		return "unknown"
	}
	return class
}
