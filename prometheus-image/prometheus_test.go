// Package prometheusimage_test checks the Prometheus image with promtool: the
// rendered scrape config, the recording and alert rules, and their unit tests.
package prometheusimage_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"

	"go.yaml.in/yaml/v3"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(externaltool.Path(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRulesCheck(t *testing.T) {
	files, _ := filepath.Glob("rules/*.yml")
	if len(files) == 0 {
		t.Fatal("no rule files in rules/")
	}
	run(t, "promtool", append([]string{"check", "rules"}, files...)...)
}

// TestRulesUnitTests runs the promtool unit tests that show each alert
// firing and staying quiet, and the recording rules' results.
func TestRulesUnitTests(t *testing.T) {
	files, _ := filepath.Glob("tests/*.yml")
	if len(files) == 0 {
		t.Fatal("no promtool tests in tests/")
	}
	out := run(t, "promtool", append([]string{"test", "rules"}, files...)...)
	if strings.Contains(out, "FAILED") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

// TestEveryAlertIsUnitTested requires a firing case in tests/ for every
// alert in rules/ (promtool checks the quiet cases it is given).
func TestEveryAlertIsUnitTested(t *testing.T) {
	type ruleFile struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	type testFile struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	tests, _ := filepath.Glob("tests/*.yml")
	for _, f := range tests {
		var tf testFile
		readYAML(t, f, &tf)
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	rules, _ := filepath.Glob("rules/*.yml")
	n := 0
	for _, f := range rules {
		var rf ruleFile
		readYAML(t, f, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				n++
				if !fires[r.Alert] {
					t.Errorf("%s: alert %s has no test in tests/ where it fires", f, r.Alert)
				}
				if !quiet[r.Alert] {
					t.Errorf("%s: alert %s has no test in tests/ where it stays quiet", f, r.Alert)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules found")
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// render runs the image's entrypoint with the given environment; the
// Prometheus it execs is `true`, so only the rendering is exercised.
func render(t *testing.T, env ...string) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "entrypoint.sh")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"PROMETHEUS_TEMPLATE=prometheus.yml.tmpl",
		"PROMETHEUS_CONFIG=" + config,
		"PROMETHEUS_BIN=" + truePath,
	}, env...)
	out, err := cmd.CombinedOutput()
	return config, string(out), err
}

type promConfig struct {
	Global struct {
		ScrapeInterval string            `yaml:"scrape_interval"`
		ExternalLabels map[string]string `yaml:"external_labels"`
	} `yaml:"global"`
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName      string `yaml:"job_name"`
		MetricsPath  string `yaml:"metrics_path"`
		DNSSDConfigs []struct {
			Names []string `yaml:"names"`
			Type  string   `yaml:"type"`
			Port  int      `yaml:"port"`
		} `yaml:"dns_sd_configs"`
	} `yaml:"scrape_configs"`
	Alerting *struct {
		Alertmanagers []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"alertmanagers"`
	} `yaml:"alerting"`
}

// checkConfig runs promtool on a rendered file whose rule_files point at
// this directory's rules, so the config and the rules are checked together.
func checkConfig(t *testing.T, config string) {
	t.Helper()
	raw, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs("rules")
	if err != nil {
		t.Fatal(err)
	}
	local := strings.ReplaceAll(string(raw), "/etc/prometheus/rules/", rules+"/")
	path := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(path, []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	out := run(t, "promtool", "check", "config", path)
	if !strings.Contains(out, "SUCCESS: 2 rule files found") {
		t.Errorf("promtool check config did not load both rule files:\n%s", out)
	}
}

func TestEntrypointRendersConfig(t *testing.T) {
	tests := []struct {
		name     string
		env      []string
		dnsName  string
		port     int
		interval string
		alerting string
	}{
		{"defaults", []string{"SCRAPE_DNS_NAME=connect.mm2.local"}, "connect.mm2.local", 9400, "30s", ""},
		{"interval below the default scrape timeout", []string{"SCRAPE_DNS_NAME=connect.mm2.local", "SCRAPE_INTERVAL=5s"}, "connect.mm2.local", 9400, "5s", ""},
		{"all settings", []string{
			"SCRAPE_DNS_NAME=kafka-connect.migration", "SCRAPE_PORT=9500", "SCRAPE_INTERVAL=15s",
			"MM2_ENVIRONMENT=prod-eu", "ALERTMANAGER_ADDRESS=alertmanager.migration:9093",
		}, "kafka-connect.migration", 9500, "15s", "alertmanager.migration:9093"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			config, out, err := render(t, tc.env...)
			if err != nil {
				t.Fatalf("entrypoint: %v\n%s", err, out)
			}
			var c promConfig
			readYAML(t, config, &c)
			if c.Global.ScrapeInterval != tc.interval {
				t.Errorf("scrape_interval=%q, want %q", c.Global.ScrapeInterval, tc.interval)
			}
			var found bool
			for _, sc := range c.ScrapeConfigs {
				if sc.JobName != "connect-sidecar" {
					continue
				}
				found = true
				if len(sc.DNSSDConfigs) != 1 {
					t.Fatalf("connect-sidecar job has %d dns_sd_configs, want 1", len(sc.DNSSDConfigs))
				}
				d := sc.DNSSDConfigs[0]
				if len(d.Names) != 1 || d.Names[0] != tc.dnsName || d.Type != "A" || d.Port != tc.port {
					t.Errorf("dns_sd_config = %+v, want names [%s] type A port %d", d, tc.dnsName, tc.port)
				}
				if sc.MetricsPath != "/metrics" {
					t.Errorf("metrics_path=%q, want /metrics", sc.MetricsPath)
				}
			}
			if !found {
				t.Fatal("no connect-sidecar scrape job")
			}
			switch {
			case tc.alerting == "" && c.Alerting != nil:
				t.Error("alerting section rendered without ALERTMANAGER_ADDRESS")
			case tc.alerting != "" && (c.Alerting == nil || c.Alerting.Alertmanagers[0].StaticConfigs[0].Targets[0] != tc.alerting):
				t.Errorf("alerting = %+v, want target %s", c.Alerting, tc.alerting)
			}
			if strings.Contains(mustRead(t, config), "${") {
				t.Error("rendered config still holds a ${...} placeholder")
			}
			checkConfig(t, config)
		})
	}
}

func TestEntrypointRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no dns name", nil, "SCRAPE_DNS_NAME is not set"},
		{"dns name with injection", []string{"SCRAPE_DNS_NAME=a.local]\n  - evil"}, "not a DNS name"},
		{"dns name with slash", []string{"SCRAPE_DNS_NAME=a|b.local"}, "not a DNS name"},
		{"port not a number", []string{"SCRAPE_DNS_NAME=a.local", "SCRAPE_PORT=http"}, "SCRAPE_PORT=http"},
		{"port out of range", []string{"SCRAPE_DNS_NAME=a.local", "SCRAPE_PORT=70000"}, "SCRAPE_PORT=70000"},
		{"port zero", []string{"SCRAPE_DNS_NAME=a.local", "SCRAPE_PORT=0"}, "SCRAPE_PORT=0"},
		{"interval", []string{"SCRAPE_DNS_NAME=a.local", "SCRAPE_INTERVAL=30"}, "SCRAPE_INTERVAL=30"},
		{"environment label", []string{"SCRAPE_DNS_NAME=a.local", "MM2_ENVIRONMENT=a b"}, "MM2_ENVIRONMENT"},
		{"alertmanager", []string{"SCRAPE_DNS_NAME=a.local", "ALERTMANAGER_ADDRESS=http://am:9093"}, "ALERTMANAGER_ADDRESS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			config, out, err := render(t, tc.env...)
			if err == nil {
				t.Fatalf("entrypoint accepted %v; output %q", tc.env, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output %q does not contain %q", out, tc.want)
			}
			if _, err := os.Stat(config); !os.IsNotExist(err) {
				t.Errorf("a config was written despite the error (stat: %v)", err)
			}
		})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}
