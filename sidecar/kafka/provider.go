package kafka

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/magiconair/properties"
)

// refPattern is Kafka's ConfigTransformer pattern: ${provider:[path:]key}.
var refPattern = regexp.MustCompile(`\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}`)

// Resolver replaces Kafka config-provider references in connector config
// values, as the Connect worker would with its config providers:
// ${env:VAR} (EnvVarConfigProvider, which rejects a path) and
// ${file:/path/to.properties:key} (FileConfigProvider).
type Resolver struct {
	// LookupEnv finds an environment variable; os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// ReadFile reads a properties file for ${file:...}; os.ReadFile when nil.
	ReadFile func(string) ([]byte, error)
}

// Resolve returns value with every reference replaced. configKey names the
// connector config key in errors; resolved values never appear in them.
func (r Resolver) Resolve(configKey, value string) (string, error) {
	if !strings.Contains(value, "${") {
		return value, nil
	}
	var firstErr error
	out := refPattern.ReplaceAllStringFunc(value, func(ref string) string {
		if firstErr != nil {
			return ref
		}
		m := refPattern.FindStringSubmatch(ref)
		provider, path, key := m[1], m[2], m[3]
		v, err := r.lookup(provider, path, key)
		if err != nil {
			firstErr = fmt.Errorf("%s: %w", configKey, err)
			return ref
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

func (r Resolver) lookup(provider, path, key string) (string, error) {
	switch provider {
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
		l := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
		p, err := l.LoadBytes(raw)
		if err != nil {
			return "", fmt.Errorf("${file:%s:%s}: parse properties: %w", path, key, err)
		}
		v, ok := p.Get(key)
		if !ok {
			return "", fmt.Errorf("${file:%s:%s}: key %s not in file", path, key, key)
		}
		return v, nil
	default:
		return "", fmt.Errorf("${%s:...}: config provider %q is not supported here (env and file are)", provider, provider)
	}
}
