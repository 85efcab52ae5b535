package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"

	"go.yaml.in/yaml/v3"
)

// TestStackInSync fails when stack.yaml is not what the task definitions,
// policies and scaling policy give: someone edited one side only.
func TestStackInSync(t *testing.T) {
	stack := mustRead(t, "../"+stackFile)
	got, err := generate(os.DirFS(".."), stack)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(stack) {
		t.Errorf("taskdefs/%s is out of date: run go generate ./taskdefs", stackFile)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// copyDir returns the taskdefs files as an in-memory FS to edit.
func copyDir(t *testing.T) fstest.MapFS {
	t.Helper()
	files := fstest.MapFS{}
	err := fs.WalkDir(os.DirFS(".."), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		files[path] = &fstest.MapFile{Data: mustRead(t, filepath.Join("..", path))}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestEditsReachTheStack changes one fact in each source file and expects
// the stack to change with it, so no file is left out of the generation.
func TestEditsReachTheStack(t *testing.T) {
	stack := mustRead(t, "../"+stackFile)
	tests := []struct {
		file, old, new, want string
	}{
		{"connect-task.json", `"stopTimeout": 60`, `"stopTimeout": 61`, "StopTimeout: 61"},
		{"prometheus-task.json", `"30s"`, `"45s"`, "Value: 45s"},
		{"grafana-task.json", `"cpu": "256"`, `"cpu": "512"`, `Cpu: "512"`},
		{"modes/scram.json", `"SOURCE_SASL_USERNAME"`, `"SOURCE_SASL_USER"`, "Name: SOURCE_SASL_USER\n"},
		{"modes/mtls.json", `tls/keystore.p12"`, `tls/ks.p12"`, "tls/ks.p12"},
		{"iam/execution-role.json", `"ecr:BatchGetImage"`, `"ecr:BatchGetImage", "ecr:DescribeImages"`, "ecr:DescribeImages"},
		{"iam/connect-task-role.json", `"s3:GetObjectVersion"`, `"s3:GetObjectAcl"`, "s3:GetObjectAcl"},
		{"iam/msk-iam-access.json", `"kafka-cluster:AlterGroup"`, `"kafka-cluster:DeleteGroup"`, "kafka-cluster:DeleteGroup"},
		{"iam/ecs-tasks-trust.json", `"aws:SourceAccount"`, `"aws:SourceOwner"`, "aws:SourceOwner"},
		{"scaling-policy.json", `"TargetValue": 100000`, `"TargetValue": 5000`, "TargetValue: 5000"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			files := copyDir(t)
			data := string(files[tc.file].Data)
			if !strings.Contains(data, tc.old) {
				t.Fatalf("%s no longer holds %s", tc.file, tc.old)
			}
			files[tc.file] = &fstest.MapFile{Data: []byte(strings.Replace(data, tc.old, tc.new, 1))}
			got, err := generate(files, stack)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) == string(stack) || !strings.Contains(string(got), tc.want) {
				t.Errorf("editing %s did not bring %q into the stack", tc.file, tc.want)
			}
		})
	}
}

func TestGenerateRefusesWhatItCannotMap(t *testing.T) {
	stack := string(mustRead(t, "../"+stackFile))
	tests := []struct {
		name  string
		edit  func(files fstest.MapFS) string
		wants []string
	}{
		{"placeholder without a parameter", func(files fstest.MapFS) string {
			files["grafana-task.json"].Data = []byte(strings.Replace(string(files["grafana-task.json"].Data), `"256"`, `"${GRAFANA_CPU}"`, 1))
			return stack
		}, []string{"grafana-task.json", "${GRAFANA_CPU}", "GrafanaCpu"}},
		{"resource missing from the stack", func(fstest.MapFS) string {
			return strings.Replace(stack, "  ScalingPolicy:\n", "  ScalingPolicyRenamed:\n", 1)
		}, []string{"resource ScalingPolicy is missing", "scaling-policy.json"}},
		{"overlay for an unknown container", func(files fstest.MapFS) string {
			files["modes/iam.json"].Data = []byte(`{"containers": {"kafka-conect": {"environment": [{"name": "X", "value": "y"}]}}}`)
			return stack
		}, []string{"modes/iam.json", "unknown container kafka-conect"}},
		{"not JSON", func(files fstest.MapFS) string {
			files["scaling-policy.json"].Data = []byte(`{"PolicyName": `)
			return stack
		}, []string{"scaling-policy.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := copyDir(t)
			s := tc.edit(files)
			_, err := generate(files, []byte(s))
			if err == nil {
				t.Fatal("generated without an error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

// noValue stands for Ref AWS::NoValue while resolving.
type noValueT struct{}

// resolve evaluates the intrinsic functions of a template value for one
// auth mode, with vals for every Ref, Fn::GetAtt and ${} name.
func resolve(t *testing.T, v any, mode string, vals map[string]string) any {
	t.Helper()
	name := func(n string) string {
		s, ok := vals[n]
		if !ok {
			t.Fatalf("no value for %s", n)
		}
		return s
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				switch k {
				case "Ref":
					if arg == "AWS::NoValue" {
						return noValueT{}
					}
					return name(arg.(string))
				case "Fn::GetAtt":
					a := arg.([]any)
					return name(a[0].(string) + "." + a[1].(string))
				case "Fn::Sub":
					return regexp.MustCompile(`\$\{([^}]+)\}`).ReplaceAllStringFunc(arg.(string), func(m string) string {
						return name(m[2 : len(m)-1])
					})
				case "Fn::If":
					a := arg.([]any)
					if modeCondition[mode] == a[0] {
						return resolve(t, a[1], mode, vals)
					}
					return resolve(t, a[2], mode, vals)
				}
			}
		}
		out := map[string]any{}
		for k, x := range v {
			if r := resolve(t, x, mode, vals); r != (noValueT{}) {
				out[k] = r
			}
		}
		return out
	case []any:
		out := []any{}
		for _, x := range v {
			if r := resolve(t, x, mode, vals); r != (noValueT{}) {
				out = append(out, r)
			}
		}
		return out
	}
	return v
}

// camel turns CloudFormation's keys back into the ECS API's.
func camel(v any, free bool) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			key := k
			if !free {
				key = strings.ToLower(k[:1]) + k[1:]
			}
			out[key] = camel(x, !free && freeForm[key])
		}
		return out
	case []any:
		out := []any{}
		for _, x := range v {
			out = append(out, camel(x, false))
		}
		return out
	}
	return v
}

// TestStackMatchesRenderedFiles evaluates the stack's task definitions and
// policies for each auth mode with the example settings and compares them
// with what scripts/render-taskdefs.sh renders from the same settings: the
// two ways to deploy run the same tasks with the same permissions.
func TestStackMatchesRenderedFiles(t *testing.T) {
	externaltool.Path(t, "jq")
	var tmpl struct {
		Resources map[string]struct {
			Condition  string         `yaml:"Condition"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(mustRead(t, "../"+stackFile), &tmpl); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(mustRead(t, "../deploy.env.example")), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	vals := map[string]string{}
	for k, v := range env {
		vals[pascalName(k)] = v
	}
	for k, b := range bound {
		if m := regexp.MustCompile(`^\$\{([^}]+)\}$`).FindStringSubmatch(b); m != nil && env[k] != "" {
			vals[m[1]] = env[k]
		}
	}
	vals["DnsNamespace"] = strings.TrimPrefix(env["CONNECT_DNS_NAME"], "connect.")
	// Ref of a role is its name.
	vals["ConnectTaskRole"] = env["CONNECT_TASK_ROLE_ARN"][strings.LastIndex(env["CONNECT_TASK_ROLE_ARN"], "/")+1:]

	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			out := t.TempDir()
			if b, err := exec.Command("bash", "../../scripts/render-taskdefs.sh", "--env-file", "../deploy.env.example", "--auth-mode", mode, "--out", out).CombinedOutput(); err != nil {
				t.Fatalf("render-taskdefs.sh: %v\n%s", err, b)
			}
			rendered := func(file string) any {
				var v any
				if err := yaml.Unmarshal(mustRead(t, filepath.Join(out, file)), &v); err != nil {
					t.Fatal(err)
				}
				return v
			}
			for resource, file := range map[string]string{
				"ConnectTaskDefinition":    "connect-task.json",
				"PrometheusTaskDefinition": "prometheus-task.json",
				"GrafanaTaskDefinition":    "grafana-task.json",
			} {
				got := camel(resolve(t, tmpl.Resources[resource].Properties, mode, vals), false)
				if want := rendered(file); !reflect.DeepEqual(got, want) {
					t.Errorf("%s differs from rendered %s:\n%s", resource, file, diff(got, want))
				}
			}
			policies := func(role string) map[string]any {
				out := map[string]any{}
				props := resolve(t, tmpl.Resources[role].Properties, mode, vals).(map[string]any)
				for _, p := range props["Policies"].([]any) {
					p := p.(map[string]any)
					out[p["PolicyName"].(string)] = p["PolicyDocument"]
				}
				out["trust"] = props["AssumeRolePolicyDocument"]
				return out
			}
			prefix := env["NAME_PREFIX"]
			want := map[string]any{"trust": rendered("iam/ecs-tasks-trust.json"), prefix + "-connect-task": rendered("iam/connect-task-role.json")}
			got := policies("ConnectTaskRole")
			// The MSK policy is a resource of its own, created only in iam mode.
			if msk := tmpl.Resources["MskIamAccessPolicy"]; msk.Condition != modeCondition["iam"] {
				t.Errorf("MskIamAccessPolicy has condition %q, want %s", msk.Condition, modeCondition["iam"])
			} else if mode == "iam" {
				p := resolve(t, msk.Properties, mode, vals).(map[string]any)
				if roles := fmt.Sprint(p["Roles"]); roles != "["+vals["ConnectTaskRole"]+"]" {
					t.Errorf("MskIamAccessPolicy is on %s, want the Connect task role", roles)
				}
				got[p["PolicyName"].(string)] = p["PolicyDocument"]
				want[prefix+"-msk-iam-access"] = rendered("iam/msk-iam-access.json")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ConnectTaskRole differs from the rendered policies:\n%s", diff(got, want))
			}
			want = map[string]any{"trust": rendered("iam/ecs-tasks-trust.json"), prefix + "-task-execution": rendered("iam/execution-role.json")}
			if got := policies("ExecutionRole"); !reflect.DeepEqual(got, want) {
				t.Errorf("ExecutionRole differs from the rendered policy:\n%s", diff(got, want))
			}
		})
	}
}

func diff(got, want any) string {
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	return fmt.Sprintf("stack:\n%s\nrendered:\n%s", g, w)
}
