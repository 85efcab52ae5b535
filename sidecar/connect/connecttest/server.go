package connecttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func (w *Worker) serve(rw http.ResponseWriter, r *http.Request) {
	c := w.c
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(rw, errorf(http.StatusBadRequest, "read body: %v", err))
		return
	}
	_, forwarded := r.URL.Query()["forward"]
	c.mu.Lock()
	if !forwarded {
		c.requests[r.Method]++
	}
	f := c.matchFaultLocked(w.idx, r)
	c.mu.Unlock()
	if f != nil {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 {
			writeError(rw, &restError{status: f.Status, message: f.Message})
			return
		}
	}
	status, out, err := w.route(r, body)
	if err != nil {
		var fe *forwardedAnswer
		if errors.As(err, &fe) {
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(fe.status)
			_, _ = rw.Write(fe.body)
			return
		}
		writeError(rw, err)
		return
	}
	if out == nil {
		rw.WriteHeader(status)
		return
	}
	writeJSON(rw, status, out)
}

func (c *Cluster) matchFaultLocked(worker int, r *http.Request) *Fault {
	for i, f := range c.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.Path != "" && !strings.HasPrefix(r.URL.Path, f.Path) {
			continue
		}
		if f.Worker != AnyWorker && f.Worker != worker {
			continue
		}
		out := *f
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				c.faults = append(c.faults[:i:i], c.faults[i+1:]...)
			}
		}
		return &out
	}
	return nil
}

// route answers one request. A nil out with a nil error is an empty body.
func (w *Worker) route(r *http.Request, body []byte) (int, any, error) {
	path := strings.TrimSuffix(r.URL.EscapedPath(), "/")
	if path == "" {
		if r.Method != http.MethodGet {
			return 0, nil, errorf(http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
		}
		return http.StatusOK, map[string]string{"version": version, "commit": "0000000000000000", "kafka_cluster_id": "connecttest"}, nil
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if parts[0] == "connector-plugins" {
		return w.c.pluginRoute(r, parts, body)
	}
	if parts[0] != "connectors" || len(parts) > 3 {
		return 0, nil, errorf(http.StatusNotFound, "HTTP 404 Not Found")
	}
	if len(parts) == 1 {
		switch r.Method {
		case http.MethodGet:
			return w.c.list(r)
		case http.MethodPost:
			return w.create(r, body)
		}
		return 0, nil, errorf(http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
	}
	name, err := url.PathUnescape(parts[1])
	if err != nil {
		return 0, nil, errorf(http.StatusNotFound, "HTTP 404 Not Found")
	}
	sub := ""
	if len(parts) == 3 {
		sub = parts[2]
	}
	switch r.Method + " " + sub {
	case "GET ":
		return w.c.info(name)
	case "DELETE ":
		return w.write(r, body, name, w.c.delete)
	case "GET config":
		return w.c.config(name)
	case "PUT config":
		return w.write(r, body, name, w.c.putConfig)
	case "GET status":
		return w.c.status(name)
	case "GET tasks":
		return w.c.taskConfigs(name)
	case "PUT pause":
		return w.c.setTarget(name, StatePaused)
	case "PUT resume":
		return w.c.setTarget(name, StateRunning)
	case "PUT stop":
		return w.write(r, body, name, w.c.stop)
	case "POST restart":
		return w.write(r, body, name, w.c.restart)
	case "GET offsets":
		return w.c.getOffsets(name)
	case "PATCH offsets", "DELETE offsets":
		return w.write(r, body, name, w.c.changeOffsets)
	}
	return 0, nil, errorf(http.StatusNotFound, "HTTP 404 Not Found")
}

type writeFunc func(r *http.Request, body []byte, name string) (int, any, error)

// write runs a request only the leader may serve, forwarding it from a
// non-leader as HerderRequestHandler does: a request without the forward
// flag may take two hops, one with forward=true one more, and one with
// forward=false none.
func (w *Worker) write(r *http.Request, body []byte, name string, fn writeFunc) (int, any, error) {
	c := w.c
	c.mu.Lock()
	rebalancing := c.rebalancing
	isLeader := c.leader == w.idx
	leaderURL, known := c.leaderURLLocked()
	c.mu.Unlock()
	if rebalancing {
		return 0, nil, errorf(http.StatusConflict, MsgStaleConfig)
	}
	if isLeader {
		return fn(r, body, name)
	}
	q := r.URL.Query()
	fwd, has := q["forward"]
	if has && len(fwd) > 0 && fwd[0] == "false" {
		return 0, nil, errorf(http.StatusConflict, MsgConflictingOp)
	}
	if !known {
		return 0, nil, errorf(http.StatusConflict, MsgNoLeader)
	}
	q.Set("forward", fmt.Sprint(!has))
	u := *leaderURL
	u.Path, u.RawPath = r.URL.Path, r.URL.RawPath
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, errorf(http.StatusInternalServerError, "%v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.mu.Lock()
	c.forwarded++
	c.mu.Unlock()
	resp, err := c.fwd.Do(req)
	if err != nil {
		return 0, nil, errorf(http.StatusInternalServerError, "IO Error trying to forward REST request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return 0, nil, &forwardedAnswer{status: resp.StatusCode, body: b}
}

type forwardedAnswer struct {
	status int
	body   []byte
}

func (f *forwardedAnswer) Error() string { return fmt.Sprintf("forwarded: HTTP %d", f.status) }

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []taskID          `json:"tasks"`
	Type   string            `json:"type"`
}

type taskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

type stateInfo struct {
	State    string `json:"state"`
	Version  string `json:"version"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskStateInfo struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	Version  string `json:"version"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type connectorStatus struct {
	Name      string          `json:"name"`
	Connector stateInfo       `json:"connector"`
	Tasks     []taskStateInfo `json:"tasks"`
	Type      string          `json:"type"`
}

func (c *Cluster) infoLocked(k *connector) connectorInfo {
	ids := make([]taskID, len(k.tasks))
	for i := range k.tasks {
		ids[i] = taskID{k.name, i}
	}
	return connectorInfo{Name: k.name, Config: maps.Clone(k.config), Tasks: ids, Type: k.typ}
}

func (c *Cluster) statusLocked(k *connector, assign map[string]string) connectorStatus {
	st := connectorStatus{Name: k.name, Type: k.typ, Tasks: []taskStateInfo{}}
	st.Connector = stateInfo{State: c.connectorStateLocked(k), Version: version, WorkerID: assign[k.name], Trace: k.failed}
	for i := range k.tasks {
		s, trace := c.taskStateLocked(k, i)
		st.Tasks = append(st.Tasks, taskStateInfo{ID: i, State: s, Version: version, WorkerID: assign[taskKey(k.name, i)], Trace: trace})
	}
	return st
}

func notFound(name string) error { return errorf(http.StatusNotFound, "Connector %s not found", name) }

// list answers GET /connectors; with expand=status and/or expand=info it
// answers a map of name to the requested expansions, as ConnectorsResource
// does (these reads do not wait for a rebalance to finish).
func (c *Cluster) list(r *http.Request) (int, any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 {
		return http.StatusOK, sortedKeys(c.connectors), nil
	}
	assign := c.assignLocked()
	out := map[string]map[string]any{}
	for name, k := range c.connectors {
		m := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				m["status"] = c.statusLocked(k, assign)
			case "info":
				m["info"] = c.infoLocked(k)
			}
		}
		out[name] = m
	}
	return http.StatusOK, out, nil
}

// readConfig serves a read of a connector's stored config (info, config,
// tasks): fn runs under the lock. Unlike status and offsets, these reads
// fail during a rebalance: the herder throws RebalanceNeededException and,
// as these reads are not forwarded, Connect's exception mapper answers 500
// (seen on Kafka Connect 4.2.1; writes answer 409 instead).
func (c *Cluster) readConfig(name string, fn func(k *connector) any) (int, any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rebalancing {
		return 0, nil, errorf(http.StatusInternalServerError, MsgRebalanceExpected)
	}
	k, ok := c.connectors[name]
	if !ok {
		return 0, nil, notFound(name)
	}
	return http.StatusOK, fn(k), nil
}

func (c *Cluster) info(name string) (int, any, error) {
	return c.readConfig(name, func(k *connector) any { return c.infoLocked(k) })
}

func (c *Cluster) config(name string) (int, any, error) {
	return c.readConfig(name, func(k *connector) any { return maps.Clone(k.config) })
}

func (c *Cluster) status(name string) (int, any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.connectors[name]
	if !ok {
		return 0, nil, errorf(http.StatusNotFound, "No status found for connector %s", name)
	}
	return http.StatusOK, c.statusLocked(k, c.assignLocked()), nil
}

func (c *Cluster) taskConfigs(name string) (int, any, error) {
	type taskInfo struct {
		ID     taskID            `json:"id"`
		Config map[string]string `json:"config"`
	}
	return c.readConfig(name, func(k *connector) any {
		out := []taskInfo{}
		for i := range k.tasks {
			cfg := maps.Clone(k.config)
			cfg["task.class"] = strings.TrimSuffix(k.config["connector.class"], "Connector") + "Task"
			out = append(out, taskInfo{ID: taskID{name, i}, Config: cfg})
		}
		return out
	})
}

type createRequest struct {
	Name         *string         `json:"name"`
	Config       json.RawMessage `json:"config"`
	InitialState string          `json:"initial_state"`
}

func (w *Worker) create(r *http.Request, body []byte) (int, any, error) {
	var req createRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, nil, errorf(http.StatusBadRequest, "Unrecognized field or malformed JSON: %v", err)
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	return w.write(r, body, name, func(_ *http.Request, _ []byte, name string) (int, any, error) {
		cfg, err := decodeConfig(req.Config)
		if err != nil {
			return 0, nil, err
		}
		target := StateRunning
		switch strings.ToUpper(req.InitialState) {
		case "", "RUNNING":
		case "PAUSED":
			target = StatePaused
		case "STOPPED":
			target = StateStopped
		default:
			return 0, nil, errorf(http.StatusBadRequest, "Cannot deserialize value of type `InitialState` from String %q: not one of the values accepted for Enum class: [STOPPED, PAUSED, RUNNING]", req.InitialState)
		}
		if err := checkName(name, cfg); err != nil {
			return 0, nil, err
		}
		return w.c.apply(name, cfg, target, false)
	})
}

func (c *Cluster) putConfig(_ *http.Request, body []byte, name string) (int, any, error) {
	cfg, err := decodeConfig(body)
	if err != nil {
		return 0, nil, err
	}
	if err := checkName(name, cfg); err != nil {
		return 0, nil, err
	}
	return c.apply(name, cfg, StateRunning, true)
}

// apply validates and stores a config: a new connector (201) or a rewrite
// of an existing one (200), which Connect treats as a change even when the
// config is identical: the connector and its tasks restart.
func (c *Cluster) apply(name string, cfg map[string]string, target string, allowExisting bool) (int, any, error) {
	c.mu.Lock()
	typ, err := c.validateLocked(cfg)
	if err != nil {
		c.mu.Unlock()
		return 0, nil, err
	}
	k, exists := c.connectors[name]
	if exists && !allowExisting {
		c.mu.Unlock()
		return 0, nil, errorf(http.StatusConflict, "Connector %s already exists", name)
	}
	status, ev := http.StatusOK, EventUpdated
	if exists {
		k.config, k.typ, k.failed = cfg, typ, ""
		k.tasks = makeTasks(k)
		c.restarts[name]++
	} else {
		k = &connector{name: name, config: cfg, target: target, typ: typ}
		k.tasks = makeTasks(k)
		c.connectors[name] = k
		status, ev = http.StatusCreated, EventCreated
	}
	c.writes[name]++
	info := c.infoLocked(k)
	if status == http.StatusCreated {
		// Connect answers a create before the connector has generated its
		// task configs: the new connector's info lists no tasks yet.
		info.Tasks = []taskID{}
	}
	c.mu.Unlock()
	c.emit([]Event{{ev, name}})
	return status, info, nil
}

func (c *Cluster) delete(_ *http.Request, _ []byte, name string) (int, any, error) {
	c.mu.Lock()
	if _, ok := c.connectors[name]; !ok {
		c.mu.Unlock()
		return 0, nil, notFound(name)
	}
	delete(c.connectors, name)
	c.writes[name]++
	c.mu.Unlock()
	c.emit([]Event{{EventDeleted, name}})
	return http.StatusNoContent, nil, nil
}

// setTarget serves pause and resume. Any worker writes the target state
// itself (no forwarding), as DistributedHerder does.
func (c *Cluster) setTarget(name, target string) (int, any, error) {
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok {
		c.mu.Unlock()
		return 0, nil, errorf(http.StatusNotFound, "Unknown connector %s", name)
	}
	ev := EventPaused
	if target == StateRunning {
		ev = EventResumed
		if k.target == StateStopped {
			k.target = target
			k.tasks = makeTasks(k)
		}
	}
	k.target = target
	c.writes[name]++
	c.mu.Unlock()
	c.emit([]Event{{ev, name}})
	return http.StatusAccepted, nil, nil
}

func (c *Cluster) stop(_ *http.Request, _ []byte, name string) (int, any, error) {
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok {
		c.mu.Unlock()
		return 0, nil, errorf(http.StatusNotFound, "Unknown connector %s", name)
	}
	k.target, k.tasks, k.failed = StateStopped, nil, ""
	c.writes[name]++
	c.mu.Unlock()
	c.emit([]Event{{EventStopped, name}})
	return http.StatusNoContent, nil, nil
}

// restart serves POST .../restart. Without includeTasks and onlyFailed it
// restarts the connector alone and answers 204; otherwise it restarts what
// the flags select and answers 202 with the status, the restarted parts
// shown as RESTARTING.
func (c *Cluster) restart(r *http.Request, _ []byte, name string) (int, any, error) {
	q := r.URL.Query()
	includeTasks := q.Get("includeTasks") == "true"
	onlyFailed := q.Get("onlyFailed") == "true"
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok {
		c.mu.Unlock()
		return 0, nil, errorf(http.StatusNotFound, "Unknown connector: %s", name)
	}
	if !includeTasks && !onlyFailed {
		k.failed = ""
		c.restarts[name]++
		c.mu.Unlock()
		c.emit([]Event{{EventRestarted, name}})
		return http.StatusNoContent, nil, nil
	}
	st := c.statusLocked(k, c.assignLocked())
	restarted := false
	if !onlyFailed || k.failed != "" {
		k.failed = ""
		st.Connector.State, st.Connector.Trace = StateRestarting, ""
		restarted = true
	}
	if includeTasks {
		for i, t := range k.tasks {
			if !onlyFailed || t.failed != "" {
				t.failed, t.state = "", ""
				st.Tasks[i].State, st.Tasks[i].Trace = StateRestarting, ""
				restarted = true
			}
		}
	}
	if restarted {
		c.restarts[name]++
	}
	c.mu.Unlock()
	if restarted {
		c.emit([]Event{{EventRestarted, name}})
	}
	return http.StatusAccepted, st, nil
}

func (c *Cluster) getOffsets(name string) (int, any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.connectors[name]
	if !ok {
		return 0, nil, notFound(name)
	}
	offs := k.offsets
	if offs == nil {
		offs = []Offset{}
	}
	return http.StatusOK, map[string]any{"offsets": offs}, nil
}

// changeOffsets serves PATCH (alter) and DELETE (reset) of .../offsets,
// which Connect allows only on a STOPPED connector.
func (c *Cluster) changeOffsets(r *http.Request, body []byte, name string) (int, any, error) {
	var req struct {
		Offsets []Offset `json:"offsets"`
	}
	if r.Method == http.MethodPatch {
		if err := json.Unmarshal(body, &req); err != nil || len(req.Offsets) == 0 {
			return 0, nil, errorf(http.StatusBadRequest, "Partitions / offsets need to be provided for an alter offsets request")
		}
	}
	c.mu.Lock()
	k, ok := c.connectors[name]
	if !ok {
		c.mu.Unlock()
		return 0, nil, notFound(name)
	}
	if k.target != StateStopped {
		c.mu.Unlock()
		return 0, nil, errorf(http.StatusBadRequest, "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	verb := "reset"
	if r.Method == http.MethodPatch {
		verb = "altered"
		for _, o := range req.Offsets {
			k.offsets = replaceOffset(k.offsets, o)
		}
	} else {
		k.offsets = nil
	}
	c.writes[name]++
	c.mu.Unlock()
	c.emit([]Event{{EventOffsetsChanged, name}})
	return http.StatusOK, map[string]string{"message": "The offsets for this connector have been " + verb + " successfully"}, nil
}

func replaceOffset(offs []Offset, o Offset) []Offset {
	key, _ := json.Marshal(o.Partition)
	for i, cur := range offs {
		if k, _ := json.Marshal(cur.Partition); bytes.Equal(k, key) {
			if o.Offset == nil {
				return append(offs[:i:i], offs[i+1:]...)
			}
			offs[i] = o
			return offs
		}
	}
	if o.Offset == nil {
		return offs
	}
	return append(offs, o)
}

// decodeConfig reads a config map. Connect's JSON mapper turns numbers and
// booleans into their JSON text when the target is a string; objects and
// arrays are refused.
func decodeConfig(raw []byte) (map[string]string, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, errorf(http.StatusBadRequest, "Connector config is missing")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errorf(http.StatusBadRequest, "Cannot deserialize connector config: %v", err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, errorf(http.StatusBadRequest, "Cannot deserialize value of %s: %v", k, err)
			}
			out[k] = s
		case len(v) > 0 && (v[0] == '{' || v[0] == '['):
			return nil, errorf(http.StatusBadRequest, "Cannot deserialize value of type `java.lang.String` from %s value for key %s", kind(v[0]), k)
		case string(v) == "null":
			return nil, errorf(http.StatusBadRequest, "Invalid value null for configuration %s", k)
		default:
			out[k] = string(v)
		}
	}
	return out, nil
}

func kind(b byte) string {
	if b == '{' {
		return "Object"
	}
	return "Array"
}

// checkName enforces ConnectorsResource's rule: a name inside the config
// must match the connector's name, and a missing one is filled in.
func checkName(name string, cfg map[string]string) error {
	if inc, ok := cfg["name"]; ok {
		if inc != name {
			return errorf(http.StatusBadRequest, "Connector name configuration (%s) doesn't match connector name in the URL (%s)", inc, name)
		}
		return nil
	}
	cfg["name"] = name
	return nil
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(b)
}

func writeError(rw http.ResponseWriter, err error) {
	var re *restError
	if !errors.As(err, &re) {
		re = &restError{status: http.StatusInternalServerError, message: err.Error()}
	}
	writeJSON(rw, re.status, map[string]any{"error_code": re.status, "message": re.message})
}
