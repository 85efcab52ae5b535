package taskdefs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"

	"go.yaml.in/yaml/v3"
)

var stacks = []string{"stack.yaml", "config-bucket.yaml"}

// TestStacksLint runs AWS's CloudFormation linter on both stacks: zero
// errors and zero warnings, with no rule suppressed.
func TestStacksLint(t *testing.T) {
	lint := externaltool.Path(t, "cfn-lint")
	for _, s := range stacks {
		out, err := exec.Command(lint, "--format", "parseable", "--", s).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("cfn-lint %s: %v\n%s", s, err, out)
		}
		if strings.Contains(string(mustRead(t, s)), "cfn-lint") {
			t.Errorf("%s configures or suppresses cfn-lint rules", s)
		}
		// aws cloudformation create-change-set --template-body takes at
		// most 51,200 bytes; beyond that the template must go through S3.
		if info, err := os.Stat(s); err == nil && info.Size() > 51200 {
			t.Errorf("%s is %d bytes, over the 51,200 of --template-body", s, info.Size())
		}
	}
	// The linter is not a check that cannot fail: a misspelt property and a
	// reference to nothing are errors.
	broken := strings.Replace(strings.Replace(string(mustRead(t, "stack.yaml")), "ReadonlyRootFilesystem", "ReadOnlyRootFilesystem", 1),
		"{Ref: ConnectSecurityGroup}", "{Ref: ConnectSecurityGrup}", 1)
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lint, "--format", "parseable", "--", path).CombinedOutput()
	for _, want := range []string{"E3002", "ReadOnlyRootFilesystem", "E1020", "ConnectSecurityGrup"} {
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("cfn-lint on a broken stack: err=%v, output lacks %s:\n%s", err, want, out)
		}
	}
}

type cfnResource struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
}

func loadStack(t *testing.T, name string) map[string]cfnResource {
	t.Helper()
	var tmpl struct {
		Resources map[string]cfnResource `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(mustRead(t, name), &tmpl); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tmpl.Resources
}

// TestStackNetworkAndDeployments checks what cfn-lint cannot know: the
// security groups open exactly the ports the tasks serve on, and an update
// keeps workers running.
func TestStackNetworkAndDeployments(t *testing.T) {
	res := loadStack(t, "stack.yaml")
	type rule struct {
		group, from string
		port        int
	}
	var got []rule
	for _, r := range res {
		if r.Type == "AWS::EC2::SecurityGroup" && (r.Properties["SecurityGroupIngress"] != nil || r.Properties["SecurityGroupEgress"] != nil) {
			t.Errorf("a security group holds inline rules: %v", r.Properties)
		}
		if r.Type != "AWS::EC2::SecurityGroupIngress" {
			continue
		}
		p := r.Properties
		from, to := p["FromPort"].(int), p["ToPort"].(int)
		if from != to || p["IpProtocol"] != "tcp" {
			t.Errorf("ingress %v: want one tcp port", p)
		}
		src := "cidr"
		if s, ok := p["SourceSecurityGroupId"].(map[string]any); ok {
			src = s["Fn::GetAtt"].([]any)[0].(string)
		}
		got = append(got, rule{p["GroupId"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string), src, from})
	}
	want := []rule{
		{"ConnectSecurityGroup", "ConnectSecurityGroup", 8083},
		{"ConnectSecurityGroup", "PrometheusSecurityGroup", 9400},
		{"PrometheusSecurityGroup", "GrafanaSecurityGroup", 9090},
		{"GrafanaSecurityGroup", "cidr", 3000},
	}
	cmp := func(a, b rule) int { return a.port - b.port }
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("ingress rules %v, want %v", got, want)
	}

	for _, name := range []string{"ConnectEcsService", "PrometheusEcsService", "GrafanaEcsService"} {
		dc, _ := res[name].Properties["DeploymentConfiguration"].(map[string]any)
		cb, _ := dc["DeploymentCircuitBreaker"].(map[string]any)
		if cb["Enable"] != true || cb["Rollback"] != true {
			t.Errorf("%s: circuit breaker %v, want enabled with rollback", name, cb)
		}
		// minimumHealthyPercent 100: no running worker is stopped before
		// its replacement is healthy.
		if dc["MinimumHealthyPercent"] != 100 || dc["MaximumPercent"] != 200 {
			t.Errorf("%s: deployment %v, want 100%%/200%%", name, dc)
		}
		if res[name].Properties["ServiceRegistries"] == nil {
			t.Errorf("%s has no service registry", name)
		}
	}
	if _, ok := res["ConnectEcsService"].Properties["DesiredCount"]; ok {
		t.Error("ConnectEcsService sets DesiredCount: every stack update would undo the scaling")
	}
}

// TestConfigBucket checks the bucket's protections.
func TestConfigBucket(t *testing.T) {
	res := loadStack(t, "config-bucket.yaml")
	b := res["Bucket"].Properties
	if b["VersioningConfiguration"].(map[string]any)["Status"] != "Enabled" {
		t.Error("bucket not versioned")
	}
	pab := b["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if pab[k] != true {
			t.Errorf("public access: %s is not true", k)
		}
	}
	if b["BucketEncryption"] == nil {
		t.Error("bucket not encrypted")
	}
	stmts := res["BucketPolicy"].Properties["PolicyDocument"].(map[string]any)["Statement"].([]any)
	tls := false
	for _, s := range stmts {
		s := s.(map[string]any)
		cond, _ := s["Condition"].(map[string]any)
		if s["Effect"] == "Deny" && cond != nil && cond["Bool"].(map[string]any)["aws:SecureTransport"] == "false" {
			tls = true
		}
	}
	if !tls {
		t.Error("no statement denies requests without TLS")
	}
}

// TestStackOutputs: the stack says where to look, as deploy.sh prints it.
func TestStackOutputs(t *testing.T) {
	var tmpl struct {
		Outputs map[string]struct {
			Value map[string]any `yaml:"Value"`
		} `yaml:"Outputs"`
	}
	if err := yaml.Unmarshal(mustRead(t, "stack.yaml"), &tmpl); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GrafanaUrl":    "http://grafana.${DnsNamespace}:3000",
		"PrometheusUrl": "http://prometheus.${DnsNamespace}:9090",
		"ConfigUri":     "s3://${ConfigBucket}/${ConfigPrefix}",
	}
	for name, sub := range want {
		if got := tmpl.Outputs[name].Value["Fn::Sub"]; got != sub {
			t.Errorf("output %s = %v, want Fn::Sub %s", name, got, sub)
		}
	}
}
