// Package taskdefs_test checks the ECS task definitions and IAM policies:
// rendered and decoded into the ECS API types with unknown fields rejected,
// cross-checked against the sidecar's settings and subcommands.
package taskdefs_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/magiconair/properties"

	"github.com/mm2-fargate/mm2-ecs/sidecar/config"
)

var modes = []string{"plaintext", "scram", "mtls", "iam"}

// subcommands are connect-sidecar's commands.
var subcommands = []string{"bootstrap", "run", "status", "healthcheck", "version"}

// render runs the real render script on the example settings.
func render(t *testing.T, mode string) string {
	t.Helper()
	externaltool.Path(t, "jq")
	out := t.TempDir()
	cmd := exec.Command("bash", "../scripts/render-taskdefs.sh", "--env-file", "deploy.env.example", "--auth-mode", mode, "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render-taskdefs.sh --auth-mode %s: %v\n%s", mode, err, b)
	}
	return out
}

func exampleEnv(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("deploy.env.example")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

// decodeStrict decodes a rendered task definition into the ECS API input
// with unknown fields rejected, and checks each key is spelt as the API
// spells it: encoding/json matches field names case-insensitively, the AWS
// CLI does not.
func decodeStrict(raw []byte) (*ecs.RegisterTaskDefinitionInput, error) {
	var in ecs.RegisterTaskDefinitionInput
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, err
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	if err := checkKeys("", generic, reflect.TypeOf(in)); err != nil {
		return nil, err
	}
	return &in, nil
}

// checkKeys requires each JSON key to be the API's camelCase name of the Go
// field it decodes into (the field name with a lower-case first letter).
func checkKeys(path string, v any, typ reflect.Type) error {
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch v := v.(type) {
	case map[string]any:
		if typ.Kind() != reflect.Struct {
			return nil // a map such as logConfiguration.options
		}
		for k, child := range v {
			f, ok := typ.FieldByNameFunc(func(name string) bool { return strings.EqualFold(name, k) })
			if !ok {
				return fmt.Errorf("%s.%s: unknown field", path, k)
			}
			want := string(unicode.ToLower(rune(f.Name[0]))) + f.Name[1:]
			if k != want {
				return fmt.Errorf("%s.%s: the API spells it %q", path, k, want)
			}
			if err := checkKeys(path+"."+k, child, f.Type); err != nil {
				return err
			}
		}
	case []any:
		if typ.Kind() == reflect.Slice {
			for i, child := range v {
				if err := checkKeys(fmt.Sprintf("%s[%d]", path, i), child, typ.Elem()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func loadTask(t *testing.T, dir, name string) *ecs.RegisterTaskDefinitionInput {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	in, err := decodeStrict(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return in
}

func TestDecodeRejectsMistakes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(render(t, "plaintext"), "connect-task.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeStrict(raw); err != nil {
		t.Fatalf("the rendered task definition does not decode: %v", err)
	}
	tests := []struct{ name, from, to string }{
		{"misspelt top-level field", `"containerDefinitions"`, `"containerDefinitons"`},
		{"misspelt container field", `"healthCheck"`, `"helthCheck"`},
		{"wrong case", `"networkMode"`, `"NetworkMode"`},
		{"number where the API takes a string", `"cpu": "2048"`, `"cpu": 2048`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := bytes.Replace(raw, []byte(tc.from), []byte(tc.to), 1)
			if bytes.Equal(bad, raw) {
				t.Fatalf("%s not found in the rendered file", tc.from)
			}
			if _, err := decodeStrict(bad); err == nil {
				t.Errorf("decoding accepted %s", tc.to)
			}
		})
	}
}

func env(c types.ContainerDefinition) map[string]string {
	m := map[string]string{}
	for _, kv := range c.Environment {
		m[*kv.Name] = *kv.Value
	}
	return m
}

func secrets(c types.ContainerDefinition) map[string]string {
	m := map[string]string{}
	for _, s := range c.Secrets {
		m[*s.Name] = *s.ValueFrom
	}
	return m
}

func containers(in *ecs.RegisterTaskDefinitionInput) map[string]types.ContainerDefinition {
	m := map[string]types.ContainerDefinition{}
	for _, c := range in.ContainerDefinitions {
		m[*c.Name] = c
	}
	return m
}

func port(t *testing.T, addr string) string {
	t.Helper()
	if u, err := url.Parse(addr); err == nil && u.Port() != "" {
		return u.Port()
	}
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		t.Fatalf("%q has no port", addr)
	}
	return addr[i+1:]
}

func mappedPorts(c types.ContainerDefinition) []string {
	var ps []string
	for _, pm := range c.PortMappings {
		ps = append(ps, fmt.Sprint(*pm.ContainerPort))
	}
	return ps
}

// envRefs lists the ${env:NAME} references of a mode's worker properties
// and connectors: what the Connect container must be given.
func envRefs(t *testing.T, mode string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "connect-image", "connectors", mode, "*.json"))
	files = append(files, filepath.Join("..", "connect-image", "workers", mode+".properties"))
	seen := map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range regexp.MustCompile(`\$\{env:([A-Z0-9_]+)\}`).FindAllStringSubmatch(line, -1) {
				seen[m[1]] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func dockerfileLine(t *testing.T, path, prefix string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var last string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, prefix) {
			last = strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return last
}

func TestConnectTask(t *testing.T) {
	known := config.Keys()
	example := exampleEnv(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			dir := render(t, mode)
			in := loadTask(t, dir, "connect-task.json")
			cs := containers(in)
			for _, name := range []string{"config-init", "kafka-connect", "connect-sidecar"} {
				if _, ok := cs[name]; !ok {
					t.Fatalf("no %s container", name)
				}
			}
			if in.NetworkMode != types.NetworkModeAwsvpc || !slices.Contains(in.RequiresCompatibilities, types.CompatibilityFargate) {
				t.Errorf("want an awsvpc Fargate task, got %s %v", in.NetworkMode, in.RequiresCompatibilities)
			}

			for name, c := range cs {
				// dependsOn: the named container exists, and the condition fits it.
				for _, d := range c.DependsOn {
					dep, ok := cs[*d.ContainerName]
					switch {
					case !ok:
						t.Errorf("%s depends on %s, which the task lacks", name, *d.ContainerName)
					case d.Condition == types.ContainerConditionHealthy && dep.HealthCheck == nil:
						t.Errorf("%s waits for %s to be HEALTHY, which has no health check", name, *d.ContainerName)
					case d.Condition == types.ContainerConditionSuccess && (dep.Essential == nil || *dep.Essential):
						t.Errorf("%s waits for %s to exit with SUCCESS, but it is essential", name, *d.ContainerName)
					}
				}
				if c.Essential != nil && *c.Essential && c.HealthCheck == nil {
					t.Errorf("essential container %s has no health check", name)
				}
				if c.LogConfiguration == nil || c.LogConfiguration.LogDriver != types.LogDriverAwslogs {
					t.Errorf("%s does not log with awslogs", name)
				}
				// Every SIDECAR_* (and KAFKA_CONNECT_*) setting is one the sidecar knows.
				for k := range env(c) {
					if (strings.HasPrefix(k, "SIDECAR_") || strings.HasPrefix(k, "KAFKA_CONNECT_")) && !slices.Contains(known, k) {
						t.Errorf("%s sets %s, which the sidecar does not know", name, k)
					}
					if strings.Contains(k, "PASSWORD") || strings.Contains(k, "SECRET") {
						t.Errorf("%s puts %s in plain environment; use secrets", name, k)
					}
				}
				for k, from := range secrets(c) {
					if strings.HasPrefix(k, "SIDECAR_") && !slices.Contains(known, k) {
						t.Errorf("%s sets secret %s, which the sidecar does not know", name, k)
					}
					if !strings.HasPrefix(from, "arn:aws:secretsmanager:") && !strings.HasPrefix(from, "arn:aws:ssm:") {
						t.Errorf("%s: secret %s comes from %q, not Secrets Manager or SSM", name, k, from)
					}
				}
			}

			// The sidecar image runs subcommands; health checks name real
			// ones, through the binary the image's ENTRYPOINT runs.
			sidecarBins := sidecarBinaries(t)
			for _, name := range []string{"config-init", "connect-sidecar"} {
				c := cs[name]
				if *c.Image != example["SIDECAR_IMAGE"] {
					t.Errorf("%s runs %s, want the sidecar image", name, *c.Image)
				}
				if len(c.Command) != 1 || !slices.Contains(subcommands, c.Command[0]) {
					t.Errorf("%s command %v is not one connect-sidecar subcommand", name, c.Command)
				}
				if hc := c.HealthCheck; hc != nil {
					if len(hc.Command) < 3 || hc.Command[0] != "CMD" || !slices.Contains(sidecarBins, hc.Command[1]) || !slices.Contains(subcommands, hc.Command[2]) {
						t.Errorf("%s health check %v: want [CMD <one of %v> <subcommand> [flags]]", name, hc.Command, sidecarBins)
					}
				}
			}
			if got := cs["config-init"].Command; len(got) == 0 || got[0] != "bootstrap" {
				t.Errorf("config-init runs %v, want bootstrap", got)
			}
			if got := cs["connect-sidecar"].Command; len(got) == 0 || got[0] != "run" {
				t.Errorf("connect-sidecar runs %v, want run", got)
			}
			entrypoint, err := os.ReadFile("../connect-image/entrypoint.sh")
			if err != nil {
				t.Fatal(err)
			}
			kc := cs["kafka-connect"]
			hc := kc.HealthCheck.Command
			if len(hc) != 3 || hc[0] != "CMD" || hc[1] != dockerfileEntrypoint(t) || !bytes.Contains(entrypoint, []byte("\n  "+hc[2]+") ")) {
				t.Errorf("kafka-connect health check %v does not run the image's entrypoint with a command it has", hc)
			}

			// Ports: Connect REST, the JMX exporter and the sidecar's metrics.
			worker := properties.NewProperties()
			worker.DisableExpansion = true
			if err := worker.Load(mustRead(t, "../connect-image/workers/"+mode+".properties"), properties.UTF8); err != nil {
				t.Fatal(err)
			}
			restPort := port(t, worker.GetString("listeners", ""))
			if !slices.Contains(mappedPorts(kc), restPort) {
				t.Errorf("kafka-connect maps %v, but the worker listens on %s", mappedPorts(kc), restPort)
			}
			sc := cs["connect-sidecar"]
			se := env(sc)
			// The CloudWatch dimensions and namespace the scaling policy tracks.
			for k, want := range map[string]string{
				"SIDECAR_CLUSTER_NAME":         example["ECS_CLUSTER"],
				"SIDECAR_SERVICE_NAME":         example["CONNECT_SERVICE"],
				"SIDECAR_CLOUDWATCH_NAMESPACE": example["CLOUDWATCH_NAMESPACE"],
			} {
				if want == "" || se[k] != want {
					t.Errorf("connect-sidecar %s=%q, want %q from deploy.env.example", k, se[k], want)
				}
			}
			if p := port(t, se["SIDECAR_CONNECT_URL"]); p != restPort {
				t.Errorf("SIDECAR_CONNECT_URL port %s, worker listens on %s", p, restPort)
			}
			agent := regexp.MustCompile(`jmx_prometheus_javaagent\.jar=([0-9.]+):(\d+):`).FindStringSubmatch(string(mustRead(t, "../connect-image/Dockerfile")))
			if agent == nil || se["SIDECAR_JMX_URL"] != "http://"+agent[1]+":"+agent[2]+"/metrics" {
				t.Errorf("SIDECAR_JMX_URL=%s does not match the image's JMX agent %v", se["SIDECAR_JMX_URL"], agent)
			}
			var rolePolicy policy
			if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "iam", "connect-task-role.json")), &rolePolicy); err != nil {
				t.Fatal(err)
			}
			for _, st := range rolePolicy.Statement {
				if slices.Contains(strs(st.Action), "cloudwatch:PutMetricData") {
					if got := fmt.Sprint(st.Condition["StringEquals"]); got != "map[cloudwatch:namespace:"+se["SIDECAR_CLOUDWATCH_NAMESPACE"]+"]" {
						t.Errorf("the task role may publish to %s, the sidecar publishes to %s", got, se["SIDECAR_CLOUDWATCH_NAMESPACE"])
					}
				}
			}
			metricsPort := port(t, se["SIDECAR_METRICS_ADDR"])
			if !slices.Contains(mappedPorts(sc), metricsPort) {
				t.Errorf("connect-sidecar maps %v, but SIDECAR_METRICS_ADDR listens on %s", mappedPorts(sc), metricsPort)
			}
			prom := loadTask(t, dir, "prometheus-task.json")
			if got := env(prom.ContainerDefinitions[0])["SCRAPE_PORT"]; got != metricsPort {
				t.Errorf("Prometheus scrapes port %s, the sidecar listens on %s", got, metricsPort)
			}
			if got := env(prom.ContainerDefinitions[0])["SCRAPE_DNS_NAME"]; got != example["CONNECT_DNS_NAME"] {
				t.Errorf("Prometheus resolves %s, want the Connect service's Cloud Map name", got)
			}

			// Every ${env:...} the worker and connectors read is provided.
			provided := env(kc)
			for k := range secrets(kc) {
				provided[k] = "secret"
			}
			for _, ref := range envRefs(t, mode) {
				if _, ok := provided[ref]; !ok {
					t.Errorf("the %s examples read ${env:%s}, which kafka-connect is not given", mode, ref)
				}
			}

			// One uid across the containers sharing /config, the image's.
			imageUser := dockerfileLine(t, "../connect-image/Dockerfile", "USER ")
			// The sidecar image runs as that uid too, and owns the /config it
			// ships, which Fargate copies into the empty volume for the
			// non-root bootstrap to write.
			if u := dockerfileLine(t, "../sidecar/Dockerfile", "USER "); u != imageUser {
				t.Errorf("sidecar/Dockerfile runs as %q, the Connect image as %q: the worker could not read the 0600 files the bootstrap writes", u, imageUser)
			}
			if !regexp.MustCompile(`(?m)^COPY .*--chown=` + regexp.QuoteMeta(imageUser) + ` .* /config$`).Match(mustRead(t, "../sidecar/Dockerfile")) {
				t.Errorf("sidecar/Dockerfile does not ship /config owned by %s", imageUser)
			}
			for _, name := range []string{"config-init", "kafka-connect", "connect-sidecar"} {
				if u := cs[name].User; u == nil || *u != imageUser {
					t.Errorf("%s runs as %v, want %s (the Connect image's USER) so /config files are readable", name, u, imageUser)
				}
			}
			for _, mp := range kc.MountPoints {
				if *mp.ContainerPath == "/config" && (mp.ReadOnly == nil || !*mp.ReadOnly) {
					t.Error("kafka-connect mounts /config writable; only config-init writes it")
				}
			}
		})
	}
}

// sidecarBinaries is how a health check may name the sidecar binary: as the
// image's ENTRYPOINT names it, and by the absolute path the image copies it to.
func sidecarBinaries(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../sidecar/Dockerfile")
	if err != nil {
		t.Fatalf("the sidecar image is needed to check its health checks: %v", err)
	}
	var ep []string
	if err := json.Unmarshal([]byte(dockerfileLine(t, "../sidecar/Dockerfile", "ENTRYPOINT ")), &ep); err != nil || len(ep) == 0 {
		t.Fatal("sidecar/Dockerfile: ENTRYPOINT is not an exec-form list")
	}
	bins := []string{ep[0]}
	for _, m := range regexp.MustCompile(`(?m)^COPY .* (/\S+)$`).FindAllStringSubmatch(string(raw), -1) {
		if filepath.Base(m[1]) == filepath.Base(ep[0]) {
			bins = append(bins, m[1])
		}
	}
	return bins
}

func dockerfileEntrypoint(t *testing.T) string {
	t.Helper()
	var args []string
	if err := json.Unmarshal([]byte(dockerfileLine(t, "../connect-image/Dockerfile", "ENTRYPOINT ")), &args); err != nil || len(args) == 0 {
		t.Fatal("connect-image/Dockerfile: ENTRYPOINT is not an exec-form list")
	}
	return args[0]
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestMonitoringTasks(t *testing.T) {
	dir := render(t, "plaintext")
	prom := loadTask(t, dir, "prometheus-task.json")
	graf := loadTask(t, dir, "grafana-task.json")
	example := exampleEnv(t)
	for _, in := range []*ecs.RegisterTaskDefinitionInput{prom, graf} {
		for _, c := range in.ContainerDefinitions {
			if c.HealthCheck == nil {
				t.Errorf("%s has no health check", *c.Name)
			}
			if c.LogConfiguration == nil || c.LogConfiguration.LogDriver != types.LogDriverAwslogs {
				t.Errorf("%s does not log with awslogs", *c.Name)
			}
			for k := range env(c) {
				if strings.Contains(k, "PASSWORD") {
					t.Errorf("%s puts %s in plain environment", *c.Name, k)
				}
			}
		}
	}
	g := graf.ContainerDefinitions[0]
	if _, ok := secrets(g)["GF_SECURITY_ADMIN_PASSWORD"]; !ok {
		t.Error("grafana gets no admin password secret")
	}
	u, err := url.Parse(env(g)["PROMETHEUS_URL"])
	if err != nil || u.Hostname() != example["PROMETHEUS_DNS_NAME"] {
		t.Errorf("PROMETHEUS_URL=%s, want the Prometheus service's Cloud Map name", env(g)["PROMETHEUS_URL"])
	}
	if !slices.Contains(mappedPorts(prom.ContainerDefinitions[0]), u.Port()) {
		t.Errorf("Grafana reaches Prometheus on %s, Prometheus maps %v", u.Port(), mappedPorts(prom.ContainerDefinitions[0]))
	}
}

// ---- IAM policies ----

type statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    any            `json:"Action"`
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition"`
}

type policy struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			s, _ := x.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// wildcardResourceOK lists the actions AWS authorizes only on "*", with the
// condition that must narrow them instead.
var wildcardResourceOK = map[string]string{
	"ecr:GetAuthorizationToken": "",
	"cloudwatch:PutMetricData":  "cloudwatch:namespace",
}

// policyProblems returns what is wrong with one policy document.
func policyProblems(raw []byte, env map[string]string) []string {
	var p policy
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return []string{"not a policy document: " + err.Error()}
	}
	var problems []string
	if p.Version != "2012-10-17" {
		problems = append(problems, "Version "+p.Version)
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			problems = append(problems, s.Sid+": only Allow statements are expected")
		}
		actions := strs(s.Action)
		if len(actions) == 0 {
			problems = append(problems, s.Sid+": no Action")
		}
		for _, a := range actions {
			if strings.Contains(a, "*") {
				problems = append(problems, s.Sid+": wildcard action "+a)
			}
		}
		for _, r := range strs(s.Resource) {
			if r == "*" {
				for _, a := range actions {
					cond, ok := wildcardResourceOK[a]
					if !ok {
						problems = append(problems, s.Sid+": "+a+" on Resource \"*\"")
						continue
					}
					if cond != "" && !strings.Contains(fmt.Sprint(s.Condition), cond) {
						problems = append(problems, s.Sid+": "+a+" on \"*\" without a "+cond+" condition")
					}
				}
				continue
			}
			if strings.HasPrefix(r, "arn:aws:kafka:") && !strings.Contains(r, env["SOURCE_MSK_CLUSTER"]) && !strings.Contains(r, env["TARGET_MSK_CLUSTER"]) {
				problems = append(problems, s.Sid+": "+r+" is not on a named cluster")
			}
			if strings.HasPrefix(r, "arn:aws:s3:::") && !strings.HasPrefix(r, "arn:aws:s3:::"+env["CONFIG_BUCKET"]) {
				problems = append(problems, s.Sid+": "+r+" is not the config bucket")
			}
			if strings.HasPrefix(r, "arn:aws:s3:::"+env["CONFIG_BUCKET"]+"/") && !strings.HasPrefix(r, "arn:aws:s3:::"+env["CONFIG_BUCKET"]+"/"+env["CONFIG_PREFIX"]) {
				problems = append(problems, s.Sid+": "+r+" reaches beyond the config prefix")
			}
			if regexp.MustCompile(`:\*$|::\*$`).MatchString(r) && !strings.HasPrefix(r, "arn:aws:logs:") {
				problems = append(problems, s.Sid+": "+r+" ends in a bare wildcard")
			}
		}
	}
	return problems
}

func TestIAMPolicies(t *testing.T) {
	example := exampleEnv(t)
	for _, mode := range modes {
		dir := render(t, mode)
		all, _ := filepath.Glob(filepath.Join(dir, "iam", "*.json"))
		// The trust policy has its own test.
		files := slices.DeleteFunc(all, func(f string) bool { return filepath.Base(f) == "ecs-tasks-trust.json" })
		want := 2
		if mode == "iam" {
			want = 3
		}
		if len(files) != want {
			t.Errorf("%s: %d IAM policies rendered, want %d", mode, len(files), want)
		}
		for _, f := range files {
			for _, p := range policyProblems(mustRead(t, f), example) {
				t.Errorf("%s %s: %s", mode, filepath.Base(f), p)
			}
		}
	}
}

func TestPolicyProblemsCatchesBroadPolicies(t *testing.T) {
	example := exampleEnv(t)
	stmt := func(action, resource, condition string) []byte {
		if condition == "" {
			condition = "{}"
		}
		return []byte(fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Action":%s,"Resource":%s,"Condition":%s}]}`, action, resource, condition))
	}
	tests := []struct {
		name string
		doc  []byte
	}{
		{"star action", stmt(`"*"`, `"arn:aws:s3:::mm2-config-123456789012/mm2/*"`, "")},
		{"service wildcard", stmt(`["kafka-cluster:*"]`, `"arn:aws:kafka:eu-west-1:123456789012:cluster/target/66666666-7777-8888-9999-000000000000-2"`, "")},
		{"star resource", stmt(`["s3:GetObject"]`, `"*"`, "")},
		{"metric data without namespace", stmt(`["cloudwatch:PutMetricData"]`, `"*"`, "")},
		{"other bucket", stmt(`["s3:GetObject"]`, `"arn:aws:s3:::someone-else/*"`, "")},
		{"whole bucket", stmt(`["s3:GetObject"]`, `"arn:aws:s3:::mm2-config-123456789012/*"`, "")},
		{"any cluster", stmt(`["kafka-cluster:Connect"]`, `"arn:aws:kafka:eu-west-1:123456789012:cluster/*"`, "")},
		{"not json", []byte(`{"Version":`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(policyProblems(tc.doc, example)) == 0 {
				t.Errorf("accepted %s", tc.doc)
			}
		})
	}
}

// TestPlaceholdersDocumented requires every ${NAME} the templates use to be
// in deploy.env.example, which the README tells operators to fill in.
func TestPlaceholdersDocumented(t *testing.T) {
	example := exampleEnv(t)
	files, _ := filepath.Glob("*.json")
	more, _ := filepath.Glob("iam/*.json")
	modesFiles, _ := filepath.Glob("modes/*.json")
	files = append(append(files, more...), modesFiles...)
	for _, f := range files {
		if f == "scaling-policy.json" {
			continue
		}
		for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)\}`).FindAllStringSubmatch(string(mustRead(t, f)), -1) {
			if _, ok := example[m[1]]; !ok {
				t.Errorf("%s uses ${%s}, which deploy.env.example does not set", f, m[1])
			}
		}
	}
}

func TestRenderRefusesMissingSettings(t *testing.T) {
	externaltool.Path(t, "jq")
	envFile := filepath.Join(t.TempDir(), "deploy.env")
	if err := os.WriteFile(envFile, []byte("NAME_PREFIX=mm2\nREGION=eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	b, err := exec.Command("bash", "../scripts/render-taskdefs.sh", "--env-file", envFile, "--auth-mode", "scram", "--out", out).CombinedOutput()
	if err == nil {
		t.Fatalf("render succeeded with missing settings:\n%s", b)
	}
	for _, want := range []string{"connect-task.json", "unset in the env file", "SOURCE_CREDENTIALS_SECRET_ARN", "CONNECT_IMAGE"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("error %q does not mention %s", b, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("render wrote %s despite the error", out)
	}
}

// TestTrustPolicy checks the trust policy of both roles: ECS tasks, and
// nothing else, may assume them, and only tasks of the deploying account
// (aws:SourceAccount, aws:SourceArn), so that no other account's task can
// be handed these roles through ECS (the confused deputy).
func TestTrustPolicy(t *testing.T) {
	var p struct {
		Version   string `json:"Version"`
		Statement []struct {
			Sid       string         `json:"Sid"`
			Effect    string         `json:"Effect"`
			Principal map[string]any `json:"Principal"`
			Action    any            `json:"Action"`
			Condition map[string]any `json:"Condition"`
		} `json:"Statement"`
	}
	dec := json.NewDecoder(bytes.NewReader(mustRead(t, "iam/ecs-tasks-trust.json")))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("iam/ecs-tasks-trust.json: %v", err)
	}
	if p.Version != "2012-10-17" || len(p.Statement) == 0 {
		t.Fatalf("iam/ecs-tasks-trust.json: version %q, %d statements", p.Version, len(p.Statement))
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" || !slices.Equal(strs(s.Action), []string{"sts:AssumeRole"}) {
			t.Errorf("%s: %s %v, want Allow sts:AssumeRole", s.Sid, s.Effect, s.Action)
		}
		if len(s.Principal) != 1 || fmt.Sprint(s.Principal["Service"]) != "ecs-tasks.amazonaws.com" {
			t.Errorf("%s: principal %v, want only the service ecs-tasks.amazonaws.com", s.Sid, s.Principal)
		}
		want := map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": "${ACCOUNT_ID}"},
			"ArnLike":      map[string]any{"aws:SourceArn": "arn:aws:ecs:${REGION}:${ACCOUNT_ID}:*"},
		}
		if !reflect.DeepEqual(s.Condition, want) {
			t.Errorf("%s: condition %v, want %v", s.Sid, s.Condition, want)
		}
	}
}
