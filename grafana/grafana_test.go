// Package grafana_test checks the dashboards and provisioning files: valid
// JSON, the data source they use, and an image that never starts with a
// default admin password.
package grafana_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string     `json:"name"`
			Datasource datasource `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		Datasource datasource `json:"datasource"`
		Expr       string     `json:"expr"`
		RefID      string     `json:"refId"`
	} `json:"targets"`
}

func loadDashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in dashboards/ (%v)", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

type provisionedDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string `yaml:"name"`
		UID       string `yaml:"uid"`
		Type      string `yaml:"type"`
		URL       string `yaml:"url"`
		IsDefault bool   `yaml:"isDefault"`
	} `yaml:"datasources"`
}

type provisionedDashboards struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name    string `yaml:"name"`
		Type    string `yaml:"type"`
		Options struct {
			Path string `yaml:"path"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(false)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestDashboards(t *testing.T) {
	var ds provisionedDatasources
	readYAML(t, "provisioning/datasources/prometheus.yml", &ds)
	if len(ds.Datasources) != 1 || ds.Datasources[0].Type != "prometheus" || !ds.Datasources[0].IsDefault {
		t.Fatalf("provisioning/datasources/prometheus.yml: want one default prometheus data source, got %+v", ds.Datasources)
	}
	uid := ds.Datasources[0].UID
	if ds.Datasources[0].URL != "${PROMETHEUS_URL}" {
		t.Errorf("data source url %q: want ${PROMETHEUS_URL}, which the task definition sets", ds.Datasources[0].URL)
	}

	want := map[string]bool{"mm2-replication": false, "mm2-workers": false, "mm2-readiness": false}
	uids := map[string]string{}
	for f, d := range loadDashboards(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid and title are required", f)
		}
		if prev, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %s", prev, f, d.UID)
		}
		uids[d.UID] = f
		if _, ok := want[d.UID]; ok {
			want[d.UID] = true
		}
		if len(d.Panels) == 0 {
			t.Errorf("%s: no panels", f)
		}
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", f, p.ID)
			}
			ids[p.ID] = true
			if p.Datasource.UID != uid {
				t.Errorf("%s: panel %q uses data source %q, not the provisioned %q", f, p.Title, p.Datasource.UID, uid)
			}
			if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%s: panel %q has grid position %+v outside the 24-column grid", f, p.Title, p.GridPos)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", f, p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: panel %q has a query without expr or with a missing or repeated refId", f, p.Title)
				}
				refs[tg.RefID] = true
				if tg.Datasource.UID != uid {
					t.Errorf("%s: panel %q query %s uses data source %q", f, p.Title, tg.RefID, tg.Datasource.UID)
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Datasource.UID != uid {
				t.Errorf("%s: variable %s uses data source %q", f, v.Name, v.Datasource.UID)
			}
		}
	}
	for u, ok := range want {
		if !ok {
			t.Errorf("no dashboard with uid %s", u)
		}
	}
}

// TestImageBakesProvisioning checks that the Dockerfile puts the files where
// the provisioning points Grafana.
func TestImageBakesProvisioning(t *testing.T) {
	var dp provisionedDashboards
	readYAML(t, "provisioning/dashboards/mm2.yml", &dp)
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" {
		t.Fatalf("provisioning/dashboards/mm2.yml: want one file provider, got %+v", dp.Providers)
	}
	raw, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"COPY dashboards/ " + dp.Providers[0].Options.Path + "/",
		"COPY provisioning/ /etc/grafana/provisioning/",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(raw) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if bytes.Contains(raw, []byte("GF_SECURITY_ADMIN_PASSWORD")) {
		t.Error("Dockerfile sets the admin password: it must come from a secret at run time")
	}
}

func runEntrypoint(t *testing.T, env ...string) (string, error) {
	t.Helper()
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "entrypoint.sh")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "GRAFANA_RUN=" + truePath}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestEntrypointAdminPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "correct-horse-battery")
	empty := write("empty", "")
	def := write("default", "admin")
	url := "PROMETHEUS_URL=http://prometheus.mm2.local:9090"
	tests := []struct {
		name string
		env  []string
		want string // empty: starts
	}{
		{"password file", []string{"GF_SECURITY_ADMIN_PASSWORD__FILE=" + good, url}, ""},
		{"password from Secrets Manager", []string{"GF_SECURITY_ADMIN_PASSWORD=correct-horse-battery", url}, ""},
		{"no password", []string{url}, "no admin password"},
		{"missing file", []string{"GF_SECURITY_ADMIN_PASSWORD__FILE=" + filepath.Join(dir, "nope"), url}, "file not readable"},
		{"empty file", []string{"GF_SECURITY_ADMIN_PASSWORD__FILE=" + empty, url}, "file is empty"},
		{"grafana default", []string{"GF_SECURITY_ADMIN_PASSWORD__FILE=" + def, url}, "Grafana's default"},
		{"short", []string{"GF_SECURITY_ADMIN_PASSWORD=hunter2", url}, "shorter than 12"},
		{"no prometheus url", []string{"GF_SECURITY_ADMIN_PASSWORD=correct-horse-battery"}, "PROMETHEUS_URL is not set"},
		{"bad prometheus url", []string{"GF_SECURITY_ADMIN_PASSWORD=correct-horse-battery", "PROMETHEUS_URL=prometheus:9090"}, "must start with http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runEntrypoint(t, tc.env...)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("entrypoint refused: %v\n%s", err, out)
				}
				return
			}
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("err=%v output %q, want a refusal saying %q", err, out, tc.want)
			}
			if strings.Contains(out, "correct-horse-battery") {
				t.Error("the entrypoint printed the password")
			}
		})
	}
}
