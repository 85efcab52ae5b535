package scripts_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"
	"github.com/mm2-fargate/mm2-ecs/sidecar/cloudwatch/cloudwatchtest"
	"github.com/mm2-fargate/mm2-ecs/sidecar/connect/connecttest"

	"github.com/aws/smithy-go/encoding/cbor"
	"go.yaml.in/yaml/v3"
)

// moto is a moto server on loopback, driven through the real AWS CLI with
// every call recorded.
type moto struct {
	url    string
	env    []string // for the scripts: endpoint, credentials, PATH with the recorders
	awsLog string   // one line per aws or docker call, quoted as the dry runs print them
	aws    string   // the real AWS CLI
}

// startMoto starts `moto_server` on a port of its own choosing. Every ECS
// service reports one running task (MOTO_ECS_SERVICE_RUNNING): moto runs
// no container.
func startMoto(t *testing.T) *moto {
	t.Helper()
	server := externaltool.Path(t, "moto_server")
	awsCLI := externaltool.Path(t, "aws")
	cmd := exec.Command(server, "-H", "127.0.0.1", "-p", "0")
	cmd.Env = append(os.Environ(), "MOTO_ECS_SERVICE_RUNNING=1")
	dieWithTest(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`Running on (http://127\.0\.0\.1:\d+)`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	m := &moto{aws: awsCLI}
	select {
	case m.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("moto_server did not report its address")
	}

	bin := t.TempDir()
	m.awsLog = filepath.Join(t.TempDir(), "calls")
	// One write per call, so that calls running at once (the login pipe)
	// do not interleave.
	recorder := "#!/usr/bin/env bash\nline=\"aws$(printf ' %q' \"$@\")\"\nprintf '%s\\n' \"$line\" >> " + m.awsLog + "\nexec " + awsCLI + " \"$@\"\n"
	write(t, filepath.Join(bin, "aws"), recorder, 0o755)
	write(t, filepath.Join(bin, "docker"), strings.ReplaceAll(standInDocker, "REAL_AWS", awsCLI), 0o755)
	m.env = []string{
		"PATH=" + bin + ":" + os.Getenv("PATH"),
		"DOCKER_LOG=" + m.awsLog,
		"AWS_ENDPOINT_URL=" + m.url,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_DEFAULT_REGION=eu-west-1", "AWS_REGION=eu-west-1",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	return m
}

// environ is this process's environment without any AWS_ setting (this
// machine's AWS_CA_BUNDLE, a profile), plus m's.
func (m *moto) environ() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AWS_") })
	return append(env, m.env...)
}

// standInDocker is docker for build_images.sh: it records its calls and
// turns a push into ECR PutImage calls, so the registry holds each tag
// with the digest ECR gives it, and writes that digest where buildx would.
const standInDocker = `#!/usr/bin/env bash
set -euo pipefail
line="docker$(printf ' %q' "$@")"
printf '%s\n' "$line" >> "$DOCKER_LOG"
case "$1" in
  info|login) cat >/dev/null; exit 0 ;;
  buildx) [[ "$2" == version ]] && exit 0 ;;
  *) echo "stand-in docker: $1 is not supported" >&2; exit 1 ;;
esac
shift 2
tags=() meta="" ctx=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tag) tags+=("$2"); shift 2 ;;
    --metadata-file) meta="$2"; shift 2 ;;
    --platform|--build-arg|--file) shift 2 ;;
    --*) shift ;;
    *) ctx="$1"; shift ;;
  esac
done
layer="sha256:$(printf '%s' "$ctx ${tags[0]}" | sha256sum | cut -c1-64)"
manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":1,\"digest\":\"${layer}\"},\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":1,\"digest\":\"${layer}\"}]}"
digest=""
for t in "${tags[@]}"; do
  repo="${t#*/}"
  digest="$(REAL_AWS ecr put-image --repository-name "${repo%%:*}" --image-tag "${repo##*:}" --image-manifest "$manifest" --query image.imageId.imageDigest --output text)"
done
printf '{"containerimage.digest": "%s"}\n' "$digest" > "$meta"
`

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// cli runs the real AWS CLI against moto and returns its stdout.
func (m *moto) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(m.aws, args...)
	cmd.Env = m.environ()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// script runs one of the operator scripts against moto; it returns the
// output (stdout and stderr interleaved, as a terminal shows them) and the
// calls it made.
func (m *moto) script(t *testing.T, path string, args ...string) (string, []string, error) {
	t.Helper()
	if err := os.WriteFile(m.awsLog, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{path}, args...)...)
	cmd.Env = m.environ()
	out, err := cmd.CombinedOutput()
	logged, rerr := os.ReadFile(m.awsLog)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(out), strings.Split(strings.TrimSpace(string(logged)), "\n"), err
}

var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`arn:aws:cloudformation:[^ ]*:changeSet/[^ ]*`), "CHANGE-SET"},
	{regexp.MustCompile(`deploy-[0-9]{14}`), "deploy-TIME"},
	{regexp.MustCompile(`-dirty-[0-9]{14}`), "-dirty-TIME"},
	{regexp.MustCompile(`sha256:([0-9a-f]{64}|DIGEST-OF-THE-PUSH)`), "sha256:DIGEST"},
	{regexp.MustCompile(`--metadata-file \S+`), "--metadata-file TMP"},
	{regexp.MustCompile(`file:///\S+/(taskdefs/\S+)`), "file://ROOT/$1"},
	{regexp.MustCompile(`/\S+/(connect-image/\S+)`), "ROOT/$1"},
}

// normalize makes a dry run's and a real run's calls comparable: names
// that hold a time or a digest, and the checkout's path, are replaced, and
// repeated polls count once.
func normalize(calls []string) []string {
	calls = slices.Clone(calls)
	// The two sides of the login pipe start together and log in either order.
	for i := 0; i+1 < len(calls); i++ {
		if strings.HasPrefix(calls[i], "docker login ") && strings.HasPrefix(calls[i+1], "aws ecr get-login-password ") {
			calls[i], calls[i+1] = calls[i+1], calls[i]
		}
	}
	var out []string
	for _, c := range calls {
		for _, n := range normalizers {
			c = n.re.ReplaceAllString(c, n.with)
		}
		if len(out) == 0 || out[len(out)-1] != c {
			out = append(out, c)
		}
	}
	return out
}

// dryCalls returns the calls a dry run printed; the login pipe is two calls.
func dryCalls(out string) []string {
	var cs []string
	for _, c := range calls(out) {
		cs = append(cs, strings.Split(c, " | ")...)
	}
	return cs
}

// prerequisite calls check the tools and credentials before a real run;
// a dry run, which changes nothing, does not need them.
func withoutPrerequisites(cs []string) []string {
	return slices.DeleteFunc(slices.Clone(cs), func(c string) bool {
		return c == "docker buildx version" || c == "docker info" || strings.HasPrefix(c, "aws sts get-caller-identity")
	})
}

func sameCalls(t *testing.T, what string, dry, real []string) {
	t.Helper()
	d, r := normalize(dry), normalize(withoutPrerequisites(real))
	if !slices.Equal(d, r) {
		t.Errorf("%s: the dry run printed\n  %s\nthe real run made\n  %s", what, strings.Join(d, "\n  "), strings.Join(r, "\n  "))
	}
}

// motoTypes lists the resource types moto's CloudFormation can create.
func motoTypes(t *testing.T) map[string]bool {
	t.Helper()
	python := externaltool.Path(t, "python3")
	cmd := exec.Command(python, "-c", "import json\nfrom moto.cloudformation.parsing import get_model_map\nprint(json.dumps(sorted(get_model_map())))")
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("listing moto's CloudFormation resource types: %v", err)
	}
	var types []string
	if err := json.Unmarshal(out, &types); err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, ty := range types {
		m[ty] = true
	}
	return m
}

// forMoto copies a stack without the resources moto cannot create; a
// reference to one becomes a string naming it. It returns the types left out.
func forMoto(t *testing.T, src, dst string, supported map[string]bool) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(mustRead(t, src)), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	var resources *yaml.Node
	for i := 0; i < len(root.Content); i += 2 {
		if root.Content[i].Value == "Resources" {
			resources = root.Content[i+1]
		}
	}
	removed := map[string]bool{}
	var types []string
	kept := resources.Content[:0:0]
	for i := 0; i < len(resources.Content); i += 2 {
		body := resources.Content[i+1]
		ty := ""
		for j := 0; j < len(body.Content); j += 2 {
			if body.Content[j].Value == "Type" {
				ty = body.Content[j+1].Value
			}
		}
		if supported[ty] {
			if ty == "AWS::ECS::Service" {
				desiredCountOne(body)
			}
			kept = append(kept, resources.Content[i], body)
			continue
		}
		removed[resources.Content[i].Value] = true
		if !slices.Contains(types, ty) {
			types = append(types, ty)
		}
	}
	resources.Content = kept
	var replace func(n *yaml.Node)
	replace = func(n *yaml.Node) {
		for i, c := range n.Content {
			if c.Kind == yaml.MappingNode && len(c.Content) == 2 {
				target := ""
				switch k, v := c.Content[0].Value, c.Content[1]; {
				case k == "Ref":
					target = v.Value
				case k == "Fn::GetAtt" && v.Kind == yaml.SequenceNode:
					target = v.Content[0].Value
				}
				if removed[target] {
					n.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "not-created-by-moto-" + target}
					continue
				}
			}
			replace(c)
		}
	}
	replace(root)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dst, string(out), 0o644)
	slices.Sort(types)
	return types
}

// desiredCountOne gives a service without DesiredCount one task, as
// CloudFormation does on create; moto gives it none.
func desiredCountOne(service *yaml.Node) {
	for j := 0; j < len(service.Content); j += 2 {
		if service.Content[j].Value != "Properties" {
			continue
		}
		props := service.Content[j+1]
		for k := 0; k < len(props.Content); k += 2 {
			if props.Content[k].Value == "DesiredCount" {
				return
			}
		}
		props.Content = append(props.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "DesiredCount"}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// copyTree copies the files of dir under the repository root to root.
func copyTree(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join("..", dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel("..", path)
			write(t, filepath.Join(root, rel), mustRead(t, path), info.Mode().Perm())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func buildSidecar(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "connect-sidecar")
	if out, err := exec.Command("go", "build", "-o", bin, "../sidecar/cmd/connect-sidecar").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDeployFlowOnMoto runs the scripted deployment against moto through the
// real AWS CLI: build_images.sh, deploy.sh (dry run, real, again unchanged,
// an update), connect-sidecar bootstrap and run against what it deployed,
// and destroy.sh; each dry run must print the calls its real run makes.
func TestDeployFlowOnMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto and runs every script: skipped with -short")
	}
	externaltool.Path(t, "jq")
	start := time.Now()
	m := startMoto(t)
	sidecar := buildSidecar(t)

	// ---- images ----
	dry, dryLog, err := m.script(t, "../build_images.sh", "--dry-run", "123456789012", "eu-west-1")
	if err != nil {
		t.Fatalf("build_images.sh --dry-run: %v\n%s", err, dry)
	}
	if len(dryLog) > 0 && dryLog[0] != "" && slices.ContainsFunc(dryLog, func(c string) bool { return !strings.Contains(c, " describe-") }) {
		t.Errorf("build_images.sh --dry-run changed something:\n%s", strings.Join(dryLog, "\n"))
	}
	out, realLog, err := m.script(t, "../build_images.sh", "123456789012", "eu-west-1")
	if err != nil {
		t.Fatalf("build_images.sh: %v\n%s", err, out)
	}
	sameCalls(t, "build_images.sh", dryCalls(dry), realLog)
	images := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasSuffix(k, "_IMAGE") {
			images[k] = v
		}
	}
	repos := m.cli(t, "ecr", "describe-repositories", "--query", "repositories[].[repositoryName,imageTagMutability,imageScanningConfiguration.scanOnPush]", "--output", "text")
	for _, name := range []string{"mm2-connect-sidecar", "mm2-connect", "mm2-prometheus", "mm2-grafana"} {
		if !strings.Contains(repos, name+"\tIMMUTABLE\tTrue") {
			t.Errorf("repository %s is not immutable with scan on push:\n%s", name, repos)
		}
	}
	sidecarImage := images["SIDECAR_IMAGE"]
	repo, digest, _ := strings.Cut(sidecarImage, "@")
	if got := m.cli(t, "ecr", "describe-images", "--repository-name", repo[strings.Index(repo, "/")+1:], "--image-ids", "imageDigest="+digest, "--query", "imageDetails[0].imageDigest", "--output", "text"); got != digest {
		t.Errorf("build_images.sh printed %s, the registry holds %s", sidecarImage, got)
	}
	if len(images) != 4 {
		t.Fatalf("build_images.sh printed %v", images)
	}

	// ---- settings ----
	vpc := m.cli(t, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16", "--query", "Vpc.VpcId", "--output", "text")
	var subnets []string
	for _, cidr := range []string{"10.0.1.0/24", "10.0.2.0/24"} {
		subnets = append(subnets, m.cli(t, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", cidr, "--query", "Subnet.SubnetId", "--output", "text"))
	}
	grafanaSecret := m.cli(t, "secretsmanager", "create-secret", "--name", "mm2/grafana-admin", "--secret-string", "not-used", "--query", "ARN", "--output", "text")
	tlsSecret := m.cli(t, "secretsmanager", "create-secret", "--name", "mm2/tls", "--secret-string", `{"keystore_password":"changeit","key_password":"changeit","truststore_password":"changeit"}`, "--query", "ARN", "--output", "text")
	dir := t.TempDir()
	envFile := filepath.Join(dir, "deploy.env")
	settings := fmt.Sprintf(`# deploy.env for moto
REGION=eu-west-1
ACCOUNT_ID=123456789012
LOG_GROUP=/ecs/mm2
ECS_CLUSTER=mm2
CONNECT_SERVICE=mm2-connect
VPC_ID=%s
SUBNET_IDS=%s
GRAFANA_INGRESS_CIDR=10.0.0.0/16
AUTH_MODE=plaintext
MIN_TASKS=1
MAX_TASKS=3
CONFIG_BUCKET=mm2-config-123456789012
SOURCE_BOOTSTRAP_SERVERS=127.0.0.1:9092
TARGET_BOOTSTRAP_SERVERS=127.0.0.1:9093
GRAFANA_ADMIN_SECRET_ARN=%s
CONNECT_DNS_NAME=connect.mm2.local
PROMETHEUS_DNS_NAME=prometheus.mm2.local
SIDECAR_IMAGE=%s
CONNECT_IMAGE=%s
PROMETHEUS_IMAGE=%s
GRAFANA_IMAGE=%s
`, vpc, strings.Join(subnets, ","), grafanaSecret, images["SIDECAR_IMAGE"], images["CONNECT_IMAGE"], images["PROMETHEUS_IMAGE"], images["GRAFANA_IMAGE"])
	write(t, envFile, settings, 0o600)

	// ---- the real stack, as far as moto goes: its change set ----
	dry, dryLog, err = m.script(t, "deploy.sh", "--env-file", envFile, "--dry-run", "--skip-preflight")
	if err != nil {
		t.Fatalf("deploy.sh --dry-run: %v\n%s", err, dry)
	}
	tmpl := struct {
		Resources map[string]struct {
			Type string `yaml:"Type"`
		} `yaml:"Resources"`
	}{}
	if err := yaml.Unmarshal([]byte(mustRead(t, "../taskdefs/stack.yaml")), &tmpl); err != nil {
		t.Fatal(err)
	}
	for id, r := range tmpl.Resources {
		if !strings.Contains(dry, "Add\t"+id+"\t"+r.Type) {
			t.Errorf("the change set previewed by the dry run lacks %s (%s):\n%s", id, r.Type, dry)
		}
	}
	var sentParams string
	for _, c := range dryLog {
		if strings.Contains(c, "create-change-set") && strings.Contains(c, "--stack-name mm2 ") {
			if !strings.Contains(c, "--template-body file://"+absPath(t, "../taskdefs/stack.yaml")) || !strings.Contains(c, "--capabilities CAPABILITY_IAM") {
				t.Errorf("the change set was not made from taskdefs/stack.yaml with CAPABILITY_IAM: %s", c)
			}
			sentParams = c
		}
	}
	if sentParams == "" {
		t.Fatalf("no change set of the stack was created:\n%s", strings.Join(dryLog, "\n"))
	}
	if st := m.cli(t, "cloudformation", "list-stacks", "--query", "StackSummaries[?StackStatus!='DELETE_COMPLETE'].StackName", "--output", "text"); st != "" {
		t.Errorf("the dry run left stacks behind: %s", st)
	}

	// ---- deploy, on a copy whose stack holds only what moto can create ----
	root := t.TempDir()
	copyTree(t, root, "scripts", "taskdefs", "connect-image/workers", "connect-image/connectors")
	supported := motoTypes(t)
	var lacking []string
	for _, s := range []string{"stack.yaml", "config-bucket.yaml"} {
		lacking = append(lacking, forMoto(t, filepath.Join("../taskdefs", s), filepath.Join(root, "taskdefs", s), supported)...)
	}
	t.Logf("moto's CloudFormation cannot create %s: checked in the change set and template sent above instead; "+
		"a service without DesiredCount gets 1 task as in CloudFormation (moto gives 0)", strings.Join(lacking, ", "))
	deploy := filepath.Join(root, "scripts", "deploy.sh")
	out, realLog, err = m.script(t, deploy, "--env-file", envFile, "--skip-preflight", "--wait-timeout", "20")
	if err != nil {
		t.Fatalf("deploy.sh: %v\n%s", err, out)
	}
	sameCalls(t, "deploy.sh", dryCalls(dry), realLog)
	for _, want := range []string{"stack mm2-config: create complete", "stack mm2: create complete", "mm2-connect 1/1 running", "preflight: skipped (--skip-preflight)"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy.sh output lacks %q:\n%s", want, out)
		}
	}
	objects := m.cli(t, "s3api", "list-objects-v2", "--bucket", "mm2-config-123456789012", "--query", "Contents[].Key", "--output", "text")
	for _, key := range []string{"mm2/worker/connect-distributed.properties", "mm2/connectors/mm2-msc.json", "mm2/connectors/mm2-cpc.json", "mm2/connectors/mm2-hbc.json"} {
		if !strings.Contains(objects, key) {
			t.Errorf("the bucket lacks %s: %s", key, objects)
		}
	}
	// moto's AWS::S3::Bucket leaves versioning, encryption and the public
	// access block unset, and a stack created through a change set has no
	// Outputs in moto: TestConfigBucket and TestStackOutputs check the
	// templates that were sent.
	taskDef := m.cli(t, "ecs", "describe-services", "--cluster", "mm2", "--services", "mm2-connect", "--query", "services[0].taskDefinition", "--output", "text")
	images2 := m.cli(t, "ecs", "describe-task-definition", "--task-definition", taskDef, "--query", "taskDefinition.containerDefinitions[].image", "--output", "text")
	if !strings.Contains(images2, images["SIDECAR_IMAGE"]) || !strings.Contains(images2, images["CONNECT_IMAGE"]) {
		t.Errorf("the Connect task runs %s, want the pushed digests", images2)
	}

	// ---- again: nothing changes ----
	modified := func() string {
		t.Helper()
		var times []string
		for _, key := range []string{"mm2/worker/connect-distributed.properties", "mm2/connectors/mm2-msc.json"} {
			times = append(times, m.cli(t, "s3api", "head-object", "--bucket", "mm2-config-123456789012", "--key", key, "--query", "[LastModified,ETag]", "--output", "text"))
		}
		return strings.Join(times, "\n")
	}
	before := modified()
	time.Sleep(time.Second) // LastModified has a resolution of one second
	out, realLog, err = m.script(t, deploy, "--env-file", envFile, "--skip-preflight")
	if err != nil {
		t.Fatalf("second deploy.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "no changes: stacks mm2-config and mm2 are up to date") {
		t.Errorf("the second deploy does not say it changed nothing:\n%s", out)
	}
	for _, c := range realLog {
		if strings.Contains(c, "execute-change-set") || strings.Contains(c, " s3 cp ") {
			t.Errorf("the second deploy changed something: %s", c)
		}
	}
	if after := modified(); after != before {
		t.Errorf("the second deploy rewrote the configuration:\nbefore %s\nafter  %s", before, after)
	}

	// ---- an update: a new release of the task definition, and mtls with
	// the stores in the bucket. moto applies an update only to resources
	// whose template text changed (a changed parameter alone reaches
	// nothing), so the release changes the Connect task's stopTimeout. ----
	taskFile := filepath.Join(root, "taskdefs", "connect-task.json")
	write(t, taskFile, strings.Replace(mustRead(t, taskFile), `"stopTimeout": 60`, `"stopTimeout": 90`, 1), 0o644)
	write(t, filepath.Join(root, "taskdefs", "stack.yaml"), mustRead(t, "../taskdefs/stack.yaml"), 0o644)
	if b, err := exec.Command("go", "run", "../taskdefs/stackgen", "-dir", filepath.Join(root, "taskdefs")).CombinedOutput(); err != nil {
		t.Fatalf("stackgen: %v\n%s", err, b)
	}
	forMoto(t, filepath.Join(root, "taskdefs", "stack.yaml"), filepath.Join(root, "taskdefs", "stack.yaml"), supported)
	stores := filepath.Join(dir, "stores")
	for _, f := range []string{"seed-keystore.p12", "seed-truststore.p12"} {
		write(t, filepath.Join(stores, f), mustRead(t, filepath.Join("../sidecar/javaconfig/testdata", f)), 0o600)
	}
	settings = strings.Replace(settings, "AUTH_MODE=plaintext", "AUTH_MODE=mtls", 1) +
		"TLS_SECRET_ARN=" + tlsSecret + "\nKEYSTORE_FILE=" + filepath.Join(stores, "seed-keystore.p12") + "\nTRUSTSTORE_FILE=" + filepath.Join(stores, "seed-truststore.p12") + "\n"
	write(t, envFile, settings, 0o600)
	out, updateLog, err := m.script(t, deploy, "--env-file", envFile, "--skip-preflight")
	if err != nil {
		t.Fatalf("deploy.sh after the change: %v\n%s", err, out)
	}
	for _, want := range []string{"stack mm2: update with these changes", "ConnectTaskDefinition", "stack mm2: update complete"} {
		if !strings.Contains(out, want) {
			t.Errorf("the update's output lacks %q:\n%s", want, out)
		}
	}
	// The update reaches ECS as a new revision, but moto registers a task
	// definition changed by a stack update with empty containers (its
	// update path skips the mapping of CloudFormation's keys), so what the
	// CLI sent is checked instead: the mtls parameters and the new template.
	if arn := m.cli(t, "ecs", "describe-task-definition", "--task-definition", "mm2-connect", "--query", "taskDefinition.taskDefinitionArn", "--output", "text"); !strings.HasSuffix(arn, ":2") {
		t.Errorf("after the update the latest Connect task definition is %s, want revision 2", arn)
	}
	sent := ""
	for _, c := range updateLog {
		if strings.Contains(c, "create-change-set") && strings.Contains(c, "--stack-name mm2 ") {
			sent = c
		}
	}
	for _, want := range []string{`\"ParameterKey\":\"AuthMode\"\,\"ParameterValue\":\"mtls\"`, `\"ParameterKey\":\"TlsSecretArn\"\,\"ParameterValue\":\"` + tlsSecret} {
		if !strings.Contains(sent, want) {
			t.Errorf("the update's change set lacks %s: %s", want, sent)
		}
	}
	if body := m.cli(t, "cloudformation", "get-template", "--stack-name", "mm2", "--query", "TemplateBody", "--output", "text"); !strings.Contains(body, "StopTimeout: 90") {
		t.Errorf("the stack's template after the update lacks the new stopTimeout")
	}
	t.Log("moto applies a stack update only to resources whose template text changed, and registers an updated task definition with empty containers: the update's parameters and template were checked as sent")

	// ---- the sidecar reads what deploy.sh uploaded ----
	sidecarEnv := m.environ()
	configDir := filepath.Join(dir, "config")
	cmd := exec.Command(sidecar, "bootstrap")
	cmd.Env = append(sidecarEnv,
		"SIDECAR_LOG_FORMAT=text", "SIDECAR_CONFIG_DIR="+configDir,
		"KAFKA_CONNECT_PROPERTIES_S3_URI=s3://mm2-config-123456789012/mm2/worker/connect-distributed.properties",
		"KAFKA_CONNECT_KEYSTORE_S3_URI=s3://mm2-config-123456789012/mm2/tls/keystore.p12",
		"KAFKA_CONNECT_TRUSTSTORE_S3_URI=s3://mm2-config-123456789012/mm2/tls/truststore.p12",
		"SIDECAR_KEYSTORE_PASSWORD=changeit", "SIDECAR_TRUSTSTORE_PASSWORD=changeit",
		"SIDECAR_ALLOW_EXPIRED_CERTS=true",
		"CONNECT_BOOTSTRAP_SERVERS=127.0.0.1:9093")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("connect-sidecar bootstrap from the deployed bucket: %v\n%s", err, b)
	}
	props := mustRead(t, filepath.Join(configDir, "connect-distributed.properties"))
	for _, want := range []string{`bootstrap.servers=127.0.0.1\:9093`, "ssl.keystore.location=" + configDir} {
		if !strings.Contains(props, want) {
			t.Errorf("bootstrapped properties lack %s:\n%s", want, props)
		}
	}
	for _, f := range []string{"keystore.p12", "truststore.p12"} {
		info, err := os.Stat(filepath.Join(configDir, f))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v", f, err, info)
		}
	}
	publishesScalingMetric(t, m, sidecar, sidecarEnv)

	// ---- destroy ----
	dry, _, err = m.script(t, filepath.Join(root, "scripts", "destroy.sh"), "--env-file", envFile, "--dry-run")
	if err != nil {
		t.Fatalf("destroy.sh --dry-run: %v\n%s", err, dry)
	}
	out, realLog, err = m.script(t, filepath.Join(root, "scripts", "destroy.sh"), "--env-file", envFile, "--yes")
	if err != nil {
		t.Fatalf("destroy.sh: %v\n%s", err, out)
	}
	sameCalls(t, "destroy.sh", dryCalls(dry), realLog)
	stacks := m.cli(t, "cloudformation", "list-stacks", "--query", "StackSummaries[?StackStatus!='DELETE_COMPLETE'].StackName", "--output", "text")
	if stacks != "mm2-config" {
		t.Errorf("after destroy.sh the stacks are %q, want only mm2-config (the bucket is kept)", stacks)
	}
	out, _, err = m.script(t, filepath.Join(root, "scripts", "destroy.sh"), "--env-file", envFile, "--yes", "--delete-config")
	if err != nil {
		t.Fatalf("destroy.sh --delete-config: %v\n%s", err, out)
	}
	if b := m.cli(t, "s3api", "list-buckets", "--query", "Buckets[].Name", "--output", "text"); b != "" {
		t.Errorf("buckets left after --delete-config: %s", b)
	}
	out, _, err = m.script(t, filepath.Join(root, "scripts", "destroy.sh"), "--env-file", envFile, "--yes", "--delete-config")
	if err != nil || !strings.Contains(out, "nothing to remove") {
		t.Errorf("destroy.sh with nothing left: %v\n%s", err, out)
	}
	t.Logf("scripted flow on moto: %s", time.Since(start).Round(time.Second))
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// publishesScalingMetric runs `connect-sidecar run` in api mode beside a
// Connect REST stand-in and a JMX exporter fixture, with the connectors from
// the deployed bucket, and reads the scaling metric back from moto's
// CloudWatch with the dimensions of taskdefs/scaling-policy.json.
func publishesScalingMetric(t *testing.T, m *moto, sidecar string, env []string) {
	t.Helper()
	cluster := connecttest.NewCluster(t, 1)
	// The fixture's worker leads the Connect group, so its sidecar writes
	// the connectors.
	fixture := strings.ReplaceAll(mustRead(t, "../connect-image/testdata/rules-expected.prom"), "http://10.0.1.5:8083/", cluster.URLs()[0])
	jmx := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, fixture) }))
	t.Cleanup(jmx.Close)
	bridge := &cloudWatchBridge{t: t, moto: m.url, dims: map[string]bool{}}
	bridgeSrv := httptest.NewServer(bridge)
	t.Cleanup(bridgeSrv.Close)
	cmd := exec.Command(sidecar, "run")
	cmd.Env = append(env, "AWS_ENDPOINT_URL_CLOUDWATCH="+bridgeSrv.URL,
		"SIDECAR_LOG_FORMAT=text",
		"SIDECAR_CONNECT_URL="+cluster.URLs()[0], "SIDECAR_ADVERTISED_URL="+cluster.URLs()[0],
		"SIDECAR_CONNECTORS_URI=s3://mm2-config-123456789012/mm2/connectors/",
		"SIDECAR_JMX_URL="+jmx.URL, "SIDECAR_METRICS_ADDR=127.0.0.1:0",
		"SIDECAR_LAG_INTERVAL=0s",
		"SIDECAR_CLOUDWATCH_MODE=api", "SIDECAR_CLOUDWATCH_INTERVAL=1s",
		"SIDECAR_CLUSTER_NAME=mm2", "SIDECAR_SERVICE_NAME=mm2-connect",
		"SSL_KEYSTORE_PASSWORD=changeit", "SSL_KEY_PASSWORD=changeit", "SSL_TRUSTSTORE_PASSWORD=changeit")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.WaitDelay = 10 * time.Second
	dieWithTest(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// ECS stops a task with SIGTERM.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("connect-sidecar run after SIGTERM: %v\n%s", err, logs.String())
		}
	}()

	var policy struct {
		TargetTrackingScalingPolicyConfiguration struct {
			CustomizedMetricSpecification struct {
				Namespace, MetricName, Statistic string
				Dimensions                       []struct{ Name, Value string }
			}
		}
	}
	if err := json.Unmarshal([]byte(mustRead(t, "../taskdefs/scaling-policy.json")), &policy); err != nil {
		t.Fatal(err)
	}
	spec := policy.TargetTrackingScalingPolicyConfiguration.CustomizedMetricSpecification
	values := map[string]string{"${CLOUDWATCH_NAMESPACE}": "MM2/Connect", "${CLUSTER_NAME}": "mm2", "${SERVICE_NAME}": "mm2-connect"}
	args := []string{"cloudwatch", "get-metric-statistics", "--namespace", values[spec.Namespace], "--metric-name", spec.MetricName,
		"--statistics", spec.Statistic, "--period", "60",
		"--start-time", time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339),
		"--end-time", time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339),
		"--query", "Datapoints[].Average", "--output", "text", "--dimensions"}
	for _, d := range spec.Dimensions {
		args = append(args, "Name="+d.Name+",Value="+values[d.Value])
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := m.cli(t, args...); got != "" {
			bridge.mu.Lock()
			t.Logf("moto lacks CloudWatch's RPCv2 CBOR protocol: %d PutMetricData requests of the sidecar were decoded and replayed to it in the Query protocol; get-metric-statistics reads %s %s averages %s",
				bridge.puts, spec.MetricName, args[len(args)-2:], got)
			bridge.mu.Unlock()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s datapoint with the scaling policy's dimensions after 30s; sidecar log:\n%s", spec.MetricName, logs.String())
		}
		time.Sleep(time.Second)
	}
	for !slices.Contains(cluster.Connectors(), "mm2-msc") {
		if time.Now().After(deadline) {
			t.Fatalf("connectors created from the deployed bucket: %v; sidecar log:\n%s", cluster.Connectors(), logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cloudWatchBridge stands between the sidecar and moto. moto 5.2 serves
// CloudWatch in the Query protocol only, and the SDK sends PutMetricData as
// Smithy RPCv2 CBOR, which moto answers with 404. The bridge decodes each
// request as CloudWatch would, counts it, and replays the same
// PutMetricData to moto in the Query protocol; moto's answer decides
// whether the sidecar sees success.
type cloudWatchBridge struct {
	t    *testing.T
	moto string
	mu   sync.Mutex
	puts int
	dims map[string]bool // Name=Value pairs seen
}

func (b *cloudWatchBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != cloudwatchtest.Path || r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" {
		b.t.Errorf("the sidecar sent %s %s (Smithy-Protocol %q), want PutMetricData in RPCv2 CBOR", r.Method, r.URL.Path, r.Header.Get("Smithy-Protocol"))
		http.Error(w, "unexpected request", http.StatusNotFound)
		return
	}
	put, err := cloudwatchtest.ReadPut(r)
	if err != nil {
		b.t.Errorf("PutMetricData: %v", err)
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	form := url.Values{"Action": {"PutMetricData"}, "Version": {"2010-08-01"}}
	if put.Namespace != "" {
		form.Set("Namespace", put.Namespace)
	}
	b.mu.Lock()
	for i, d := range put.Datums {
		p := fmt.Sprintf("MetricData.member.%d.", i+1)
		form.Set(p+"MetricName", d.Name)
		if d.Unit != "" {
			form.Set(p+"Unit", d.Unit)
		}
		form.Set(p+"Value", strconv.FormatFloat(d.Value, 'g', -1, 64))
		form.Set(p+"Timestamp", d.Time.UTC().Format(time.RFC3339))
		for j, name := range slices.Sorted(maps.Keys(d.Dimensions)) {
			form.Set(fmt.Sprintf("%sDimensions.member.%d.Name", p, j+1), name)
			form.Set(fmt.Sprintf("%sDimensions.member.%d.Value", p, j+1), d.Dimensions[name])
			b.dims[name+"="+d.Dimensions[name]] = true
		}
	}
	b.puts++
	b.mu.Unlock()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, b.moto+"/", strings.NewReader(form.Encode()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// moto routes by the credential scope's service name.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/eu-west-1/monitoring/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	w.Header().Set("Content-Type", "application/cbor")
	if resp.StatusCode != http.StatusOK {
		b.t.Errorf("moto refused the replayed PutMetricData: %d %s", resp.StatusCode, answer)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#InvalidParameterValueException"), "message": cbor.String(string(answer))}))
		return
	}
	_, _ = w.Write(cbor.Encode(cbor.Map{}))
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// exampleSettings is a deploy.env that passes every check, for tests that
// break one thing at a time.
const exampleSettings = `REGION=eu-west-1
ACCOUNT_ID=123456789012
LOG_GROUP=/ecs/mm2
ECS_CLUSTER=mm2
CONNECT_SERVICE=mm2-connect
VPC_ID=vpc-0abc
SUBNET_IDS=subnet-0a,subnet-0b
GRAFANA_INGRESS_CIDR=10.0.0.0/16
AUTH_MODE=plaintext
MIN_TASKS=2
MAX_TASKS=4
CONFIG_BUCKET=mm2-config-123456789012
SOURCE_BOOTSTRAP_SERVERS=127.0.0.1:1
TARGET_BOOTSTRAP_SERVERS=127.0.0.1:2
GRAFANA_ADMIN_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:mm2/grafana-admin-AbCdEf
CONNECT_DNS_NAME=connect.mm2.local
PROMETHEUS_DNS_NAME=prometheus.mm2.local
SIDECAR_IMAGE=r/mm2-connect-sidecar@sha256:1111111111111111111111111111111111111111111111111111111111111111
CONNECT_IMAGE=r/mm2-connect@sha256:1111111111111111111111111111111111111111111111111111111111111111
PROMETHEUS_IMAGE=r/mm2-prometheus@sha256:1111111111111111111111111111111111111111111111111111111111111111
GRAFANA_IMAGE=r/mm2-grafana@sha256:1111111111111111111111111111111111111111111111111111111111111111
`

// failingAWS records that it was called and fails, so a test sees whether a
// script reached AWS.
func failingAWS(t *testing.T) (pathEnv, record string) {
	t.Helper()
	bin := t.TempDir()
	record = filepath.Join(t.TempDir(), "calls")
	write(t, filepath.Join(bin, "aws"), "#!/usr/bin/env bash\necho \"aws $*\" >> "+record+"\necho 'no AWS here' >&2\nexit 255\n", 0o755)
	return "PATH=" + bin + ":" + os.Getenv("PATH"), record
}

// TestDeployRefusesBadSettings: each wrong setting is named with the file,
// the key and what is wrong, all at once, before any AWS call.
func TestDeployRefusesBadSettings(t *testing.T) {
	externaltool.Path(t, "jq")
	tests := []struct {
		name, old, new string
		want           []string
	}{
		{"image by tag", "r/mm2-connect@sha256:1111111111111111111111111111111111111111111111111111111111111111", "r/mm2-connect:v1",
			[]string{"CONNECT_IMAGE=r/mm2-connect:v1: must be pinned by digest"}},
		{"missing settings", "VPC_ID=vpc-0abc\nSUBNET_IDS=subnet-0a,subnet-0b\n", "",
			[]string{"VPC_ID is not set", "SUBNET_IDS is not set"}},
		{"max below min", "MAX_TASKS=4", "MAX_TASKS=1", []string{"MAX_TASKS=1 is below MIN_TASKS=2"}},
		{"scale to zero", "MIN_TASKS=2", "MIN_TASKS=0", []string{"MIN_TASKS=0: must be a whole number of at least 1"}},
		{"secret the execution role cannot read", "secret:mm2/grafana-admin", "secret:other/grafana-admin",
			[]string{"GRAFANA_ADMIN_SECRET_ARN=", "named mm2/..."}},
		{"secret of another region", "secretsmanager:eu-west-1", "secretsmanager:us-east-1", []string{"must be a secret of account 123456789012 in eu-west-1"}},
		{"scram without credentials", "AUTH_MODE=plaintext", "AUTH_MODE=scram",
			[]string{"SOURCE_CREDENTIALS_SECRET_ARN is not set", "TARGET_CREDENTIALS_SECRET_ARN is not set"}},
		{"mtls without stores", "AUTH_MODE=plaintext", "AUTH_MODE=mtls", []string{"KEYSTORE_FILE is not set", "TRUSTSTORE_FILE is not set", "TLS_SECRET_ARN is not set"}},
		{"unknown mode", "AUTH_MODE=plaintext", "AUTH_MODE=kerberos", []string{"AUTH_MODE=kerberos: must be plaintext, scram, mtls or iam"}},
		{"dns names in two namespaces", "PROMETHEUS_DNS_NAME=prometheus.mm2.local", "PROMETHEUS_DNS_NAME=prometheus.other.local",
			[]string{"PROMETHEUS_DNS_NAME=prometheus.other.local: must be prometheus.mm2.local"}},
		{"not key=value", "REGION=eu-west-1\n", "REGION=eu-west-1\nexport FOO\n", []string{`line "export FOO" is not KEY=VALUE`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(exampleSettings, tc.old) {
				t.Fatalf("the example lacks %q", tc.old)
			}
			envFile := filepath.Join(t.TempDir(), "deploy.env")
			write(t, envFile, strings.Replace(exampleSettings, tc.old, tc.new, 1), 0o600)
			path, record := failingAWS(t)
			r := run(t, []string{path}, "deploy.sh", "--env-file", envFile, "--skip-preflight", "--dry-run")
			if r.err == nil {
				t.Fatalf("deploy.sh accepted the settings:\n%s%s", r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, envFile+": ") || !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not name %s in %s", r.stderr, w, envFile)
				}
			}
			if _, err := os.Stat(record); err == nil {
				t.Errorf("AWS was called despite the bad settings: %s", mustRead(t, record))
			}
		})
	}
}

// TestDeployPreflight: `connect-sidecar preflight` runs when the binary has
// it and its failure stops the deployment before any AWS call; a binary
// without it is reported as skipped, as is --skip-preflight.
func TestDeployPreflight(t *testing.T) {
	externaltool.Path(t, "jq")
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(t.TempDir(), "deploy.env")
	write(t, envFile, exampleSettings, 0o600)
	fake := func(script string) string {
		p := filepath.Join(t.TempDir(), "connect-sidecar")
		write(t, p, script, 0o755)
		return p
	}
	tests := []struct {
		name    string
		sidecar string
		args    []string
		want    string
		reached bool // whether deploy.sh went on to AWS
	}{
		{"without a preflight command", fake("#!/usr/bin/env bash\necho \"connect-sidecar: unknown command $1\" >&2\nexit 2\n"), nil, "has no preflight command", true},
		// Loopback ports nothing listens on: the real checks fail at once.
		{"the real preflight, clusters unreachable", buildSidecar(t), nil, `source cluster "source" (127.0.0.1:1, PLAINTEXT)`, false},
		{"preflight fails", fake("#!/usr/bin/env bash\n[[ \"$2\" == --help ]] && exit 0\necho \"source cluster ${SOURCE_BOOTSTRAP_SERVERS} unreachable\" >&2\nexit 1\n"), nil,
			"source cluster 127.0.0.1:1 unreachable", false},
		{"preflight passes", fake("#!/usr/bin/env bash\n[[ \"$2\" == --help ]] && exit 0\necho \"preflight-ran $*\" >&2\n"), nil, "--worker " + root + "/connect-image/workers/plaintext.properties --max-workers 4", true},
		{"skipped on request", fake("#!/usr/bin/env bash\necho ran >&2\nexit 1\n"), []string{"--skip-preflight"}, "preflight: skipped (--skip-preflight)", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, record := failingAWS(t)
			r := run(t, []string{path, "CONNECT_SIDECAR=" + tc.sidecar}, "deploy.sh", append([]string{"--env-file", envFile, "--dry-run"}, tc.args...)...)
			// The preflight table is on stdout, deploy.sh's own lines on stderr.
			if !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("output lacks %q:\n%s\n%s", tc.want, r.stdout, r.stderr)
			}
			_, err := os.Stat(record)
			if reached := err == nil; reached != tc.reached {
				t.Errorf("reached AWS: %v, want %v\n%s", reached, tc.reached, r.stderr)
			}
			if !tc.reached && (r.err == nil || !strings.Contains(r.stderr, "preflight failed")) {
				t.Errorf("a failed preflight did not stop the deployment: err=%v\n%s", r.err, r.stderr)
			}
		})
	}
}

// TestDeployAcceptsTheExample: taskdefs/deploy.env.example passes every
// check, so deploy.sh goes on to AWS.
func TestDeployAcceptsTheExample(t *testing.T) {
	externaltool.Path(t, "jq")
	path, record := failingAWS(t)
	r := run(t, []string{path}, "deploy.sh", "--env-file", "../taskdefs/deploy.env.example", "--skip-preflight", "--dry-run")
	if _, err := os.Stat(record); err != nil {
		t.Errorf("deploy.sh refused the example settings:\n%s", r.stderr)
	}
}

// TestDestroyAsksFirst: without --yes and without a terminal to ask on,
// destroy.sh deletes nothing.
func TestDestroyAsksFirst(t *testing.T) {
	externaltool.Path(t, "jq")
	bin := t.TempDir()
	record := filepath.Join(t.TempDir(), "calls")
	write(t, filepath.Join(bin, "aws"), "#!/usr/bin/env bash\necho \"aws $*\" >> "+record+"\n[[ \"$*\" == *describe-stacks* ]] && echo CREATE_COMPLETE\nexit 0\n", 0o755)
	envFile := filepath.Join(t.TempDir(), "deploy.env")
	write(t, envFile, exampleSettings, 0o600)
	r := run(t, []string{"PATH=" + bin + ":" + os.Getenv("PATH")}, "destroy.sh", "--env-file", envFile, "--delete-config")
	if r.err == nil || !strings.Contains(r.stderr, "not confirmed: run in a terminal or pass --yes") {
		t.Errorf("err=%v stderr=%q", r.err, r.stderr)
	}
	if calls := mustRead(t, record); strings.Contains(calls, "delete") {
		t.Errorf("destroy.sh deleted without confirmation:\n%s", calls)
	}
}
