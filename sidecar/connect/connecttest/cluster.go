// Package connecttest owns an in-process stand-in for a distributed Kafka
// Connect cluster's REST API, for tests only: several workers, each its own
// HTTP server, sharing one cluster state. It is written from the behaviour of
// Apache Kafka's ConnectorsResource, DistributedHerder and
// HerderRequestHandler (status codes, bodies, error texts, forwarding of
// writes to the leader, 409 during a rebalance, restart on every config
// write); it shares no code with them and runs no connector. Production
// always talks to Apache Kafka Connect.
//
// Tests drive it through Cluster: set the leader, simulate a rebalance,
// inject faults, mark tasks FAILED, set committed source offsets, and read
// counters of writes, restarts and requests. Hooks (OnEvent) let a test or a
// demo act on state changes, for example a replication stand-in that copies
// records while a MirrorMaker 2 source task is RUNNING.
package connecttest

import (
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Connector and task states as Connect reports them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
)

// EventKind names a change of cluster state.
type EventKind string

// Events delivered to OnEvent hooks.
const (
	EventCreated        EventKind = "created"
	EventUpdated        EventKind = "updated" // config written (also when identical)
	EventDeleted        EventKind = "deleted"
	EventPaused         EventKind = "paused"
	EventResumed        EventKind = "resumed"
	EventStopped        EventKind = "stopped"
	EventRestarted      EventKind = "restarted"
	EventOffsetsChanged EventKind = "offsets_changed"
	EventStateSet       EventKind = "state_set" // a test set a connector or task state
)

// Event is one change of cluster state. Hooks run after the cluster's lock
// is released, so they may call back into the Cluster.
type Event struct {
	// Kind is what changed.
	Kind EventKind
	// Connector is the name of the connector that changed.
	Connector string
}

// Offset is one committed source offset, as GET .../offsets shows it.
type Offset struct {
	// Partition is the source partition; for MM2, {"cluster", "topic",
	// "partition"}.
	Partition map[string]any `json:"partition"`
	// Offset is the committed position in it; for MM2, {"offset"}.
	Offset map[string]any `json:"offset"`
}

// Task describes one task of a connector, for tests and hooks.
type Task struct {
	// Connector is the name of the task's connector.
	Connector string
	// ID is the task's number within its connector, from 0.
	ID int
	// Class is the connector's class (connector.class).
	Class string
	// Config is a copy of the connector's config, which every task of
	// this double runs with.
	Config map[string]string
	// State is the task's state as GET .../status reports it.
	State string
	// WorkerID is the address (Worker.ID) of the worker the task is
	// assigned to.
	WorkerID string
	// Trace is the stack trace of a FAILED task; empty otherwise.
	Trace string
}

// Fault makes matching requests fail or slow down. Zero fields match
// anything: Method "" any method, Path "" any path (otherwise a prefix of
// the request path), Worker -1 any worker (0 is the first worker; use
// AnyWorker). Status 0 only delays. Times is how many requests it affects
// (0: for the cluster's lifetime).
type Fault struct {
	// Method is the HTTP method matched; empty matches any.
	Method string
	// Path is a prefix of the request paths matched; empty matches any.
	Path string
	// Worker is the index of the worker whose requests are matched, 0 the
	// first; AnyWorker matches every worker.
	Worker int
	// Status is the HTTP status answered instead of the real answer; 0
	// only delays.
	Status int
	// Message is the error body's message when Status is set.
	Message string
	// Delay is waited before answering (or failing); 0 is none.
	Delay time.Duration
	// Times is how many requests the fault affects; 0 is every request for
	// the cluster's lifetime.
	Times int
}

// AnyWorker matches every worker in a Fault.
const AnyWorker = -1

// Messages Connect answers with, for tests that inject or expect them.
const (
	MsgStaleConfig = "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"
	// MsgRebalanceExpected is the 500 of a config read during a rebalance.
	MsgRebalanceExpected = "Request cannot be completed because a rebalance is expected"
	MsgNoLeader          = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."
	MsgConflictingOp     = "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"
	MsgTimedOut          = "Request timed out"
)

// Cluster is a Connect cluster of one or more workers sharing state.
type Cluster struct {
	t   testing.TB
	fwd *http.Client

	mu          sync.Mutex
	workers     []*Worker
	leader      int // index into workers; -1 when no leader is known
	rebalancing bool
	connectors  map[string]*connector
	faults      []*Fault
	hooks       []func(Event)
	writes      map[string]int
	restarts    map[string]int
	requests    map[string]int // client requests (not forwarded hops) by method
	forwarded   int
}

type connector struct {
	name    string
	config  map[string]string
	target  string // RUNNING, PAUSED or STOPPED
	typ     string
	failed  string // trace when the connector is FAILED, "" otherwise
	tasks   []*task
	offsets []Offset
}

type task struct {
	failed string // trace when FAILED
	state  string // set by a test when not RUNNING/FAILED (e.g. UNASSIGNED)
}

// Worker is one Connect worker: its own HTTP server and URL.
type Worker struct {
	c    *Cluster
	idx  int
	addr string
	srv  *httptest.Server
	up   bool
}

// URL is the worker's REST URL, e.g. http://127.0.0.1:40123.
func (w *Worker) URL() string { return "http://" + w.addr }

// ID is the worker id Connect reports in statuses: host:port.
func (w *Worker) ID() string { return w.addr }

// NewCluster starts n workers (at least one). The first is the leader. All
// servers close when the test ends.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := start(t, n)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Start starts n workers (at least one) outside a test, for a demo that
// runs the same cluster as the tests; the caller calls Close.
func Start(n int) (*Cluster, error) {
	return start(nil, n)
}

func start(t testing.TB, n int) (*Cluster, error) {
	if n < 1 {
		n = 1
	}
	c := &Cluster{
		t:          t,
		fwd:        &http.Client{Timeout: 30 * time.Second},
		connectors: map[string]*connector{},
		writes:     map[string]int{},
		restarts:   map[string]int{},
		requests:   map[string]int{},
	}
	for i := range n {
		w := &Worker{c: c, idx: i}
		if err := w.start("127.0.0.1:0"); err != nil {
			c.Close()
			return nil, err
		}
		c.workers = append(c.workers, w)
	}
	return c, nil
}

// Close stops every worker.
func (c *Cluster) Close() {
	for _, w := range c.Workers() {
		w.Down()
	}
	c.fwd.CloseIdleConnections()
}

func (w *Worker) start(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("connecttest: listen %s: %w", addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(w.serve))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	w.c.mu.Lock()
	w.srv, w.addr, w.up = srv, l.Addr().String(), true
	w.c.mu.Unlock()
	return nil
}

// Down closes the worker's listener: connections are refused until Up.
func (w *Worker) Down() {
	w.c.mu.Lock()
	srv, up := w.srv, w.up
	w.up = false
	w.c.mu.Unlock()
	if up {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// Up listens again on the worker's old address.
func (w *Worker) Up() {
	w.c.mu.Lock()
	up := w.up
	w.c.mu.Unlock()
	if up {
		return
	}
	if err := w.start(w.addr); err != nil && w.c.t != nil {
		w.c.t.Errorf("%v", err)
	}
}

// Workers lists the workers in order.
func (c *Cluster) Workers() []*Worker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.workers)
}

// URL is the first worker's URL.
func (c *Cluster) URL() string { return c.Workers()[0].URL() }

// URLs lists every worker's URL.
func (c *Cluster) URLs() []string {
	var out []string
	for _, w := range c.Workers() {
		out = append(out, w.URL())
	}
	return out
}

// SetLeader makes worker i the leader; -1 makes the leader unknown, so
// non-leaders answer writes with 409 as Connect does.
func (c *Cluster) SetLeader(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = i
}

// Leader returns the leader's URL with a trailing slash, as Connect's
// leader-name metric shows it, or false when no leader is known.
func (c *Cluster) Leader() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader < 0 || c.leader >= len(c.workers) {
		return "", false
	}
	return c.workers[c.leader].URL() + "/", true
}

// SetRebalancing simulates a rebalance: while on, config reads and writes
// answer 409 with Connect's stale-configuration message.
func (c *Cluster) SetRebalancing(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rebalancing = on
}

// InjectFault adds a fault; faults are checked in the order added.
func (c *Cluster) InjectFault(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = append(c.faults, &f)
}

// Conflicts makes the next n requests matching method and path prefix
// answer 409 as during a rebalance.
func (c *Cluster) Conflicts(n int, method, path string) {
	c.InjectFault(Fault{Method: method, Path: path, Worker: AnyWorker, Status: http.StatusConflict, Message: MsgStaleConfig, Times: n})
}

// ServerErrors makes the next n matching requests answer 500 with msg
// (MsgTimedOut when empty), as a herder timeout does.
func (c *Cluster) ServerErrors(n int, method, path, msg string) {
	if msg == "" {
		msg = MsgTimedOut
	}
	c.InjectFault(Fault{Method: method, Path: path, Worker: AnyWorker, Status: http.StatusInternalServerError, Message: msg, Times: n})
}

// OnEvent registers a hook called after every change of state.
func (c *Cluster) OnEvent(h func(Event)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, h)
}

func (c *Cluster) emit(evs []Event) {
	c.mu.Lock()
	hooks := slices.Clone(c.hooks)
	c.mu.Unlock()
	for _, e := range evs {
		for _, h := range hooks {
			h(e)
		}
	}
}

// Writes counts config-topic writes for a connector: create, config PUT
// (identical or not), pause, resume, stop, delete, offsets changes.
func (c *Cluster) Writes(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes[name]
}

// Restarts counts restarts of a connector or any of its tasks, whether
// caused by a restart request or by a config write.
func (c *Cluster) Restarts(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarts[name]
}

// TotalWrites sums Writes over every connector ever seen.
func (c *Cluster) TotalWrites() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.writes {
		n += v
	}
	return n
}

// TotalRestarts sums Restarts over every connector ever seen.
func (c *Cluster) TotalRestarts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.restarts {
		n += v
	}
	return n
}

// Requests counts client requests by HTTP method across all workers;
// hops forwarded between workers are not counted.
func (c *Cluster) Requests() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.requests)
}

// Forwarded counts requests a non-leader forwarded to the leader.
func (c *Cluster) Forwarded() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.forwarded
}

// ResetCounters zeroes writes, restarts and request counters.
func (c *Cluster) ResetCounters() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes, c.restarts, c.requests, c.forwarded = map[string]int{}, map[string]int{}, map[string]int{}, 0
}

// Connectors lists connector names, sorted.
func (c *Cluster) Connectors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.connectors)
}

// Config returns a copy of a connector's stored config.
func (c *Cluster) Config(name string) (map[string]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.connectors[name]
	if !ok {
		return nil, false
	}
	return maps.Clone(k.config), true
}

// ConnectorState returns the state GET .../status would report.
func (c *Cluster) ConnectorState(name string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.connectors[name]
	if !ok {
		return "", false
	}
	return c.connectorStateLocked(k), true
}

// Put creates or replaces a connector directly, as if written earlier by
// someone else (it counts no write). target is RUNNING, PAUSED or STOPPED.
func (c *Cluster) Put(name string, config map[string]string, target string) error {
	c.mu.Lock()
	cfg := maps.Clone(config)
	cfg["name"] = name
	typ, err := c.validateLocked(cfg)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	if target == "" {
		target = StateRunning
	}
	k := &connector{name: name, config: cfg, target: target, typ: typ}
	k.tasks = makeTasks(k)
	c.connectors[name] = k
	c.mu.Unlock()
	c.emit([]Event{{EventCreated, name}})
	return nil
}

// SetConnectorFailed marks a connector FAILED with a trace ("" clears it).
func (c *Cluster) SetConnectorFailed(name, trace string) error {
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("connecttest: no connector %q", name)
	}
	k.failed = trace
	c.mu.Unlock()
	c.emit([]Event{{EventStateSet, name}})
	return nil
}

// SetTaskState sets a task's state: FAILED needs a trace; RUNNING clears a
// failure; UNASSIGNED or RESTARTING are shown as given until the next
// restart or config write.
func (c *Cluster) SetTaskState(name string, id int, state, trace string) error {
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok || id < 0 || id >= len(k.tasks) {
		c.mu.Unlock()
		return fmt.Errorf("connecttest: no task %s-%d", name, id)
	}
	t := k.tasks[id]
	switch state {
	case StateFailed:
		t.failed, t.state = trace, ""
		if t.failed == "" {
			t.failed = "org.apache.kafka.connect.errors.ConnectException: task failed"
		}
	case StateRunning:
		t.failed, t.state = "", ""
	default:
		t.failed, t.state = "", state
	}
	c.mu.Unlock()
	c.emit([]Event{{EventStateSet, name}})
	return nil
}

// SetOffsets replaces a connector's committed source offsets, as a running
// MirrorSourceTask would commit them (no state check, counts no write).
func (c *Cluster) SetOffsets(name string, offsets []Offset) error {
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("connecttest: no connector %q", name)
	}
	k.offsets = slices.Clone(offsets)
	c.mu.Unlock()
	c.emit([]Event{{EventOffsetsChanged, name}})
	return nil
}

// Offsets returns a connector's committed source offsets.
func (c *Cluster) Offsets(name string) []Offset {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.connectors[name]; ok {
		return slices.Clone(k.offsets)
	}
	return nil
}

// Tasks lists every task of every connector with its current state and
// worker, sorted by connector and id. A replication stand-in copies records
// for the RUNNING tasks of source connectors.
func (c *Cluster) Tasks() []Task {
	c.mu.Lock()
	defer c.mu.Unlock()
	assign := c.assignLocked()
	var out []Task
	for _, name := range sortedKeys(c.connectors) {
		k := c.connectors[name]
		for i := range k.tasks {
			st, trace := c.taskStateLocked(k, i)
			out = append(out, Task{
				Connector: name, ID: i, Class: k.config["connector.class"],
				Config: maps.Clone(k.config), State: st,
				WorkerID: assign[taskKey(name, i)], Trace: trace,
			})
		}
	}
	return out
}

func (c *Cluster) connectorStateLocked(k *connector) string {
	if k.failed != "" {
		return StateFailed
	}
	return k.target
}

func (c *Cluster) taskStateLocked(k *connector, i int) (string, string) {
	t := k.tasks[i]
	switch {
	case t.failed != "":
		return StateFailed, t.failed
	case t.state != "":
		return t.state, ""
	}
	return k.target, ""
}

// assignLocked spreads connectors and then tasks over the workers round
// robin, in name order, so a test can predict where each one runs.
func (c *Cluster) assignLocked() map[string]string {
	out := map[string]string{}
	n := len(c.workers)
	i := 0
	for _, name := range sortedKeys(c.connectors) {
		out[name] = c.workers[i%n].addr
		i++
	}
	for _, name := range sortedKeys(c.connectors) {
		for t := range c.connectors[name].tasks {
			out[taskKey(name, t)] = c.workers[i%n].addr
			i++
		}
	}
	return out
}

func taskKey(name string, id int) string { return name + "-" + strconv.Itoa(id) }

// makeTasks gives a running connector tasks.max tasks (the heartbeat
// connector always one), and a stopped connector none, as Connect does.
func makeTasks(k *connector) []*task {
	if k.target == StateStopped {
		return nil
	}
	n := 1
	if v, err := strconv.Atoi(k.config["tasks.max"]); err == nil && v > 0 {
		n = v
	}
	if simpleName(k.config["connector.class"]) == "MirrorHeartbeatConnector" {
		n = 1
	}
	ts := make([]*task, n)
	for i := range ts {
		ts[i] = &task{}
	}
	return ts
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *Cluster) leaderURLLocked() (*url.URL, bool) {
	if c.leader < 0 || c.leader >= len(c.workers) {
		return nil, false
	}
	u, _ := url.Parse(c.workers[c.leader].URL())
	return u, true
}
