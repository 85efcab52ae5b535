// Package connect owns the Kafka Connect REST client: requests, the shapes of
// Connect's answers and its error body. It does not decide what to create,
// update or restart; package reconcile does.
package connect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/mm2-fargate/mm2-ecs/sidecar/bounded"
)

// ConnectorStatus is the body of GET /connectors/{name}/status.
type ConnectorStatus struct {
	// Name is the connector's name.
	Name string `json:"name"`
	// Connector is the state of the connector instance itself.
	Connector State `json:"connector"`
	// Tasks are the states of its tasks, in Connect's order; empty while
	// none is assigned (or when the connector is stopped).
	Tasks []TaskState `json:"tasks"`
	// Type is "source", "sink" or "unknown" (Connect could not load the
	// class).
	Type string `json:"type"`
}

// State is a connector's state and where it runs.
type State struct {
	// State is one of the State* values.
	State string `json:"state"`
	// WorkerID is the host:port of the worker running the connector.
	WorkerID string `json:"worker_id"`
	// Trace is the Java stack trace of a FAILED connector; empty otherwise.
	Trace string `json:"trace,omitempty"`
}

// TaskState is one task's state and where it runs.
type TaskState struct {
	// ID is the task's number within its connector, from 0.
	ID int `json:"id"`
	// State is one of the State* values.
	State string `json:"state"`
	// WorkerID is the host:port of the worker running the task.
	WorkerID string `json:"worker_id"`
	// Trace is the Java stack trace of a FAILED task; empty otherwise.
	Trace string `json:"trace,omitempty"`
}

// Offset is one entry of GET /connectors/{name}/offsets.
type Offset struct {
	// Partition is the connector's source partition as JSON decoded it;
	// for MM2, {"cluster", "topic", "partition"}.
	Partition map[string]any `json:"partition"`
	// Offset is the committed position in it as JSON decoded it (numbers
	// are float64); for MM2, {"offset"}.
	Offset map[string]any `json:"offset"`
}

// Connector states as Connect reports them.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
)

// Observer is told about every request's outcome, for metrics. code is the
// HTTP status, or 0 when no answer came.
type Observer func(method string, code int)

// Client talks to one Kafka Connect REST endpoint. It is safe for
// concurrent use.
type Client struct {
	base     *url.URL
	http     *http.Client
	user     string
	password string
	observe  Observer
}

// New builds a client from the sidecar's Connect settings.
func New(cfg Config, observe Observer) (*Client, error) {
	base, err := url.Parse(strings.TrimSuffix(cfg.URL, "/"))
	if err != nil {
		// url.Parse's error repeats the URL, which may hold credentials:
		// keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("SIDECAR_CONNECT_URL: %w", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("SIDECAR_CONNECT_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("SIDECAR_CONNECT_CA_FILE %s: no PEM certificate found", cfg.CAFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if observe == nil {
		observe = func(string, int) {}
	}
	return &Client{
		base:     base,
		http:     &http.Client{Transport: transport, Timeout: cfg.Timeout},
		user:     cfg.Username,
		password: cfg.Password,
		observe:  observe,
	}, nil
}

// BaseURL is the Connect REST URL the client talks to, with any password
// masked so that it can be logged.
func (c *Client) BaseURL() string { return c.base.Redacted() }

// Ping checks that Connect REST answers GET /.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/", nil, nil)
}

// Connectors lists connector names.
func (c *Client) Connectors(ctx context.Context) ([]string, error) {
	var names []string
	err := c.do(ctx, http.MethodGet, "/connectors", nil, &names)
	return names, err
}

// Statuses returns every connector's status in one request.
func (c *Client) Statuses(ctx context.Context) (map[string]ConnectorStatus, error) {
	var body map[string]struct {
		Status ConnectorStatus `json:"status"`
	}
	if err := c.do(ctx, http.MethodGet, "/connectors?expand=status", nil, &body); err != nil {
		return nil, err
	}
	out := make(map[string]ConnectorStatus, len(body))
	for name, v := range body {
		out[name] = v.Status
	}
	return out, nil
}

// ConnectorInfo is the body of GET /connectors/{name}: the config exactly
// as GET .../config returns it, and the task ids.
type ConnectorInfo struct {
	// Name is the connector's name.
	Name string `json:"name"`
	// Config is the connector's config as Connect stores it, with
	// ${provider} references unresolved.
	Config map[string]string `json:"config"`
	// Tasks are the ids of the tasks Connect has configured.
	Tasks []TaskID `json:"tasks"`
	// Type is "source", "sink" or "unknown" (Connect could not load the
	// class).
	Type string `json:"type"`
}

// TaskID names one task.
type TaskID struct {
	// Connector is the connector's name.
	Connector string `json:"connector"`
	// Task is the task's number within the connector, from 0.
	Task int `json:"task"`
}

// Expanded is one connector in GET /connectors?expand=info&expand=status.
type Expanded struct {
	// Info is the connector's config and task ids.
	Info ConnectorInfo `json:"info"`
	// Status is the connector's and its tasks' states.
	Status ConnectorStatus `json:"status"`
}

// ExpandedAll returns every connector's config and status in one request
// (GET /connectors?expand=info&expand=status, Kafka 2.3+). Connect reads
// both from its current config snapshot, without waiting for a rebalance.
func (c *Client) ExpandedAll(ctx context.Context) (map[string]Expanded, error) {
	var body map[string]Expanded
	if err := c.do(ctx, http.MethodGet, "/connectors?expand=info&expand=status", nil, &body); err != nil {
		return nil, err
	}
	if body == nil {
		body = map[string]Expanded{}
	}
	return body, nil
}

// Status returns one connector's status.
func (c *Client) Status(ctx context.Context, name string) (ConnectorStatus, error) {
	var st ConnectorStatus
	err := c.do(ctx, http.MethodGet, connectorPath(name, "status"), nil, &st)
	return st, err
}

// Config returns the connector's config exactly as Connect stores it.
func (c *Client) Config(ctx context.Context, name string) (map[string]string, error) {
	var cfg map[string]string
	err := c.do(ctx, http.MethodGet, connectorPath(name, "config"), nil, &cfg)
	return cfg, err
}

// Create creates a connector with POST /connectors. initialState (RUNNING,
// PAUSED or STOPPED; Kafka 3.7+) is sent only when non-empty.
func (c *Client) Create(ctx context.Context, name string, cfg map[string]string, initialState string) error {
	body := struct {
		Name         string            `json:"name"`
		Config       map[string]string `json:"config"`
		InitialState string            `json:"initial_state,omitempty"`
	}{name, cfg, initialState}
	return c.do(ctx, http.MethodPost, "/connectors", body, nil)
}

// PutConfig creates or updates a connector. Connect rewrites the config topic
// and restarts the connector even when cfg is unchanged: compare first.
func (c *Client) PutConfig(ctx context.Context, name string, cfg map[string]string) (created bool, err error) {
	status, err := c.send(ctx, http.MethodPut, connectorPath(name, "config"), cfg, nil)
	return status == http.StatusCreated, err
}

// Delete removes a connector.
func (c *Client) Delete(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, connectorPath(name, ""), nil, nil)
}

// Pause pauses a connector and its tasks.
func (c *Client) Pause(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPut, connectorPath(name, "pause"), nil, nil)
}

// Resume resumes a paused or stopped connector.
func (c *Client) Resume(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPut, connectorPath(name, "resume"), nil, nil)
}

// Stop stops a connector and shuts its tasks down (Kafka 3.5+).
func (c *Client) Stop(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPut, connectorPath(name, "stop"), nil, nil)
}

// Restart restarts the connector and only its failed tasks (Kafka 3.0+).
func (c *Client) Restart(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, connectorPath(name, "restart")+"?includeTasks=true&onlyFailed=true", nil, nil)
}

// Offsets returns the connector's committed offsets (Kafka 3.5+).
func (c *Client) Offsets(ctx context.Context, name string) ([]Offset, error) {
	var body struct {
		Offsets []Offset `json:"offsets"`
	}
	err := c.do(ctx, http.MethodGet, connectorPath(name, "offsets"), nil, &body)
	return body.Offsets, err
}

func connectorPath(name, sub string) string {
	p := "/connectors/" + url.PathEscape(name)
	if sub != "" {
		p += "/" + sub
	}
	return p
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.send(ctx, method, path, in, out)
	return err
}

// Caps on what is read of Connect's answers. An answer decoded whole (a
// listing with every connector's config and status) is held twice while it
// is decoded, so its cap bounds the sidecar's memory: 16 MiB is a thousand
// connectors with long task traces. The offsets are streamed one entry at
// a time, so their cap only bounds the time a hostile answer may take. An
// error answer is read only for Connect's message.
const (
	MaxAnswerBytes   = 16 << 20
	maxStreamedBytes = 256 << 20
	maxErrorBytes    = 64 << 10
)

// ErrAnswerTooLarge is an answer longer than the sidecar reads; it comes
// wrapped in an *Error naming the request.
var ErrAnswerTooLarge = errors.New("answer too large")

func tooLarge(limit int64) error {
	return fmt.Errorf("%w: over %d MiB, more than the sidecar reads", ErrAnswerTooLarge, limit>>20)
}

func (c *Client) send(ctx context.Context, method, path string, in, out any) (int, error) {
	resp, err := c.open(ctx, method, path, in)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(bounded.Reader(resp.Body, MaxAnswerBytes, ErrAnswerTooLarge))
	if errors.Is(err, ErrAnswerTooLarge) {
		return resp.StatusCode, &Error{Method: method, Path: path, Status: resp.StatusCode, Err: tooLarge(MaxAnswerBytes)}
	}
	if err != nil {
		return resp.StatusCode, &Error{Method: method, Path: path, Status: resp.StatusCode, Err: err}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// open sends a request and returns a 2xx answer with its body unread; the
// caller closes it. Any other answer is an *Error carrying Connect's
// message and the status.
func (c *Client) open(ctx context.Context, method, path string, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := c.base.String() + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.user != "" {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(method, 0)
		return nil, &Error{Method: method, Path: path, Err: err}
	}
	c.observe(method, resp.StatusCode)
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	if err != nil {
		return nil, &Error{Method: method, Path: path, Status: resp.StatusCode, Err: err}
	}
	e := &Error{Method: method, Path: path, Status: resp.StatusCode}
	var eb struct {
		Code    int    `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &eb) == nil && eb.Message != "" {
		e.Code, e.Message = eb.Code, eb.Message
	} else {
		e.Message = strings.TrimSpace(string(raw))
		if len(e.Message) > 512 {
			e.Message = e.Message[:512]
		}
	}
	return nil, e
}

// Error is a failed request: a non-2xx answer (Status > 0) or no answer.
type Error struct {
	// Method is the request's HTTP method.
	Method string
	// Path is the request's path below the base URL, with its query.
	Path string
	// Status is the HTTP status; 0 when the request got no answer.
	Status int
	// Code is Connect's error_code; 0 when the body had none.
	Code int
	// Message is Connect's message, or the start of a body that is not
	// Connect's error JSON.
	Message string
	// Err is the transport error when there was no answer, or the failure
	// reading the answer's body (cut short, over the size cap); nil when
	// the body was read.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Status > 0 {
		return fmt.Sprintf("%s %s: HTTP %d: %v", e.Method, e.Path, e.Status, e.Err)
	}
	if e.Status == 0 {
		return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
	}
	if e.Message == "" {
		return fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	}
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

func status(err error) (int, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Status, true
	}
	return 0, false
}

// IsNotFound reports a 404 answer.
func IsNotFound(err error) bool { s, _ := status(err); return s == http.StatusNotFound }

// IsConflict reports a 409: a rebalance is under way, the leader is unknown
// or the config is stale. Retry with backoff.
func IsConflict(err error) bool { s, _ := status(err); return s == http.StatusConflict }

// msgRebalanceExpected is the message of the 500 that Kafka Connect (4.2.1
// checked) answers to a config read made while a rebalance is pending: the
// herder's RebalanceNeededException, which reads do not map to a 409.
const msgRebalanceExpected = "Request cannot be completed because a rebalance is expected"

// IsRebalance reports an answer a Connect rebalance explains: a 409, or the
// 500 a config read gets while a rebalance is pending. Retry with backoff,
// as for a conflict.
func IsRebalance(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == http.StatusConflict ||
		e.Status == http.StatusInternalServerError && strings.HasPrefix(e.Message, msgRebalanceExpected)
}

// IsBadRequest reports a 400: Connect rejected a value. Do not retry.
func IsBadRequest(err error) bool { s, _ := status(err); return s == http.StatusBadRequest }

// IsRetryable reports answers worth another try: 409, any 5xx (Connect
// answers 500 for both timeouts and permanent faults, so callers bound the
// retries), and requests that got no answer.
func IsRetryable(err error) bool {
	s, ok := status(err)
	if !ok {
		return false
	}
	return s == 0 || s == http.StatusConflict || s >= 500
}

// TraceLines splits a Java stack trace as Connect reports it into its first
// line and its root cause: the text after the last "Caused by: ", "" when
// there is none. A real MM2 task failing on a record too large for the
// target starts with "ConnectException: Unrecoverable exception from
// producer send callback" and names RecordTooLargeException only as its
// cause.
func TraceLines(trace string) (first, rootCause string) {
	lines := strings.Split(strings.TrimSpace(trace), "\n")
	for i := len(lines) - 1; i > 0; i-- {
		if cause, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "Caused by: "); ok {
			rootCause = cause
			break
		}
	}
	return strings.TrimSpace(lines[0]), rootCause
}
