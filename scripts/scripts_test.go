// Package scripts_test checks the operator scripts: shellcheck, --help, and
// dry runs whose printed AWS calls match what a real run makes.
package scripts_test

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
)

// operatorScripts are the scripts this directory and the repository root
// give operators; each has --help and --dry-run.
var operatorScripts = []string{
	"render-taskdefs.sh", "register-taskdefs.sh", "upload-connectors.sh", "apply-scaling.sh", "../build_images.sh",
	"deploy.sh", "destroy.sh",
}

// TestShellcheck runs shellcheck on every shell script of the repository:
// *.sh files and build_images.sh.
func TestShellcheck(t *testing.T) {
	shellcheck := externaltool.Path(t, "shellcheck")
	var files []string
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "out") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".sh") || d.Name() == "build_images.sh") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"../build_images.sh", "../connect-image/entrypoint.sh", "../prometheus-image/entrypoint.sh", "../grafana/entrypoint.sh", "../scripts/render-taskdefs.sh"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s was not found to check", want)
		}
	}
	for _, f := range files {
		if out, err := exec.Command(shellcheck, "--external-sources", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s:\n%s", f, out)
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(raw), "\n")
		// The Prometheus and Grafana images have no bash: their entrypoints are POSIX sh.
		posix := strings.HasSuffix(f, "prometheus-image/entrypoint.sh") || strings.HasSuffix(f, "grafana/entrypoint.sh")
		switch {
		case posix && (first != "#!/bin/sh" || !bytes.Contains(raw, []byte("\nset -eu\n"))):
			t.Errorf("%s: want #!/bin/sh and set -eu", f)
		case !posix && (first != "#!/usr/bin/env bash" || !bytes.Contains(raw, []byte("\nset -euo pipefail\n"))):
			t.Errorf("%s: want #!/usr/bin/env bash and set -euo pipefail", f)
		}
		if info, err := os.Stat(f); err == nil && info.Mode()&0o111 == 0 && !strings.Contains(f, "entrypoint") {
			t.Errorf("%s is not executable", f)
		}
	}
}

type result struct {
	stdout, stderr string
	err            error
}

func run(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command("bash", append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return result{stdout.String(), stderr.String(), err}
}

func TestHelpAndUnknownArguments(t *testing.T) {
	for _, s := range operatorScripts {
		t.Run(filepath.Base(s), func(t *testing.T) {
			r := run(t, nil, s, "--help")
			if r.err != nil || !strings.HasPrefix(r.stdout, "Usage:") {
				t.Errorf("--help: err=%v stdout=%q stderr=%q", r.err, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, "--dry-run") && !strings.Contains(s, "render") {
				t.Error("--help does not mention --dry-run")
			}
			r = run(t, nil, s, "--no-such-flag")
			if r.err == nil || !strings.Contains(r.stderr, "unknown") {
				t.Errorf("--no-such-flag: err=%v stderr=%q", r.err, r.stderr)
			}
		})
	}
}

// calls returns the "+ aws ..." lines of a dry run.
func calls(out string) []string {
	var cs []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "+ ") {
			cs = append(cs, strings.TrimPrefix(line, "+ "))
		}
	}
	return cs
}

func TestRegisterDryRun(t *testing.T) {
	externaltool.Path(t, "jq")
	tests := []struct {
		mode     string
		applyIAM bool
		want     []string
	}{
		{"plaintext", false, []string{
			`aws ecs register-task-definition --region eu-west-1 --cli-input-json file://OUT/connect-task.json --query taskDefinition.taskDefinitionArn --output text`,
			`aws ecs register-task-definition --region eu-west-1 --cli-input-json file://OUT/prometheus-task.json --query taskDefinition.taskDefinitionArn --output text`,
			`aws ecs register-task-definition --region eu-west-1 --cli-input-json file://OUT/grafana-task.json --query taskDefinition.taskDefinitionArn --output text`,
		}},
		{"iam", true, []string{
			`aws ecs register-task-definition --region eu-west-1 --cli-input-json file://OUT/connect-task.json --query taskDefinition.taskDefinitionArn --output text`,
			`aws ecs register-task-definition --region eu-west-1 --cli-input-json file://OUT/prometheus-task.json --query taskDefinition.taskDefinitionArn --output text`,
			`aws ecs register-task-definition --region eu-west-1 --cli-input-json file://OUT/grafana-task.json --query taskDefinition.taskDefinitionArn --output text`,
			`aws iam put-role-policy --role-name mm2-connect-task --policy-name mm2-connect-task --policy-document file://OUT/iam/connect-task-role.json`,
			`aws iam put-role-policy --role-name mm2-connect-task --policy-name mm2-msk-iam-access --policy-document file://OUT/iam/msk-iam-access.json`,
			`aws iam put-role-policy --role-name mm2-task-execution --policy-name mm2-task-execution --policy-document file://OUT/iam/execution-role.json`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			out := t.TempDir()
			args := []string{"--env-file", "../taskdefs/deploy.env.example", "--auth-mode", tc.mode, "--out", out, "--dry-run"}
			if tc.applyIAM {
				args = append(args, "--apply-iam")
			}
			r := run(t, nil, "register-taskdefs.sh", args...)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.stderr)
			}
			got := strings.Join(calls(r.stdout), "\n")
			want := strings.ReplaceAll(strings.Join(tc.want, "\n"), "OUT", out)
			if got != want {
				t.Errorf("dry run printed\n%s\nwant\n%s", got, want)
			}
			for _, f := range regexp.MustCompile(`file://(\S+)`).FindAllStringSubmatch(got, -1) {
				if _, err := os.Stat(f[1]); err != nil {
					t.Errorf("the dry run names %s, which was not rendered", f[1])
				}
			}
		})
	}
	r := run(t, nil, "register-taskdefs.sh", "--env-file", "../taskdefs/deploy.env.example", "--auth-mode", "kerberos", "--dry-run")
	if r.err == nil || !strings.Contains(r.stderr, "must be plaintext, scram, mtls or iam") {
		t.Errorf("bad mode: err=%v stderr=%q", r.err, r.stderr)
	}
}

// emptyBucket puts on PATH an aws whose head-object finds nothing.
func emptyBucket(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte("#!/usr/bin/env bash\necho 'Not Found' >&2\nexit 254\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + bin + ":" + os.Getenv("PATH")
}

func TestUploadDryRun(t *testing.T) {
	externaltool.Path(t, "jq")
	notFound := emptyBucket(t)
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	store := filepath.Join(t.TempDir(), "keystore.p12")
	if err := os.WriteFile(store, []byte("not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"scram", []string{"--auth-mode", "scram", "--s3-uri", "s3://mm2-config/mm2"}, []string{
			"aws s3api head-object --bucket mm2-config --key mm2/worker/connect-distributed.properties --query ETag --output text",
			"aws s3 cp --only-show-errors " + abs("../connect-image/workers/scram.properties") + " s3://mm2-config/mm2/worker/connect-distributed.properties",
			`aws s3 sync --only-show-errors --exclude \* --include \*.json ` + abs("../connect-image/connectors/scram") + " s3://mm2-config/mm2/connectors/",
		}},
		{"mtls with stores, region and prune", []string{"--auth-mode", "mtls", "--s3-uri", "s3://mm2-config/mm2/", "--keystore", store, "--truststore", store, "--region", "eu-west-1", "--prune"}, []string{
			"aws --region eu-west-1 s3api head-object --bucket mm2-config --key mm2/worker/connect-distributed.properties --query ETag --output text",
			"aws --region eu-west-1 s3 cp --only-show-errors " + abs("../connect-image/workers/mtls.properties") + " s3://mm2-config/mm2/worker/connect-distributed.properties",
			`aws --region eu-west-1 s3 sync --only-show-errors --exclude \* --include \*.json --delete ` + abs("../connect-image/connectors/mtls") + " s3://mm2-config/mm2/connectors/",
			"aws --region eu-west-1 s3api head-object --bucket mm2-config --key mm2/tls/keystore.p12 --query ETag --output text",
			"aws --region eu-west-1 s3 cp --only-show-errors " + store + " s3://mm2-config/mm2/tls/keystore.p12",
			"aws --region eu-west-1 s3api head-object --bucket mm2-config --key mm2/tls/truststore.p12 --query ETag --output text",
			"aws --region eu-west-1 s3 cp --only-show-errors " + store + " s3://mm2-config/mm2/tls/truststore.p12",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, []string{notFound}, "upload-connectors.sh", append(tc.args, "--dry-run")...)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.stderr)
			}
			if got, want := strings.Join(calls(r.stdout), "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("dry run printed\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestUploadRefusesBadInput(t *testing.T) {
	externaltool.Path(t, "jq")
	write := func(t *testing.T, name, content string) string {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name string
		args func(t *testing.T) []string
		want string
	}{
		{"no mode", func(*testing.T) []string { return []string{"--s3-uri", "s3://mm2-config/p/"} }, "--auth-mode is required"},
		{"bad uri", func(*testing.T) []string { return []string{"--auth-mode", "scram", "--s3-uri", "https://b1/p/"} }, "must be s3://bucket/prefix/"},
		{"mtls without stores", func(*testing.T) []string { return []string{"--auth-mode", "mtls", "--s3-uri", "s3://mm2-config/p/"} }, "needs --keystore and --truststore"},
		{"literal password", func(t *testing.T) []string {
			dir := write(t, "mm2-msc.json", `{"name":"mm2-msc","config":{"connector.class":"x","source.cluster.sasl.jaas.config":"m required username=\"u\" password=\"hunter2\";"}}`)
			return []string{"--auth-mode", "scram", "--s3-uri", "s3://mm2-config/p/", "--connectors-dir", dir}
		}, "holds a literal secret in source.cluster.sasl.jaas.config"},
		{"literal store password", func(t *testing.T) []string {
			dir := write(t, "mm2-msc.json", `{"name":"mm2-msc","config":{"connector.class":"x","source.cluster.ssl.keystore.password":"changeit"}}`)
			return []string{"--auth-mode", "scram", "--s3-uri", "s3://mm2-config/p/", "--connectors-dir", dir}
		}, "holds a literal secret in source.cluster.ssl.keystore.password"},
		{"name differs from file", func(t *testing.T) []string {
			dir := write(t, "mm2-msc.json", `{"name":"other","config":{"connector.class":"x"}}`)
			return []string{"--auth-mode", "scram", "--s3-uri", "s3://mm2-config/p/", "--connectors-dir", dir}
		}, "is named other but the file is mm2-msc.json"},
		{"not json", func(t *testing.T) []string {
			dir := write(t, "mm2-msc.json", `{"name":`)
			return []string{"--auth-mode", "scram", "--s3-uri", "s3://mm2-config/p/", "--connectors-dir", dir}
		}, "not valid JSON"},
		{"empty dir", func(t *testing.T) []string {
			return []string{"--auth-mode", "scram", "--s3-uri", "s3://mm2-config/p/", "--connectors-dir", t.TempDir()}
		}, "no *.json connector files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, "upload-connectors.sh", append(tc.args(t), "--dry-run")...)
			if r.err == nil || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("err=%v stderr=%q, want %q", r.err, r.stderr, tc.want)
			}
			if len(calls(r.stdout)) > 0 {
				t.Errorf("AWS calls printed despite the error: %q", r.stdout)
			}
		})
	}
}

// TestUploadCallsAWS runs the real path with an aws on PATH that records its
// arguments, and compares them with what the dry run promises.
func TestUploadCallsAWS(t *testing.T) {
	externaltool.Path(t, "jq")
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "calls")
	fake := "#!/usr/bin/env bash\nprintf 'aws' >> " + record + "\nprintf ' %q' \"$@\" >> " + record + "\necho >> " + record + "\n"
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--auth-mode", "iam", "--s3-uri", "s3://mm2-config/mm2/"}
	dry := run(t, []string{emptyBucket(t)}, "upload-connectors.sh", append(args, "--dry-run")...)
	real := run(t, []string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "upload-connectors.sh", args...)
	if real.err != nil {
		t.Fatalf("%v\n%s", real.err, real.stderr)
	}
	got, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Join(calls(dry.stdout), "\n") + "\n"; string(got) != want {
		t.Errorf("aws was called with\n%s\nthe dry run promised\n%s", got, want)
	}
}

func TestApplyScalingDryRun(t *testing.T) {
	externaltool.Path(t, "jq")
	dir := t.TempDir()
	tracking := filepath.Join(dir, "tracking.json")
	full := filepath.Join(dir, "full.json")
	if err := os.WriteFile(tracking, []byte(`{"TargetValue": 10000, "CustomizedMetricSpecification": {"MetricName": "ReplicationBacklogRecords", "Namespace": "${CLOUDWATCH_NAMESPACE}", "Dimensions": [{"Name": "ClusterName", "Value": "${CLUSTER_NAME}"}, {"Name": "ServiceName", "Value": "${SERVICE_NAME}"}], "Statistic": "Average"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(`{"PolicyName": "${SERVICE_NAME}-backlog", "ServiceNamespace": "ecs", "ResourceId": "service/${CLUSTER_NAME}/${SERVICE_NAME}", "ScalableDimension": "ecs:service:DesiredCount", "PolicyType": "TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 5000, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	register := `aws --region eu-west-1 application-autoscaling register-scalable-target --service-namespace ecs --resource-id service/mm2/mm2-connect --scalable-dimension ecs:service:DesiredCount --min-capacity 2 --max-capacity 12`
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"target tracking configuration", []string{"--policy-file", tracking, "--env-file", "../taskdefs/deploy.env.example"}, []string{
			register,
			`aws --region eu-west-1 application-autoscaling put-scaling-policy --service-namespace ecs --resource-id service/mm2/mm2-connect --scalable-dimension ecs:service:DesiredCount --policy-name mm2-connect-replication-backlog --policy-type TargetTrackingScaling --target-tracking-scaling-policy-configuration \{\"TargetValue\":10000\,\"CustomizedMetricSpecification\":\{\"MetricName\":\"ReplicationBacklogRecords\"\,\"Namespace\":\"MM2/Connect\"\,\"Dimensions\":\[\{\"Name\":\"ClusterName\"\,\"Value\":\"mm2\"\}\,\{\"Name\":\"ServiceName\"\,\"Value\":\"mm2-connect\"\}\]\,\"Statistic\":\"Average\"\}\}`,
		}},
		{"complete put-scaling-policy input", []string{"--policy-file", full, "--region", "eu-west-1"}, []string{
			register,
			`aws --region eu-west-1 application-autoscaling put-scaling-policy --cli-input-json \{\"PolicyName\":\"mm2-connect-backlog\"\,\"ServiceNamespace\":\"ecs\"\,\"ResourceId\":\"service/mm2/mm2-connect\"\,\"ScalableDimension\":\"ecs:service:DesiredCount\"\,\"PolicyType\":\"TargetTrackingScaling\"\,\"TargetTrackingScalingPolicyConfiguration\":\{\"TargetValue\":5000\,\"PredefinedMetricSpecification\":\{\"PredefinedMetricType\":\"ECSServiceAverageCPUUtilization\"\}\}\}`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--cluster", "mm2", "--service", "mm2-connect", "--min", "2", "--max", "12", "--dry-run"}, tc.args...)
			r := run(t, nil, "apply-scaling.sh", args...)
			if r.err != nil {
				t.Fatalf("%v\n%s", r.err, r.stderr)
			}
			if got, want := strings.Join(calls(r.stdout), "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("dry run printed\n%s\nwant\n%s", got, want)
			}
		})
	}

	t.Run("the repository's policy", func(t *testing.T) {
		r := run(t, nil, "apply-scaling.sh", "--cluster", "mm2", "--service", "mm2-connect", "--min", "2", "--max", "12", "--region", "eu-west-1", "--dry-run")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.stderr)
		}
		cs := calls(r.stdout)
		if len(cs) != 2 || cs[0] != register || !strings.HasPrefix(cs[1], "aws --region eu-west-1 application-autoscaling put-scaling-policy --cli-input-json ") {
			t.Fatalf("dry run printed %q", cs)
		}
		// Without an env file the namespace is the sidecar's default.
		for _, want := range []string{`\"ResourceId\":\"service/mm2/mm2-connect\"`, `\"Value\":\"mm2-connect\"`, `ReplicationBacklogRecords`, `\"Namespace\":\"MM2/Connect\"`} {
			if !strings.Contains(cs[1], want) {
				t.Errorf("put-scaling-policy input lacks %s: %s", want, cs[1])
			}
		}
		if strings.Contains(cs[1], "${") {
			t.Errorf("a placeholder is left: %s", cs[1])
		}
	})

	t.Run("cluster and service from the env file", func(t *testing.T) {
		r := run(t, nil, "apply-scaling.sh", "--min", "2", "--max", "12", "--env-file", "../taskdefs/deploy.env.example", "--dry-run")
		if r.err != nil {
			t.Fatalf("%v\n%s", r.err, r.stderr)
		}
		cs := calls(r.stdout)
		if len(cs) != 2 || cs[0] != register {
			t.Fatalf("dry run printed %q, want first %q", cs, register)
		}
		for _, want := range []string{`\"Value\":\"mm2\"`, `\"Value\":\"mm2-connect\"`} {
			if !strings.Contains(cs[1], want) {
				t.Errorf("put-scaling-policy input lacks %s: %s", want, cs[1])
			}
		}
	})

	// A policy on other dimensions than the sidecars publish tracks a
	// metric that does not exist, and the service never scales.
	mismatch := []struct {
		name string
		args []string
		want string
	}{
		{"cluster differs from ECS_CLUSTER", []string{"--cluster", "prod", "--service", "mm2-connect"}, "--cluster prod differs from ECS_CLUSTER=mm2"},
		{"service differs from CONNECT_SERVICE", []string{"--cluster", "mm2", "--service", "connect"}, "--service connect differs from CONNECT_SERVICE=mm2-connect"},
	}
	for _, tc := range mismatch {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--min", "1", "--max", "3", "--env-file", "../taskdefs/deploy.env.example", "--dry-run"}, tc.args...)
			r := run(t, nil, "apply-scaling.sh", args...)
			if r.err == nil || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("err=%v stderr=%q, want %q", r.err, r.stderr, tc.want)
			}
			if len(calls(r.stdout)) > 0 {
				t.Errorf("AWS calls printed despite the error: %q", r.stdout)
			}
		})
	}
	t.Run("no cluster anywhere", func(t *testing.T) {
		r := run(t, nil, "apply-scaling.sh", "--service", "mm2-connect", "--min", "1", "--max", "3", "--policy-file", tracking, "--dry-run")
		if r.err == nil || !strings.Contains(r.stderr, "--cluster is required") {
			t.Errorf("err=%v stderr=%q", r.err, r.stderr)
		}
	})

	unset := filepath.Join(dir, "unset.json")
	if err := os.WriteFile(unset, []byte(`{"TargetValue": 10000, "CustomizedMetricSpecification": {"MetricName": "${METRIC_NAME}"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		args []string
		want string
	}{
		{"unset placeholder", []string{"--min", "1", "--max", "3", "--policy-file", unset}, "unset: METRIC_NAME"},
		{"scale to zero", []string{"--min", "0", "--max", "3", "--policy-file", tracking}, "must be at least 1"},
		{"max below min", []string{"--min", "4", "--max", "3", "--policy-file", tracking}, "is below --min"},
		{"missing policy", []string{"--min", "1", "--max", "3", "--policy-file", filepath.Join(dir, "nope.json")}, "cannot read the scaling policy"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--cluster", "mm2", "--service", "mm2-connect", "--dry-run"}, tc.args...)
			r := run(t, nil, "apply-scaling.sh", args...)
			if r.err == nil || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("err=%v stderr=%q, want %q", r.err, r.stderr, tc.want)
			}
		})
	}
}

// fakeECR is an aws for build_images.sh's reads: mm2-connect-sidecar exists
// with mutable tags and no scanning, the other repositories do not, and an
// image tag exists only when named in EXISTING_TAGS.
const fakeECR = `#!/usr/bin/env bash
case "$*" in
  *describe-repositories*mm2-connect-sidecar*) printf 'MUTABLE\tFalse\n' ;;
  *describe-repositories*) echo "RepositoryNotFoundException" >&2; exit 254 ;;
  *describe-images*)
    for t in ${EXISTING_TAGS:-}; do
      [[ "$*" == *"imageTag=${t} "* ]] && { echo "sha256:$(printf '%064d' 1)"; exit 0; }
    done
    echo "ImageNotFoundException" >&2; exit 254 ;;
  *) echo "fake aws: unexpected $*" >&2; exit 1 ;;
esac
`

// TestBuildImagesDryRun runs build_images.sh in a scratch git repository
// holding the four Dockerfiles, so it does not depend on this checkout's
// state, with an aws that answers its reads.
func TestBuildImagesDryRun(t *testing.T) {
	git := externaltool.Path(t, "git")
	externaltool.Path(t, "jq")
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte(fakeECR), 0o755); err != nil {
		t.Fatal(err)
	}
	path := "PATH=" + bin + ":" + os.Getenv("PATH")
	repo := t.TempDir()
	script, err := os.ReadFile("../build_images.sh")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := os.ReadFile("lib/dry-run.bash")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"build_images.sh":             string(script),
		"scripts/lib/dry-run.bash":    string(lib),
		"sidecar/Dockerfile":          "FROM scratch\n",
		"connect-image/Dockerfile":    "FROM scratch\n",
		"prometheus-image/Dockerfile": "FROM scratch\n",
		"grafana/Dockerfile":          "FROM scratch\n",
	}
	for name, content := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gitEnv := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org"}
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "x"}} {
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), gitEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	cmd := exec.Command(git, "rev-parse", "--short=12", "HEAD")
	cmd.Dir = repo
	sha, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	commit := strings.TrimSpace(string(sha))
	reg := "123456789012.dkr.ecr.eu-west-1.amazonaws.com"

	r := run(t, []string{path}, filepath.Join(repo, "build_images.sh"), "--dry-run", "123456789012", "eu-west-1", "v1.2.0")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	// The reads run and show; of the writes, only those the reads call for.
	var ecr []string
	for _, c := range calls(r.stdout) {
		if strings.HasPrefix(c, "aws ecr ") && !strings.Contains(c, "describe-images") {
			ecr = append(ecr, c)
		}
	}
	describe := func(name string) string {
		return `aws ecr describe-repositories --region eu-west-1 --repository-names ` + name + ` --query repositories\[0\].\[imageTagMutability\,imageScanningConfiguration.scanOnPush\] --output text`
	}
	create := func(name string) string {
		return "aws ecr create-repository --region eu-west-1 --repository-name " + name + " --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE"
	}
	wantECR := []string{
		`aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin ` + reg,
		describe("mm2-connect-sidecar"),
		"aws ecr put-image-tag-mutability --region eu-west-1 --repository-name mm2-connect-sidecar --image-tag-mutability IMMUTABLE",
		"aws ecr put-image-scanning-configuration --region eu-west-1 --repository-name mm2-connect-sidecar --image-scanning-configuration scanOnPush=true",
		describe("mm2-connect"), create("mm2-connect"),
		describe("mm2-prometheus"), create("mm2-prometheus"),
		describe("mm2-grafana"), create("mm2-grafana"),
	}
	if got := strings.Join(ecr, "\n"); got != strings.Join(wantECR, "\n") {
		t.Errorf("ECR calls\n%s\nwant\n%s", got, strings.Join(wantECR, "\n"))
	}
	var builds []string
	for _, c := range calls(r.stdout) {
		if strings.HasPrefix(c, "docker buildx build") {
			builds = append(builds, regexp.MustCompile(`--metadata-file \S+`).ReplaceAllString(c, "--metadata-file TMP"))
		}
	}
	want := []string{
		"docker buildx build --platform linux/amd64 --provenance=false --build-arg VERSION=" + commit + " --tag " + reg + "/mm2-connect-sidecar:" + commit + " --tag " + reg + "/mm2-connect-sidecar:v1.2.0 --file sidecar/Dockerfile --metadata-file TMP --push .",
		"docker buildx build --platform linux/amd64 --provenance=false --build-arg VERSION=" + commit + " --tag " + reg + "/mm2-connect:" + commit + " --tag " + reg + "/mm2-connect:v1.2.0 --file connect-image/Dockerfile --metadata-file TMP --push connect-image",
		"docker buildx build --platform linux/amd64 --provenance=false --build-arg VERSION=" + commit + " --tag " + reg + "/mm2-prometheus:" + commit + " --tag " + reg + "/mm2-prometheus:v1.2.0 --file prometheus-image/Dockerfile --metadata-file TMP --push prometheus-image",
		"docker buildx build --platform linux/amd64 --provenance=false --build-arg VERSION=" + commit + " --tag " + reg + "/mm2-grafana:" + commit + " --tag " + reg + "/mm2-grafana:v1.2.0 --file grafana/Dockerfile --metadata-file TMP --push grafana",
	}
	if got := strings.Join(builds, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("builds\n%s\nwant\n%s", got, strings.Join(want, "\n"))
	}
	for _, w := range []string{
		"CONNECT_IMAGE=" + reg + "/mm2-connect@sha256:DIGEST-OF-THE-PUSH",
		"SIDECAR_IMAGE=" + reg + "/mm2-connect-sidecar@sha256:DIGEST-OF-THE-PUSH",
		"PROMETHEUS_IMAGE=" + reg + "/mm2-prometheus@sha256:DIGEST-OF-THE-PUSH",
		"GRAFANA_IMAGE=" + reg + "/mm2-grafana@sha256:DIGEST-OF-THE-PUSH",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, r.stdout)
		}
	}

	// A commit already pushed is not built again, and its digest is printed.
	r = run(t, []string{path, "EXISTING_TAGS=" + commit}, filepath.Join(repo, "build_images.sh"), "--dry-run", "123456789012", "eu-west-1")
	if r.err != nil || strings.Contains(r.stdout, "docker buildx build") || !strings.Contains(r.stdout, "GRAFANA_IMAGE="+reg+"/mm2-grafana@sha256:"+strings.Repeat("0", 63)+"1") {
		t.Errorf("commit already pushed: err=%v output\n%s%s", r.err, r.stdout, r.stderr)
	}
	// Tags are immutable: an existing TAG is refused before anything is built.
	r = run(t, []string{path, "EXISTING_TAGS=v1.2.0"}, filepath.Join(repo, "build_images.sh"), "--dry-run", "123456789012", "eu-west-1", "v1.2.0")
	if r.err == nil || !strings.Contains(r.stderr, "mm2-connect-sidecar:v1.2.0 already exists and tags are immutable") || strings.Contains(r.stdout, "docker buildx build") {
		t.Errorf("existing TAG: err=%v stdout=%q stderr=%q", r.err, r.stdout, r.stderr)
	}

	// A changed tree gets a tag of its own, and is built even if its commit is pushed.
	if err := os.WriteFile(filepath.Join(repo, "grafana", "Dockerfile"), []byte("FROM scratch\nUSER 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = run(t, []string{path, "EXISTING_TAGS=" + commit}, filepath.Join(repo, "build_images.sh"), "--dry-run", "123456789012", "eu-west-1")
	if !regexp.MustCompile(`--tag `+regexp.QuoteMeta(reg)+`/mm2-connect:`+commit+`-dirty-[0-9]{14} `).MatchString(r.stdout) || strings.Contains(r.stdout, ":v1.2.0") {
		t.Errorf("dirty tree, no TAG: output\n%s", r.stdout)
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--dry-run", "12345", "eu-west-1"}, "12-digit AWS account ID"},
		{[]string{"--dry-run", "123456789012", "Europe"}, "not an AWS region name"},
		{[]string{"--dry-run", "123456789012", "eu-west-1", "bad tag!"}, "not a valid image tag"},
		{[]string{"--dry-run", "123456789012"}, "Usage:"},
	}
	for _, tc := range bad {
		r := run(t, []string{path}, filepath.Join(repo, "build_images.sh"), tc.args...)
		if r.err == nil || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: err=%v stderr=%q, want %q", tc.args, r.err, r.stderr, tc.want)
		}
	}
}

// TestKafkaRuntime: --help, an unknown flag, and without Java or Maven one
// line that names what to install (exit 3, which the Go harness reads as
// "skip outside CI").
func TestKafkaRuntime(t *testing.T) {
	r := run(t, nil, "kafka-runtime.sh", "--help")
	if r.err != nil || !strings.HasPrefix(r.stdout, "Usage:") {
		t.Errorf("--help: err=%v stdout=%q", r.err, r.stdout)
	}
	r = run(t, nil, "kafka-runtime.sh", "--no-such-flag")
	if r.err == nil || !strings.Contains(r.stderr, "unknown argument") {
		t.Errorf("--no-such-flag: err=%v stderr=%q", r.err, r.stderr)
	}
	// A PATH with the shell tools the script uses, but no java or mvn.
	bin := t.TempDir()
	for _, tool := range []string{"bash", "dirname", "sha256sum", "cut"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "bash"), "kafka-runtime.sh")
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("without java and mvn: %v, want exit 3; stderr %q", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "openjdk-17-jdk-headless") || !strings.Contains(lines[0], "maven") {
		t.Errorf("want one line naming both packages, got %q", stderr.String())
	}
}

// TestUploadSkipsUnchangedFiles: a worker file the bucket already holds
// byte for byte is not uploaded again (it would be a new version).
func TestUploadSkipsUnchangedFiles(t *testing.T) {
	externaltool.Path(t, "jq")
	raw, err := os.ReadFile("../connect-image/workers/scram.properties")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	etag := fmt.Sprintf(`"%x"`, md5.Sum(raw))
	if err := os.WriteFile(filepath.Join(bin, "aws"), []byte("#!/usr/bin/env bash\necho '"+etag+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := run(t, []string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "upload-connectors.sh", "--auth-mode", "scram", "--s3-uri", "s3://mm2-config/mm2/", "--dry-run")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.stderr)
	}
	for _, c := range calls(r.stdout) {
		if strings.Contains(c, " s3 cp ") {
			t.Errorf("an unchanged worker file is uploaded again: %s", c)
		}
	}
	if !strings.Contains(r.stderr, "unchanged: s3://mm2-config/mm2/worker/connect-distributed.properties") {
		t.Errorf("stderr does not say the file is unchanged: %q", r.stderr)
	}
}
