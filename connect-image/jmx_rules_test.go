// Package connectimage_test checks the Connect image without building it: the
// JMX exporter rules against a fixture exposition, and the worker and MM2
// connector examples against what the sidecar and Connect accept.
package connectimage_test

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// jmxConfig is the part of the JMX exporter's configuration the rules use.
type jmxConfig struct {
	LowercaseOutputName       bool      `yaml:"lowercaseOutputName"`
	LowercaseOutputLabelNames bool      `yaml:"lowercaseOutputLabelNames"`
	IncludeObjectNames        []string  `yaml:"includeObjectNames"`
	Rules                     []jmxRule `yaml:"rules"`
}

type jmxRule struct {
	Pattern string            `yaml:"pattern"`
	Name    string            `yaml:"name"`
	Value   string            `yaml:"value"`
	Labels  map[string]string `yaml:"labels"`
	Type    string            `yaml:"type"`

	re *regexp.Regexp
}

// sample is one series the exporter would expose.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s sample) key() string {
	names := make([]string, 0, len(s.labels))
	for k := range s.labels {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.name)
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", k, s.labels[k])
	}
	b.WriteByte('}')
	return b.String()
}

func loadJMXConfig(t *testing.T) jmxConfig {
	t.Helper()
	raw, err := os.ReadFile("jmx-exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg jmxConfig
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("jmx-exporter.yml: %v", err)
	}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		// The exporter wraps every pattern the same way before matching.
		re, err := regexp.Compile("^.*(?:" + r.Pattern + ").*$")
		if err != nil {
			t.Fatalf("jmx-exporter.yml rule %d: pattern %q: %v", i, r.Pattern, err)
		}
		r.re = re
	}
	return cfg
}

// javaReplace expands $N references the way java.util.regex.Matcher does.
func javaReplace(re *regexp.Regexp, match []int, input, template string) string {
	return string(re.ExpandString(nil, regexp.MustCompile(`\$(\d+)`).ReplaceAllString(template, "$${$1}"), input, match))
}

// toSafeName mirrors the exporter: characters outside [a-zA-Z0-9:_] become
// "_", runs of "_" collapse, and a leading digit gets a "_" in front.
func toSafeName(s string) string {
	var b strings.Builder
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	prevUnderscore := false
	for _, c := range s {
		legal := c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !legal {
			if !prevUnderscore {
				b.WriteByte('_')
				prevUnderscore = true
			}
			continue
		}
		b.WriteRune(c)
		prevUnderscore = false
	}
	return b.String()
}

var reservedSuffixes = []string{"_total", "_created", "_bucket", "_info"}

// exposedName is the name the 1.x agent really writes: client_java strips
// reserved suffixes from every metric name and puts _total back on counters.
func exposedName(name, typ string) string {
	for stripped := true; stripped; {
		stripped = false
		for _, suf := range reservedSuffixes {
			if strings.HasSuffix(name, suf) && name != suf {
				name = strings.TrimSuffix(name, suf)
				stripped = true
			}
		}
	}
	if typ == "COUNTER" {
		return name + "_total"
	}
	return name
}

// apply runs the rules over one MBean attribute line the way the exporter
// does: the first matching rule wins; no match means no series.
func (cfg jmxConfig) apply(line string) (sample, bool, error) {
	_, s, ok, err := cfg.applyNamed(line)
	return s, ok, err
}

// applyNamed also returns the name the rule writes, before the agent's
// renaming.
func (cfg jmxConfig) applyNamed(line string) (string, sample, bool, error) {
	for _, r := range cfg.Rules {
		m := r.re.FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		name := toSafeName(javaReplace(r.re, m, line, r.Name))
		if cfg.LowercaseOutputName {
			name = strings.ToLower(name)
		}
		labels := map[string]string{}
		for k, v := range r.Labels {
			ln := toSafeName(javaReplace(r.re, m, line, k))
			if cfg.LowercaseOutputLabelNames {
				ln = strings.ToLower(ln)
			}
			lv := javaReplace(r.re, m, line, v)
			if ln != "" && lv != "" {
				labels[ln] = lv
			}
		}
		raw := line[strings.LastIndex(line, ": ")+2:]
		if r.Value != "" {
			raw = javaReplace(r.re, m, line, r.Value)
		}
		var value float64
		switch raw {
		case "true":
			value = 1
		case "false":
			value = 0
		default:
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return "", sample{}, false, fmt.Errorf("rule %q matched %q but its value %q is not a number: the exporter drops it", r.Pattern, line, raw)
			}
			value = v
		}
		return name, sample{name: exposedName(name, r.Type), labels: labels, value: value}, true, nil
	}
	return "", sample{}, false, nil
}

type mbeanLine struct {
	text    string
	ignored bool
	lineNo  int
}

func loadMBeans(t *testing.T) []mbeanLine {
	t.Helper()
	f, err := os.Open("testdata/mbeans.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []mbeanLine
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		text, ignored := strings.CutSuffix(line, " # ignored")
		out = append(out, mbeanLine{text: text, ignored: ignored, lineNo: n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadFixture(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open("testdata/rules-expected.prom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("testdata/rules-expected.prom: %v", err)
	}
	return fams
}

// fixtureSamples flattens the fixture into series keyed like sample.key.
// Summaries and histograms are not produced by rules and are skipped.
func fixtureSamples(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, fam := range fams {
		for _, m := range fam.GetMetric() {
			s := sample{name: name, labels: map[string]string{}}
			for _, lp := range m.GetLabel() {
				s.labels[lp.GetName()] = lp.GetValue()
			}
			switch {
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Untyped != nil:
				s.value = m.GetUntyped().GetValue()
			default:
				continue
			}
			out[s.key()] = s.value
		}
	}
	return out
}

// builtIn names the families the agent exports without rules (JVM, process
// and the exporter's own). Only these may appear in the fixture unexplained.
func builtIn(name string) bool {
	for _, p := range []string{"jvm_", "process_", "jmx_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// TestRulesProduceFixture applies the rules to the sample MBeans and checks
// the result against the fixture both ways: every series the rules produce
// is in the fixture with the same labels and value, and every series of the
// fixture (built-ins aside) comes from a rule.
func TestRulesProduceFixture(t *testing.T) {
	cfg := loadJMXConfig(t)
	fixture := fixtureSamples(loadFixture(t))
	produced := map[string]int{} // key -> mbeans.txt line
	ruleHits := make([]int, len(cfg.Rules))

	for _, mb := range loadMBeans(t) {
		s, ok, err := cfg.apply(mb.text)
		if err != nil {
			t.Errorf("mbeans.txt:%d: %v", mb.lineNo, err)
			continue
		}
		if mb.ignored {
			if ok {
				t.Errorf("mbeans.txt:%d: %q is marked ignored but produces %s", mb.lineNo, mb.text, s.key())
			}
			continue
		}
		if !ok {
			t.Errorf("mbeans.txt:%d: no rule matches %q", mb.lineNo, mb.text)
			continue
		}
		for i, r := range cfg.Rules {
			if r.re.MatchString(mb.text) {
				ruleHits[i]++
				break
			}
		}
		if prev, dup := produced[s.key()]; dup {
			t.Errorf("mbeans.txt:%d and :%d both produce %s: the exporter would add an _objectname label", prev, mb.lineNo, s.key())
		}
		produced[s.key()] = mb.lineNo
		v, ok := fixture[s.key()]
		switch {
		case !ok:
			t.Errorf("mbeans.txt:%d: rules produce %s %g, which the fixture lacks", mb.lineNo, s.key(), s.value)
		case math.Abs(v-s.value) > 1e-9*math.Max(1, math.Abs(v)):
			t.Errorf("mbeans.txt:%d: %s is %g from the rules but %g in the fixture", mb.lineNo, s.key(), s.value, v)
		}
	}
	for key := range fixture {
		name := key[:strings.IndexByte(key, '{')]
		if _, ok := produced[key]; !ok && !builtIn(name) {
			t.Errorf("fixture series %s comes from no rule and no sample MBean", key)
		}
	}
	for i, n := range ruleHits {
		if n == 0 {
			t.Errorf("rule %d (%s) matches no sample MBean: add one to testdata/mbeans.txt or drop the rule", i, cfg.Rules[i].Name)
		}
	}
}

// TestRuleNamesAreExposedAsWritten guards against the 1.x agent's renaming:
// a rule named *_info or a non-counter named *_total would silently come out
// under another name than the one dashboards and the sidecar query.
func TestRuleNamesAreExposedAsWritten(t *testing.T) {
	cfg := loadJMXConfig(t)
	for i, r := range cfg.Rules {
		if !strings.HasPrefix(r.Name, "kafka_") {
			t.Errorf("rule %d: name %q: every rule's name starts with kafka_", i, r.Name)
		}
		switch r.Type {
		case "GAUGE", "COUNTER":
		default:
			t.Errorf("rule %d (%s): type %q: use GAUGE or COUNTER", i, r.Name, r.Type)
		}
	}
	for _, mb := range loadMBeans(t) {
		written, s, ok, err := cfg.applyNamed(mb.text)
		if err != nil || !ok {
			continue // TestRulesProduceFixture reports these
		}
		if written != s.name {
			t.Errorf("mbeans.txt:%d: a rule names the series %q but the agent exposes it as %q", mb.lineNo, written, s.name)
		}
	}
}

// TestMetricNameContract lists the JMX series the dashboards, alert rules
// and the sidecar rely on, a public interface, and checks the fixture has each.
// The three state series carry no _info suffix: the 1.x agent cannot
// expose one from a rule.
func TestMetricNameContract(t *testing.T) {
	fams := loadFixture(t)
	contract := map[string][]string{
		"kafka_connect_worker_rebalance_leader":                       {"leader_name"},
		"kafka_connect_worker_rebalance_rebalancing":                  nil,
		"kafka_connect_worker_rebalance_completed_rebalances_total":   nil,
		"kafka_connect_worker_rebalance_time_since_last_rebalance_ms": nil,
		"kafka_connect_worker_connector_count":                        nil,
		"kafka_connect_worker_task_count":                             nil,
		"kafka_connect_worker_connector_startup_failure_total":        nil,
		"kafka_connect_worker_task_startup_failure_total":             nil,
		"kafka_connect_connector_status":                              {"connector", "status"},
		"kafka_connect_connector_task_status":                         {"connector", "task", "status"},
		"kafka_connect_source_task_source_record_poll_total":          {"connector", "task"},
		"kafka_connect_source_task_source_record_write_total":         {"connector", "task"},
		"kafka_consumer_fetch_manager_records_lag":                    {"client_id", "topic", "partition"},
		"kafka_consumer_fetch_manager_records_lag_max":                {"client_id"},
		"kafka_consumer_fetch_manager_bytes_consumed_total":           {"client_id"},
		"kafka_producer_record_send_total":                            {"client_id"},
		"kafka_producer_record_error_total":                           {"client_id"},
		"kafka_producer_byte_total":                                   {"client_id"},
		"jvm_memory_used_bytes":                                       {"area"},
		"jvm_memory_max_bytes":                                        {"area"},
		"jvm_gc_collection_seconds":                                   {"gc"},
		"jvm_threads_current":                                         nil,
		"process_cpu_seconds_total":                                   nil,
	}
	mirror := []string{"source", "target", "topic", "partition"}
	for _, base := range []string{"record_count", "byte_count", "byte_rate", "record_age_ms", "replication_latency_ms"} {
		contract["kafka_connect_mirror_source_connector_"+base] = mirror
	}
	for _, base := range []string{"record_age_ms", "replication_latency_ms"} {
		for _, agg := range []string{"_max", "_min", "_avg"} {
			contract["kafka_connect_mirror_source_connector_"+base+agg] = mirror
		}
	}
	checkpoint := []string{"source", "target", "group", "topic", "partition"}
	for _, suffix := range []string{"", "_max", "_min", "_avg"} {
		contract["kafka_connect_mirror_checkpoint_connector_checkpoint_latency_ms"+suffix] = checkpoint
	}

	for name, labels := range contract {
		fam, ok := fams[name]
		if !ok {
			t.Errorf("fixture lacks %s", name)
			continue
		}
		for _, m := range fam.GetMetric() {
			have := map[string]bool{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = true
			}
			for _, l := range labels {
				if !have[l] {
					t.Errorf("%s: a series lacks label %q", name, l)
				}
			}
		}
	}
}

// TestAgentListensOnLoopbackOnly checks the agent flag the image sets.
func TestAgentListensOnLoopbackOnly(t *testing.T) {
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-javaagent:[^"\s=]+=([^:"\s]+):(\d+):(\S+?)"`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatal("Dockerfile: no -javaagent flag for the JMX exporter")
	}
	if m[1] != "127.0.0.1" || m[2] != "9404" {
		t.Errorf("JMX exporter agent listens on %s:%s, want 127.0.0.1:9404", m[1], m[2])
	}
	if m[3] != "/opt/jmx-exporter/jmx-exporter.yml" {
		t.Errorf("agent reads %s, but the image copies the rules to /opt/jmx-exporter/jmx-exporter.yml", m[3])
	}
}
