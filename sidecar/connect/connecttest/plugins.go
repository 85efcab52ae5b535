package connecttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// version is the Connect version GET / and the plugin list report.
const version = "4.2.1"

// plugins are the connector classes the cluster knows: class -> "source" | "sink".
var plugins = map[string]string{
	"org.apache.kafka.connect.mirror.MirrorSourceConnector":     "source",
	"org.apache.kafka.connect.mirror.MirrorCheckpointConnector": "source",
	"org.apache.kafka.connect.mirror.MirrorHeartbeatConnector":  "source",
	"org.apache.kafka.connect.file.FileStreamSourceConnector":   "source",
	"org.apache.kafka.connect.file.FileStreamSinkConnector":     "sink",
	"org.apache.kafka.connect.tools.MockSourceConnector":        "source",
	"org.apache.kafka.connect.tools.MockSinkConnector":          "sink",
	"org.apache.kafka.connect.tools.VerifiableSourceConnector":  "source",
}

func simpleName(class string) string {
	if i := strings.LastIndex(class, "."); i >= 0 {
		return class[i+1:]
	}
	return class
}

// restError is an answer with Connect's {"error_code","message"} body.
type restError struct {
	status  int
	message string
}

func (e *restError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.message) }

func errorf(status int, format string, args ...any) *restError {
	return &restError{status: status, message: fmt.Sprintf(format, args...)}
}

// validateLocked checks a config as Connect's herder does before writing it
// and returns the connector type. Connect looks the class up by full name,
// simple name, or simple name without the "Connector" suffix; a class it
// cannot find is a 400, as are invalid values of known settings (collected
// into one answer).
func (c *Cluster) validateLocked(cfg map[string]string) (string, error) {
	class, ok := cfg["connector.class"]
	if !ok {
		return "", errorf(http.StatusBadRequest, "Connector config %s contains no connector type", javaMap(cfg))
	}
	typ := ""
	for full, t := range plugins {
		if full == class || simpleName(full) == class || simpleName(full) == class+"Connector" {
			typ = t
			break
		}
	}
	if typ == "" {
		return "", errorf(http.StatusBadRequest,
			"Failed to find any class that implements Connector and which name matches %s, available connectors are: %s",
			class, pluginList())
	}
	var errs []string
	if v, ok := cfg["tasks.max"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("Invalid value %s for configuration tasks.max: Not a number of type INT", v))
		case n < 1:
			errs = append(errs, fmt.Sprintf("Invalid value %d for configuration tasks.max: Value must be at least 1", n))
		}
	}
	if strings.TrimSpace(cfg["name"]) == "" {
		errs = append(errs, "Invalid value  for configuration name: String may not be empty")
	}
	if len(errs) > 0 {
		return "", errorf(http.StatusBadRequest,
			"Connector configuration is invalid and contains the following %d error(s):\n%s\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
			len(errs), strings.Join(errs, "\n"))
	}
	return typ, nil
}

func pluginList() string {
	var names []string
	for full, t := range plugins {
		names = append(names, fmt.Sprintf("PluginDesc{klass=class %s, name='%s', version='%s', type=%s, typeName='%s', location='classpath'}", full, full, version, t, t))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// javaMap renders a map as Java's AbstractMap.toString does.
func javaMap(m map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// pluginRoute answers GET /connector-plugins and
// PUT /connector-plugins/{class}/config/validate, the latter with
// Connect's ConfigInfos shape: every error of the config in one answer.
func (c *Cluster) pluginRoute(r *http.Request, parts []string, body []byte) (int, any, error) {
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		type plugin struct {
			Class   string `json:"class"`
			Type    string `json:"type"`
			Version string `json:"version"`
		}
		var out []plugin
		for full, t := range plugins {
			out = append(out, plugin{full, t, version})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
		return http.StatusOK, out, nil
	case len(parts) == 4 && parts[2] == "config" && parts[3] == "validate" && r.Method == http.MethodPut:
		var cfg map[string]string
		if err := json.Unmarshal(body, &cfg); err != nil {
			return 0, nil, errorf(http.StatusInternalServerError, "Cannot deserialize value: %v", err)
		}
		class, err := url.PathUnescape(parts[1])
		if err != nil {
			return 0, nil, errorf(http.StatusNotFound, "HTTP 404 Not Found")
		}
		if _, ok := cfg["connector.class"]; !ok {
			cfg["connector.class"] = class
		}
		c.mu.Lock()
		_, verr := c.validateLocked(cfg)
		c.mu.Unlock()
		type value struct {
			Name   string   `json:"name"`
			Errors []string `json:"errors"`
		}
		type entry struct {
			Value value `json:"value"`
		}
		ans := struct {
			Name       string  `json:"name"`
			ErrorCount int     `json:"error_count"`
			Configs    []entry `json:"configs"`
		}{Name: class}
		if re, ok := verr.(*restError); ok {
			if strings.HasPrefix(re.message, "Failed to find any class") {
				return 0, nil, re
			}
			for _, line := range strings.Split(re.message, "\n") {
				if m := validateLine.FindStringSubmatch(line); m != nil {
					ans.Configs = append(ans.Configs, entry{value{Name: m[1], Errors: []string{line}}})
					ans.ErrorCount++
				}
			}
		}
		return http.StatusOK, ans, nil
	}
	return 0, nil, errorf(http.StatusNotFound, "HTTP 404 Not Found")
}

// validateLine is one error line of validateLocked's message.
var validateLine = regexp.MustCompile(`^Invalid value .* for configuration (\S+):`)
