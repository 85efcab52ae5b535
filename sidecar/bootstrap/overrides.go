package bootstrap

import (
	"sort"
	"strings"
)

const connectPrefix = "CONNECT_"

// propertyName maps a CONNECT_* environment variable name to the worker
// property it sets, with the rules of Confluent's images: strip the prefix,
// lower-case, "_" to ".", then "..." to "-" and ".." to "_" (so "___" is "-"
// and "__" is "_"). ok is false for any other variable.
func propertyName(env string) (name string, ok bool) {
	rest, found := strings.CutPrefix(env, connectPrefix)
	if !found || rest == "" {
		return "", false
	}
	name = strings.ReplaceAll(strings.ToLower(rest), "_", ".")
	name = strings.ReplaceAll(name, "...", "-")
	name = strings.ReplaceAll(name, "..", "_")
	return name, true
}

// override is one worker property set from the environment.
type override struct {
	Env   string // the environment variable, for messages
	Key   string // the worker property
	Value string
}

// overrides picks the CONNECT_* variables out of environ (os.Environ form,
// "NAME=value") and maps them to worker properties, sorted by property name.
// The sidecar's own settings start with SIDECAR_, so every CONNECT_*
// variable is a worker property.
func overrides(environ []string) []override {
	byKey := map[string]override{}
	for _, kv := range environ {
		env, val, found := strings.Cut(kv, "=")
		if !found {
			continue
		}
		key, ok := propertyName(env)
		if !ok {
			continue
		}
		// Two spellings of one property (CONNECT_A__B and CONNECT_A__b):
		// keep the one whose name sorts first so the result does not
		// depend on the order of the environment.
		if prev, dup := byKey[key]; dup && prev.Env < env {
			continue
		}
		byKey[key] = override{Env: env, Key: key, Value: val}
	}
	out := make([]override, 0, len(byKey))
	for _, o := range byKey {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
