// Package desired owns the operator's desired connectors: parsing connector
// JSON files, loading every *.json under an s3:// prefix or file://
// directory (downloading again only what changed), and watching for changes
// (fsnotify for directories, ETag polling for S3). It does not talk to Kafka
// Connect; package reconcile compares this desired set with Connect's.
//
// A file is either the body of POST /connectors,
//
//	{"name": "msc", "config": {...}, "state": "running"}
//
// where "state" (or Connect's own "initial_state") is optional and is one
// of running, paused or stopped, or a flat config map holding "name", in
// which the reserved key "sidecar.state" carries the desired state and is
// removed before the config is sent to Connect. A connector without a state
// is created RUNNING and then left in whatever state an operator puts it.
//
// Values end up as Connect stores them: strings verbatim, numbers as their
// JSON text (3 -> "3", 1.50 -> "1.50"), booleans as "true"/"false", and the
// connector's name added under "name", as Connect's REST layer adds it.
// null, objects and arrays are errors. A name Connect's REST paths cannot
// address (".", "..", one holding "/" or a control character) is refused.
package desired

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Desired states, spelled as Connect reports them.
const (
	StateRunning = "RUNNING"
	StatePaused  = "PAUSED"
	StateStopped = "STOPPED"
)

// StateKey is the reserved key of a flat file that carries the desired
// state; it never reaches Connect.
const StateKey = "sidecar.state"

// Connector is one desired connector.
type Connector struct {
	// Name is the connector's name, one Connect's REST paths can address.
	Name string
	// Config is the config as Connect would store it, "name" included and
	// StateKey removed.
	Config map[string]string
	// State is StateRunning, StatePaused or StateStopped; empty when the
	// file sets none and the state is left to the operator.
	State string
	// File is the URI of the file it came from.
	File string
	// Digest is a hash of Name, Config and State: it changes when the
	// file's meaning does, not when only its whitespace or key order does.
	Digest string
}

// FileError is a connector file that cannot be used.
type FileError struct {
	// File is the URI of the bad file.
	File string
	// Connector is the name the file gives, when it could be read; empty
	// otherwise.
	Connector string
	// Err is the cause, wrapping one of the Err* values when the content
	// is at fault, or the read error.
	Err error
}

func (e *FileError) Error() string {
	if e.Connector != "" {
		return fmt.Sprintf("%s (connector %s): %v", e.File, e.Connector, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Errors a caller may branch on, wrapped in a *FileError.
var (
	ErrSyntax        = errors.New("invalid JSON")
	ErrNoName        = errors.New("no connector name")
	ErrNameMismatch  = errors.New("name mismatch")
	ErrBadValue      = errors.New("bad value")
	ErrBadState      = errors.New("bad state")
	ErrDuplicateName = errors.New("duplicate connector name")
	ErrBadName       = errors.New("bad connector name")
)

// Parse reads one connector file. file names it in errors.
func Parse(file string, data []byte) (Connector, error) {
	c, err := parse(data)
	if err != nil {
		return Connector{}, &FileError{File: file, Connector: c.Name, Err: err}
	}
	c.File = file
	return c, nil
}

func parse(data []byte) (Connector, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top map[string]json.RawMessage
	if err := dec.Decode(&top); err != nil {
		return Connector{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if dec.More() {
		return Connector{}, fmt.Errorf("%w: data after the top-level object", ErrSyntax)
	}
	if top == nil {
		return Connector{}, fmt.Errorf("%w: want a JSON object, got null", ErrSyntax)
	}
	if raw, ok := top["config"]; ok && isObject(raw) {
		return parseWrapper(top)
	}
	return parseFlat(top)
}

func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

func parseWrapper(top map[string]json.RawMessage) (Connector, error) {
	var c Connector
	for k := range top {
		switch k {
		case "name", "config", "state", "initial_state":
		default:
			return c, fmt.Errorf("%w: unknown key %q next to \"config\" (want name, config, state)", ErrBadValue, k)
		}
	}
	var name string
	if raw, ok := top["name"]; ok {
		if err := json.Unmarshal(raw, &name); err != nil {
			return c, fmt.Errorf("%w: \"name\" must be a string", ErrBadValue)
		}
	}
	cfg, err := stringMap(top["config"])
	if err != nil {
		return Connector{Name: name}, err
	}
	inner, hasInner := cfg["name"]
	switch {
	case name == "" && !hasInner:
		return c, fmt.Errorf("%w: set \"name\" next to \"config\"", ErrNoName)
	case name == "":
		name = inner
	case hasInner && inner != name:
		return Connector{Name: name}, fmt.Errorf("%w: \"name\" is %q but config's \"name\" is %q", ErrNameMismatch, name, inner)
	}
	if _, ok := cfg[StateKey]; ok {
		return Connector{Name: name}, fmt.Errorf("%w: %q belongs in flat files; use \"state\" next to \"config\"", ErrBadValue, StateKey)
	}
	state, err := wrapperState(top)
	if err != nil {
		return Connector{Name: name}, err
	}
	return finish(name, cfg, state)
}

func wrapperState(top map[string]json.RawMessage) (string, error) {
	var states []string
	for _, k := range []string{"state", "initial_state"} {
		raw, ok := top[k]
		if !ok {
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%w: %q must be a string", ErrBadState, k)
		}
		st, err := normState(k, s)
		if err != nil {
			return "", err
		}
		states = append(states, st)
	}
	if len(states) == 2 && states[0] != states[1] {
		return "", fmt.Errorf("%w: \"state\" and \"initial_state\" disagree", ErrBadState)
	}
	if len(states) == 0 {
		return "", nil
	}
	return states[0], nil
}

func parseFlat(top map[string]json.RawMessage) (Connector, error) {
	raw, err := json.Marshal(top)
	if err != nil {
		return Connector{}, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	cfg, err := stringMap(raw)
	if err != nil {
		return Connector{}, err
	}
	name, ok := cfg["name"]
	if !ok {
		return Connector{}, fmt.Errorf("%w: a flat config needs a \"name\" key (or use {\"name\":…, \"config\":{…}})", ErrNoName)
	}
	state := ""
	if s, ok := cfg[StateKey]; ok {
		delete(cfg, StateKey)
		if state, err = normState(StateKey, s); err != nil {
			return Connector{Name: name}, err
		}
	}
	return finish(name, cfg, state)
}

func normState(key, s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "running":
		return StateRunning, nil
	case "paused":
		return StatePaused, nil
	case "stopped":
		return StateStopped, nil
	}
	return "", fmt.Errorf("%w: %s %q (want running, paused or stopped)", ErrBadState, key, s)
}

func finish(name string, cfg map[string]string, state string) (Connector, error) {
	if strings.TrimSpace(name) == "" {
		return Connector{}, fmt.Errorf("%w: the name is empty", ErrNoName)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		// Not kept as the connector's name: it would reach logs raw.
		return Connector{}, fmt.Errorf("%w: name %q has a control character", ErrBadName, name)
	}
	if strings.TrimSpace(name) != name {
		return Connector{Name: name}, fmt.Errorf("%w: name %q has surrounding spaces", ErrBadValue, name)
	}
	// Every request about a connector puts its name in the path
	// /connectors/{name}/...: HTTP stacks drop "." and ".." segments (and
	// "../config" then names another resource), and an escaped "/" is
	// refused or decoded into two segments. Such a connector could be
	// created but never updated, paused or restarted.
	if name == "." || name == ".." || strings.Contains(name, "/") {
		return Connector{Name: name}, fmt.Errorf("%w: name %q cannot be addressed in Connect's REST paths (/connectors/{name}): not \".\", \"..\" or with \"/\"", ErrBadName, name)
	}
	cfg["name"] = name
	return Connector{Name: name, Config: cfg, State: state, Digest: digest(name, cfg, state)}, nil
}

// stringMap decodes an object whose values must become Connect's strings.
func stringMap(raw json.RawMessage) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrSyntax, err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out[k] = v
		case json.Number:
			out[k] = v.String()
		case bool:
			out[k] = fmt.Sprint(v)
		case nil:
			return nil, fmt.Errorf("%w: key %q is null (remove it or give a string)", ErrBadValue, k)
		default:
			return nil, fmt.Errorf("%w: key %q is a JSON %s; Connect configs hold strings", ErrBadValue, k, jsonKind(v))
		}
	}
	return out, nil
}

func jsonKind(v any) string {
	if _, ok := v.([]any); ok {
		return "array"
	}
	return "object"
}

func digest(name string, cfg map[string]string, state string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	fmt.Fprintf(h, "%q %q\n", name, state)
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, cfg[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
