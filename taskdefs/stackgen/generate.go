package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

const stackFile = "stack.yaml"

// modes are the auth modes of modes/*.json; plaintext is the stack's
// default branch, every other mode has a condition of stack.yaml.
var modes = []string{"plaintext", "scram", "mtls", "iam"}

var modeCondition = map[string]string{"scram": "IsScram", "mtls": "IsMtls", "iam": "IsIam"}

// bound maps the placeholders that are not a stack parameter of the same
// name (NAME_PREFIX -> NamePrefix) to what stands for them in an Fn::Sub.
var bound = map[string]string{
	"REGION":                "${AWS::Region}",
	"ACCOUNT_ID":            "${AWS::AccountId}",
	"CONNECT_TASK_ROLE_ARN": "${ConnectTaskRole.Arn}",
	"EXECUTION_ROLE_ARN":    "${ExecutionRole.Arn}",
	"LOG_GROUP":             "${TaskLogs}",
	"ECS_CLUSTER":           "${Cluster}",
	"CLUSTER_NAME":          "${Cluster}",
	"SERVICE_NAME":          "${ConnectService}",
	"CONNECT_DNS_NAME":      "connect.${DnsNamespace}",
	"PROMETHEUS_DNS_NAME":   "prometheus.${DnsNamespace}",
}

// freeForm are task definition keys whose values are maps of the user's
// keys, kept as written (everything else is an API field, camelCase in the
// ECS API and PascalCase in CloudFormation).
var freeForm = map[string]bool{"options": true, "dockerLabels": true}

var placeholder = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)\}`)

// generator holds the hand-written stack being filled in.
type generator struct {
	files  fs.FS
	params map[string]bool
	names  map[string]bool // parameters, resources and pseudo parameters an Fn::Sub may name
}

// generate returns stack.yaml with its generated resources written from the
// files of dir.
func generate(dir fs.FS, stack []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(stack, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", stackFile, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a template", stackFile)
	}
	root := doc.Content[0]
	g := &generator{files: dir, params: map[string]bool{}, names: map[string]bool{"AWS::Region": true, "AWS::AccountId": true, "AWS::Partition": true, "AWS::StackName": true}}
	params, resources := get(root, "Parameters"), get(root, "Resources")
	if params == nil || resources == nil {
		return nil, fmt.Errorf("%s: needs Parameters and Resources", stackFile)
	}
	for i := 0; i < len(params.Content); i += 2 {
		g.params[params.Content[i].Value] = true
		g.names[params.Content[i].Value] = true
	}
	for i := 0; i < len(resources.Content); i += 2 {
		g.names[resources.Content[i].Value] = true
	}

	type part struct {
		id    string
		from  string
		build func() (*yaml.Node, error)
	}
	parts := []part{
		{"ExecutionRole", "iam/ecs-tasks-trust.json, iam/execution-role.json", g.executionRole},
		{"ConnectTaskRole", "iam/ecs-tasks-trust.json, iam/connect-task-role.json", g.connectTaskRole},
		{"MskIamAccessPolicy", "iam/msk-iam-access.json", g.mskPolicy},
		{"ConnectTaskDefinition", "connect-task.json and modes/*.json", g.connectTask},
		{"PrometheusTaskDefinition", "prometheus-task.json", func() (*yaml.Node, error) { return g.task("prometheus-task.json") }},
		{"GrafanaTaskDefinition", "grafana-task.json", func() (*yaml.Node, error) { return g.task("grafana-task.json") }},
		{"ScalableTarget", "scaling-policy.json", g.scalableTarget},
		{"ScalingPolicy", "scaling-policy.json", g.scalingPolicy},
	}
	for _, p := range parts {
		i := index(resources, p.id)
		if i < 0 {
			return nil, fmt.Errorf("%s: resource %s is missing (it is generated from %s)", stackFile, p.id, p.from)
		}
		body, err := p.build()
		if err != nil {
			return nil, err
		}
		key := resources.Content[i]
		key.HeadComment = "Generated from " + p.from + " by `go generate ./taskdefs`: edit those files, not this resource."
		resources.Content[i+1] = body
	}

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// get returns the value of key in a mapping node, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if i := index(m, key); i >= 0 {
		return m.Content[i+1]
	}
	return nil
}

func index(m *yaml.Node, key string) int {
	if m == nil || m.Kind != yaml.MappingNode {
		return -1
	}
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func mapping(kv ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Content: kv} }

func seq(items ...*yaml.Node) *yaml.Node { return &yaml.Node{Kind: yaml.SequenceNode, Content: items} }

func flow(n *yaml.Node) *yaml.Node { n.Style = yaml.FlowStyle; return n }

func ref(name string) *yaml.Node { return flow(mapping(str("Ref"), str(name))) }

func noValue() *yaml.Node { return ref("AWS::NoValue") }

// load reads one JSON file of the directory as a YAML node, which keeps the
// order of its keys.
func (g *generator) load(name string) (*yaml.Node, error) {
	raw, err := fs.ReadFile(g.files, name)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not a JSON object", name)
	}
	return doc.Content[0], nil
}

// convert turns a node of a file into the stack's form: ${PLACEHOLDER}s
// into Ref, Fn::GetAtt or Fn::Sub, and, with pascal, ECS API keys into
// CloudFormation's.
func (g *generator) convert(file string, n *yaml.Node, pascal bool) (*yaml.Node, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		c := *n
		c.Style = 0
		c.Line, c.Column = 0, 0
		if c.Tag != "!!str" || !placeholder.MatchString(c.Value) {
			return &c, nil
		}
		return g.sub(file, c.Value)
	case yaml.SequenceNode:
		out := seq()
		for _, item := range n.Content {
			c, err := g.convert(file, item, pascal)
			if err != nil {
				return nil, err
			}
			out.Content = append(out.Content, c)
		}
		return out, nil
	case yaml.MappingNode:
		out := mapping()
		for i := 0; i < len(n.Content); i += 2 {
			key := n.Content[i].Value
			value, err := g.convert(file, n.Content[i+1], pascal && !freeForm[key])
			if err != nil {
				return nil, err
			}
			if pascal {
				r := []rune(key)
				r[0] = unicode.ToUpper(r[0])
				key = string(r)
			}
			out.Content = append(out.Content, str(key), value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unexpected YAML node kind %d", file, n.Kind)
}

// sub maps the placeholders of one string.
func (g *generator) sub(file, s string) (*yaml.Node, error) {
	var errs []error
	text := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := placeholder.FindStringSubmatch(m)[1]
		if b, ok := bound[name]; ok {
			return b
		}
		if p := pascalName(name); g.params[p] {
			return "${" + p + "}"
		}
		errs = append(errs, fmt.Errorf("%s: ${%s} is neither a parameter %s of %s nor bound to a resource", file, name, pascalName(name), stackFile))
		return m
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, m := range regexp.MustCompile(`\$\{([^}]+)\}`).FindAllStringSubmatch(text, -1) {
		name, _, _ := strings.Cut(m[1], ".")
		if !g.names[name] {
			return nil, fmt.Errorf("%s: %q names %s, which %s does not declare", file, s, m[1], stackFile)
		}
	}
	if m := regexp.MustCompile(`^\$\{([^}]+)\}$`).FindStringSubmatch(text); m != nil {
		if res, attr, ok := strings.Cut(m[1], "."); ok {
			return flow(mapping(str("Fn::GetAtt"), flow(seq(str(res), str(attr))))), nil
		}
		return ref(m[1]), nil
	}
	return mapping(str("Fn::Sub"), str(text)), nil
}

// pascalName turns an env-file key into the stack parameter's name:
// NAME_PREFIX -> NamePrefix.
func pascalName(key string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ToLower(key), "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func (g *generator) policy(name string, policyName string) (*yaml.Node, error) {
	doc, err := g.load(name)
	if err != nil {
		return nil, err
	}
	c, err := g.convert(name, doc, false)
	if err != nil {
		return nil, err
	}
	return mapping(str("PolicyName"), mapping(str("Fn::Sub"), str(policyName)), str("PolicyDocument"), c), nil
}

func (g *generator) role(policies *yaml.Node) (*yaml.Node, error) {
	trust, err := g.load("iam/ecs-tasks-trust.json")
	if err != nil {
		return nil, err
	}
	t, err := g.convert("iam/ecs-tasks-trust.json", trust, false)
	if err != nil {
		return nil, err
	}
	return mapping(str("Type"), str("AWS::IAM::Role"), str("Properties"), mapping(
		str("AssumeRolePolicyDocument"), t,
		str("Policies"), policies,
	)), nil
}

func (g *generator) executionRole() (*yaml.Node, error) {
	p, err := g.policy("iam/execution-role.json", "${NamePrefix}-task-execution")
	if err != nil {
		return nil, err
	}
	return g.role(seq(p))
}

func (g *generator) connectTaskRole() (*yaml.Node, error) {
	p, err := g.policy("iam/connect-task-role.json", "${NamePrefix}-connect-task")
	if err != nil {
		return nil, err
	}
	return g.role(seq(p))
}

// mskPolicy is a policy of its own on the task role, which only the iam
// mode creates.
func (g *generator) mskPolicy() (*yaml.Node, error) {
	p, err := g.policy("iam/msk-iam-access.json", "${NamePrefix}-msk-iam-access")
	if err != nil {
		return nil, err
	}
	p.Content = append(p.Content, str("Roles"), seq(ref("ConnectTaskRole")))
	return mapping(str("Type"), str("AWS::IAM::Policy"), str("Condition"), str(modeCondition["iam"]), str("Properties"), p), nil
}

func taskResource(props *yaml.Node) *yaml.Node {
	return mapping(str("Type"), str("AWS::ECS::TaskDefinition"), str("Properties"), props)
}

func (g *generator) task(name string) (*yaml.Node, error) {
	doc, err := g.load(name)
	if err != nil {
		return nil, err
	}
	props, err := g.convert(name, doc, true)
	if err != nil {
		return nil, err
	}
	return taskResource(props), nil
}

// connectTask merges each mode's overlay into connect-task.json and keeps
// one definition, with an Fn::If wherever the modes differ.
func (g *generator) connectTask() (*yaml.Node, error) {
	base, err := g.load("connect-task.json")
	if err != nil {
		return nil, err
	}
	perMode := map[string]*yaml.Node{}
	for _, mode := range modes {
		file := "modes/" + mode + ".json"
		overlay, err := g.load(file)
		if err != nil {
			return nil, err
		}
		merged, err := mergeOverlay(file, deepCopy(base), overlay)
		if err != nil {
			return nil, err
		}
		if perMode[mode], err = g.convert("connect-task.json with "+file, merged, true); err != nil {
			return nil, err
		}
	}
	return taskResource(combine(perMode)), nil
}

// mergeOverlay appends an overlay's environment and secrets to the named
// containers, as scripts/render-taskdefs.sh does.
func mergeOverlay(file string, task, overlay *yaml.Node) (*yaml.Node, error) {
	containers := get(overlay, "containers")
	defs := get(task, "containerDefinitions")
	if defs == nil {
		return nil, fmt.Errorf("connect-task.json: no containerDefinitions")
	}
	if containers == nil {
		return task, nil
	}
	for i := 0; i < len(containers.Content); i += 2 {
		name := containers.Content[i].Value
		var target *yaml.Node
		for _, c := range defs.Content {
			if n := get(c, "name"); n != nil && n.Value == name {
				target = c
			}
		}
		if target == nil {
			return nil, fmt.Errorf("%s: overlay names unknown container %s", file, name)
		}
		for _, key := range []string{"environment", "secrets"} {
			add := get(containers.Content[i+1], key)
			if add == nil || len(add.Content) == 0 {
				continue
			}
			if cur := get(target, key); cur != nil {
				cur.Content = append(cur.Content, add.Content...)
			} else {
				target.Content = append(target.Content, str(key), seq(add.Content...))
			}
		}
	}
	return task, nil
}

func deepCopy(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = nil
	for _, x := range n.Content {
		c.Content = append(c.Content, deepCopy(x))
	}
	return &c
}

func encode(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return "!" + err.Error()
	}
	return string(b)
}

// combine merges the modes' versions of one node: equal versions stay one
// node, mappings merge key by key, lists of mappings of one length item by
// item, and anything else becomes an Fn::If on the mode.
func combine(perMode map[string]*yaml.Node) *yaml.Node {
	first := perMode[modes[0]]
	same := true
	for _, m := range modes[1:] {
		if encode(perMode[m]) != encode(first) {
			same = false
		}
	}
	if same {
		return first
	}
	kinds := map[yaml.Kind]bool{}
	lengths := map[int]bool{}
	for _, m := range modes {
		if n := perMode[m]; n != nil {
			kinds[n.Kind] = true
			lengths[len(n.Content)] = true
		} else {
			kinds[0] = true
		}
	}
	switch {
	case len(kinds) == 1 && kinds[yaml.MappingNode]:
		var keys []string
		for _, m := range modes {
			for i := 0; i < len(perMode[m].Content); i += 2 {
				if k := perMode[m].Content[i].Value; !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
		out := mapping()
		for _, k := range keys {
			values := map[string]*yaml.Node{}
			for _, m := range modes {
				values[m] = get(perMode[m], k)
			}
			out.Content = append(out.Content, str(k), combine(values))
		}
		return out
	case len(kinds) == 1 && kinds[yaml.SequenceNode] && len(lengths) == 1 && allMappings(perMode):
		out := seq()
		for i := range first.Content {
			values := map[string]*yaml.Node{}
			for _, m := range modes {
				values[m] = perMode[m].Content[i]
			}
			out.Content = append(out.Content, combine(values))
		}
		return out
	}
	def := perMode["plaintext"]
	if def == nil {
		def = noValue()
	}
	branches := map[string]*yaml.Node{}
	for _, m := range modes[1:] {
		if encode(perMode[m]) != encode(perMode["plaintext"]) {
			branches[m] = perMode[m]
			if branches[m] == nil {
				branches[m] = noValue()
			}
		}
	}
	return ifMode(branches, def)
}

func allMappings(perMode map[string]*yaml.Node) bool {
	for _, n := range perMode {
		for _, c := range n.Content {
			if c.Kind != yaml.MappingNode {
				return false
			}
		}
	}
	return true
}

// ifMode nests one Fn::If per mode that has a branch, in the order of
// modes, around def.
func ifMode(branches map[string]*yaml.Node, def *yaml.Node) *yaml.Node {
	out := def
	for i := len(modes) - 1; i > 0; i-- {
		m := modes[i]
		if b, ok := branches[m]; ok {
			out = mapping(str("Fn::If"), seq(str(modeCondition[m]), b, out))
		}
	}
	return out
}

func (g *generator) scaling() (*yaml.Node, error) {
	doc, err := g.load("scaling-policy.json")
	if err != nil {
		return nil, err
	}
	return g.convert("scaling-policy.json", doc, false)
}

func (g *generator) scalableTarget() (*yaml.Node, error) {
	p, err := g.scaling()
	if err != nil {
		return nil, err
	}
	props := mapping()
	for _, k := range []string{"ServiceNamespace", "ResourceId", "ScalableDimension"} {
		v := get(p, k)
		if v == nil {
			return nil, fmt.Errorf("scaling-policy.json: %s is missing", k)
		}
		props.Content = append(props.Content, str(k), v)
	}
	props.Content = append(props.Content, str("MinCapacity"), ref("MinTasks"), str("MaxCapacity"), ref("MaxTasks"))
	return mapping(
		str("Type"), str("AWS::ApplicationAutoScaling::ScalableTarget"),
		str("DependsOn"), str("ConnectEcsService"),
		str("Properties"), props,
	), nil
}

func (g *generator) scalingPolicy() (*yaml.Node, error) {
	p, err := g.scaling()
	if err != nil {
		return nil, err
	}
	props := mapping()
	for i := 0; i < len(p.Content); i += 2 {
		switch k := p.Content[i].Value; k {
		case "ServiceNamespace", "ResourceId", "ScalableDimension":
			// The scalable target holds them; ScalingTargetId names it.
		default:
			props.Content = append(props.Content, p.Content[i], p.Content[i+1])
		}
	}
	props.Content = append(props.Content, str("ScalingTargetId"), ref("ScalableTarget"))
	return mapping(str("Type"), str("AWS::ApplicationAutoScaling::ScalingPolicy"), str("Properties"), props), nil
}
