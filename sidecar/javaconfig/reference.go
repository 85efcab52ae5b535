package javaconfig

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// refPattern is Kafka's ConfigTransformer pattern: ${provider:[path:]key}.
var refPattern = regexp.MustCompile(`\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}`)

// providerName is what config.providers entries look like.
var providerName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Reference is one ${provider:[path:]key} variable in a config value.
type Reference struct {
	// Provider is the config provider's name as written, e.g. "env".
	Provider string
	// Path is the part between provider and key; empty when absent.
	Path string
	// Key is what the provider looks up, e.g. the variable's name.
	Key string
}

// ProviderIsName reports whether Provider looks like a config.providers
// entry. What the pattern takes for the provider can be the text of a
// value around a stray "${" (a password, say): only a name is safe to
// quote in a message.
func (r Reference) ProviderIsName() bool { return providerName.MatchString(r.Provider) }

// References returns the config-provider references in value, in order,
// as Connect's ConfigTransformer finds them.
func References(value string) []Reference {
	var refs []Reference
	for _, m := range refPattern.FindAllStringSubmatch(value, -1) {
		refs = append(refs, Reference{Provider: m[1], Path: m[2], Key: m[3]})
	}
	return refs
}

// Resolver replaces Kafka config-provider references in config values, as
// a Connect worker would with its config providers: ${env:VAR}
// (EnvVarConfigProvider, which rejects a path) and
// ${file:/path/to.properties:key} (FileConfigProvider).
type Resolver struct {
	// LookupEnv finds an environment variable; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// ReadFile reads a properties file for ${file:...}; os.ReadFile when nil.
	ReadFile func(string) ([]byte, error)
}

// Resolve returns value with every reference replaced. configKey names the
// config key in errors; resolved values never appear in them.
func (r Resolver) Resolve(configKey, value string) (string, error) {
	if !strings.Contains(value, "${") {
		return value, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range refPattern.FindAllStringSubmatchIndex(value, -1) {
		ref := Reference{Provider: value[m[2]:m[3]], Key: value[m[6]:m[7]]}
		if m[4] >= 0 {
			ref.Path = value[m[4]:m[5]]
		}
		v, err := r.lookup(ref)
		if err != nil {
			return "", fmt.Errorf("%s: %w", configKey, err)
		}
		b.WriteString(value[last:m[0]])
		b.WriteString(v)
		last = m[1]
	}
	b.WriteString(value[last:])
	return b.String(), nil
}

func (r Resolver) lookup(ref Reference) (string, error) {
	path, key := ref.Path, ref.Key
	switch ref.Provider {
	case "env":
		if path != "" {
			return "", fmt.Errorf("${env:%s:%s}: the env config provider does not support a path", path, key)
		}
		lookup := r.LookupEnv
		if lookup == nil {
			lookup = os.LookupEnv
		}
		v, ok := lookup(key)
		if !ok {
			return "", fmt.Errorf("${env:%s}: environment variable %s is not set", key, key)
		}
		return v, nil
	case "file":
		if path == "" {
			return "", fmt.Errorf("${file:%s}: a path is required (${file:/path/file.properties:key})", key)
		}
		read := r.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		raw, err := read(path)
		if err != nil {
			return "", fmt.Errorf("${file:%s:%s}: %w", path, key, err)
		}
		p, err := ParseProperties(path, raw)
		if err != nil {
			return "", fmt.Errorf("${file:%s:%s}: parse properties: %w", path, key, err)
		}
		v, ok := p[key]
		if !ok {
			return "", fmt.Errorf("${file:%s:%s}: key %s not in file", path, key, key)
		}
		return v, nil
	}
	if !ref.ProviderIsName() {
		return "", errors.New("holds a ${...:...} reference whose provider part is not a provider name (env and file are supported here)")
	}
	return "", fmt.Errorf("${%s:...}: config provider %q is not supported here (env and file are)", ref.Provider, ref.Provider)
}
