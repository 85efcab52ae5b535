// Package deploy_test checks what the deployable parts share: the policy
// every Dockerfile follows, and that every metric a dashboard or alert rule
// queries is one the JMX exporter rules or the sidecar produce.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mm2-fargate/mm2-ecs/internal/externaltool"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// ---- Dockerfiles ----

type stage struct {
	name  string
	from  string
	nodes []*parser.Node
}

func dockerfiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() == "Dockerfile" {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func parseStages(t policyT, path string) (map[string]string, []stage) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	res, err := parser.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	globalArgs := map[string]string{}
	var stages []stage
	for _, n := range res.AST.Children {
		switch strings.ToLower(n.Value) {
		case "from":
			s := stage{from: n.Next.Value}
			if n.Next.Next != nil && strings.EqualFold(n.Next.Next.Value, "as") && n.Next.Next.Next != nil {
				s.name = n.Next.Next.Next.Value
			}
			stages = append(stages, s)
		case "arg":
			if len(stages) == 0 {
				for a := n.Next; a != nil; a = a.Next {
					k, v, _ := strings.Cut(a.Value, "=")
					globalArgs[k] = v
				}
				continue
			}
			fallthrough
		default:
			if len(stages) == 0 {
				continue
			}
			stages[len(stages)-1].nodes = append(stages[len(stages)-1].nodes, n)
		}
	}
	return globalArgs, stages
}

func args(n *parser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

var (
	pinnedImage = regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)@sha256:[0-9a-f]{64}$`)
	checksumArg = regexp.MustCompile(`^[A-Z0-9_]*SHA(256|512)$`)
	verifyCmd   = regexp.MustCompile(`sha(256|512)sum (-c|--check)`)
	installCmd  = regexp.MustCompile(`\b(apt-get|apt|apk|yum|dnf|microdnf) (install|add)\b|\bpip3? install\b|\bgo (build|install)\b|\b(gcc|make)\b`)
	downloadCmd = regexp.MustCompile(`\b(curl|wget)\b`)
)

// TestDockerfiles checks every Dockerfile of the repository: each base image
// pinned by tag and digest, a non-root USER in the final stage, every
// download verified by a checksum, no package installs or compilers in the
// final stage, and checksum arguments that hold a full digest.
func TestDockerfiles(t *testing.T) {
	files := dockerfiles(t)
	for _, want := range []string{"connect-image/Dockerfile", "prometheus-image/Dockerfile", "grafana/Dockerfile"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is missing", want)
		}
	}
	for _, path := range files {
		t.Run(path, func(t *testing.T) { checkDockerfile(t, path) })
	}
}

// checkDockerfile applies the policy to one Dockerfile.
func checkDockerfile(t policyT, path string) {
	t.Helper()
	globalArgs, stages := parseStages(t, path)
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", path)
	}
	names := map[string]bool{}
	for i, s := range stages {
		from := os.Expand(s.from, func(k string) string { return globalArgs[k] })
		if !names[from] && !pinnedImage.MatchString(from) {
			t.Errorf("stage %d: FROM %s is not pinned as image:tag@sha256:digest", i, s.from)
		}
		if strings.Contains(from, ":latest") {
			t.Errorf("stage %d: FROM %s uses the latest tag", i, from)
		}
		if s.name != "" {
			names[s.name] = true
		}
		checkDownloads(t, i, s)
		for _, n := range s.nodes {
			if strings.EqualFold(n.Value, "arg") {
				for _, a := range args(n) {
					k, v, hasDefault := strings.Cut(a, "=")
					if !checksumArg.MatchString(k) {
						continue
					}
					size := 64
					if strings.HasSuffix(k, "512") {
						size = 128
					}
					if hasDefault && !regexp.MustCompile(fmt.Sprintf(`^[0-9a-f]{%d}$`, size)).MatchString(v) {
						t.Errorf("stage %d: ARG %s=%q is not a lower-case %d-digit hex digest", i, k, v, size)
					}
				}
			}
		}
	}
	final := stages[len(stages)-1]
	user := ""
	for _, n := range final.nodes {
		switch strings.ToLower(n.Value) {
		case "user":
			user = n.Next.Value
		case "run":
			if cmd := strings.Join(args(n), " "); installCmd.MatchString(cmd) || downloadCmd.MatchString(cmd) {
				t.Errorf("final stage installs, builds or downloads: %s", n.Original)
			}
		}
	}
	switch name, _, _ := strings.Cut(user, ":"); name {
	case "":
		t.Error("final stage has no USER: it would run as root")
	case "root", "0":
		t.Errorf("final stage runs as %s", user)
	}
}

// checkDownloads requires each ADD of a URL to carry --checksum or to be
// followed in its stage by a RUN that checks the file with sha256sum/sha512sum
// -c, and each RUN that downloads to check what it fetched in the same RUN.
func checkDownloads(t policyT, i int, s stage) {
	t.Helper()
	for j, n := range s.nodes {
		switch strings.ToLower(n.Value) {
		case "add":
			a := args(n)
			if len(a) < 2 || !strings.HasPrefix(a[0], "http") {
				continue
			}
			if hasFlag(n, "--checksum=sha256:") {
				continue
			}
			dest := filepath.Base(a[len(a)-1])
			verified := false
			for _, later := range s.nodes[j+1:] {
				if strings.EqualFold(later.Value, "run") {
					cmd := strings.Join(args(later), " ")
					if verifyCmd.MatchString(cmd) && strings.Contains(cmd, dest) {
						verified = true
					}
				}
			}
			if !verified {
				t.Errorf("stage %d: %s is never verified: add --checksum or check %s with sha256sum/sha512sum -c", i, n.Original, dest)
			}
		case "run":
			cmd := strings.Join(args(n), " ")
			if downloadCmd.MatchString(cmd) && !verifyCmd.MatchString(cmd) {
				t.Errorf("stage %d: RUN downloads without checking a checksum: %s", i, n.Original)
			}
		}
	}
}

func hasFlag(n *parser.Node, prefix string) bool {
	for _, f := range n.Flags {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// TestDockerfilePolicyCatchesViolations feeds the policy Dockerfiles that
// break it, so a policy that passes cannot be one that checks nothing.
func TestDockerfilePolicyCatchesViolations(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name, dockerfile string
	}{
		{"unpinned base", "FROM debian:12\nUSER 1000\n"},
		{"digest without tag", "FROM debian" + digest + "\nUSER 1000\n"},
		{"latest", "FROM debian:latest" + digest + "\nUSER 1000\n"},
		{"unpinned base through an ARG", "ARG BASE=debian:12\nFROM ${BASE}\nUSER 1000\n"},
		{"root user", "FROM debian:12" + digest + "\nUSER root\n"},
		{"uid 0", "FROM debian:12" + digest + "\nUSER 0:0\n"},
		{"no user", "FROM debian:12" + digest + "\n"},
		{"user only in the build stage", "FROM debian:12" + digest + " AS build\nUSER 1000\nFROM debian:12" + digest + "\n"},
		{"unverified ADD", "FROM debian:12" + digest + "\nADD https://example.org/x.tgz x.tgz\nUSER 1\n"},
		{"ADD verified for another file", "FROM debian:12" + digest + "\nADD https://example.org/x.tgz x.tgz\nRUN echo \"$S  y.tgz\" | sha256sum -c -\nUSER 1\n"},
		{"unverified curl", "FROM debian:12" + digest + "\nRUN curl -fsSLO https://example.org/x.tgz\nUSER 1\n"},
		{"placeholder checksum", "FROM debian:12" + digest + "\nARG FOO_SHA256=changeme\nUSER 1\n"},
		{"package manager in final stage", "FROM debian:12" + digest + "\nRUN apt-get install -y gcc\nUSER 1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "Dockerfile")
			if err := os.WriteFile(path, []byte(tc.dockerfile), 0o600); err != nil {
				t.Fatal(err)
			}
			if !violates(path) {
				t.Errorf("the policy accepted:\n%s", tc.dockerfile)
			}
		})
	}
	t.Run("a compliant file passes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "Dockerfile")
		ok := "FROM debian:12" + digest + " AS fetch\nARG X_SHA512=" + strings.Repeat("b", 128) +
			"\nADD https://example.org/x.tgz x.tgz\nRUN echo \"${X_SHA512}  x.tgz\" | sha512sum -c -\n" +
			"FROM debian:12" + digest + "\nCOPY --from=fetch x.tgz /x.tgz\nUSER 10001:10001\n"
		if err := os.WriteFile(path, []byte(ok), 0o600); err != nil {
			t.Fatal(err)
		}
		if violates(path) {
			t.Errorf("the policy rejected:\n%s", ok)
		}
	})
}

// violates runs the policy on one file and reports whether it complained.
func violates(path string) (failed bool) {
	r := &recorder{}
	defer func() {
		if p := recover(); p != nil && p != errFatal {
			panic(p)
		}
		failed = r.failed
	}()
	checkDockerfile(r, path)
	return r.failed
}

var errFatal = fmt.Errorf("fatal")

// policyT is what the policy needs from a test.
type policyT interface {
	Errorf(format string, args ...any)
	Error(args ...any)
	Fatalf(format string, args ...any)
	Helper()
}

// recorder is a policyT that records whether anything failed.
type recorder struct{ failed bool }

func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Error(...any)          { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic(errFatal) }
func (r *recorder) Helper()               {}

// ---- metrics queried by dashboards and rules ----

// passthroughLabels are the labels the sidecar adds to JMX series it
// re-exports; targetLabels are the ones Prometheus adds to every series.
var (
	passthroughLabels = []string{"ecs_cluster", "ecs_service", "ecs_task_id", "availability_zone"}
	targetLabels      = []string{"job", "instance"}
)

// sidecarContract lists the sidecar's own metrics and their labels as the
// contract defines them.
var sidecarContract = map[string][]string{
	"connect_sidecar_build_info":                           {"version", "goversion"},
	"connect_sidecar_reconcile_total":                      {"connector", "outcome"},
	"connect_sidecar_reconcile_duration_seconds":           {"le"},
	"connect_sidecar_connect_requests_total":               {"method", "code"},
	"connect_sidecar_connector_restarts_total":             {"connector"},
	"connect_sidecar_connector_config_error":               {"connector"},
	"connect_sidecar_unmanaged_connectors":                 nil,
	"connect_sidecar_is_leader":                            nil,
	"connect_sidecar_s3_fetches_total":                     {"outcome"},
	"connect_sidecar_certificate_expiry_timestamp_seconds": {"store", "subject"},
	"connect_sidecar_jmx_up":                               nil,
	"connect_sidecar_jmx_scrape_duration_seconds":          nil,
	"connect_sidecar_cloudwatch_dropped_datums_total":      nil,
	"connect_sidecar_cloudwatch_put_requests_total":        {"outcome"},
	"connect_sidecar_connector_state":                      {"connector", "state"},
	"connect_sidecar_task_state":                           {"connector", "task", "worker", "state"},
	"connect_sidecar_task_failure":                         {"connector", "task", "worker", "exception"},
	"connect_sidecar_topic_lag_records":                    {"topic"},
	"connect_sidecar_partition_lag_records":                {"topic", "partition"},
	"connect_sidecar_group_verdict":                        {"group", "verdict"},
	"connect_sidecar_group_records_behind":                 {"group"},
	"connect_sidecar_group_records_skipped":                {"group"},
	"connect_sidecar_migration_ready":                      nil,
	"connect_sidecar_lag_measurement_timestamp_seconds":    nil,
	"connect_sidecar_lag_measurement_age_seconds":          nil,
	"connect_sidecar_lag_up":                               {"cluster"},
	"connect_sidecar_lag_items_in_error":                   {"item", "reason"},
	"connect_sidecar_lag_measurement_requests":             {"cluster"},
	"connect_sidecar_lag_interval_seconds":                 nil,
	"connect_sidecar_preflight_result":                     {"check"},
	"connect_sidecar_lag_measurement_duration_seconds":     {"phase", "le"},
	"connect_sidecar_lag_error":                            {"cluster", "reason"},
}

var metricName = regexp.MustCompile(`^connect_sidecar_[a-z0-9_]+$`)

// sidecarRegistered scans the sidecar's Go sources (tests aside) for the
// connect_sidecar_* metrics the code registers: string literals holding a
// whole name, and, in a file that builds names from the literal prefix
// "connect_sidecar_", the contract's names whose suffix is a literal there.
func sidecarRegistered(t *testing.T) map[string]bool {
	t.Helper()
	found := map[string]bool{}
	err := filepath.WalkDir("sidecar", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		var s scanner.Scanner
		s.Init(fset.AddFile(path, -1, len(src)), src, nil, 0)
		var literals []string
		prefixed := false
		for {
			_, tok, lit := s.Scan()
			if tok == token.EOF {
				break
			}
			if tok != token.STRING {
				continue
			}
			v, err := strconv.Unquote(lit)
			if err != nil {
				continue
			}
			switch {
			case v == "connect_sidecar_":
				prefixed = true
			case metricName.MatchString(v):
				found[v] = true
			default:
				literals = append(literals, v)
			}
		}
		if prefixed {
			for _, l := range literals {
				if _, ok := sidecarContract["connect_sidecar_"+l]; ok {
					found["connect_sidecar_"+l] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

type metricInfo struct {
	labels       map[string]bool
	anyLabel     bool // a sidecar metric the contract does not describe
	perPartition bool // has topic and partition: the sidecar drops partition by default
}

// universe is every metric Prometheus can hold, with its labels: the JMX
// fixture (as re-exported by the sidecar), the sidecar's own metrics, the
// recording rules and Prometheus' up.
func universe(t *testing.T, recording map[string][]string) map[string]metricInfo {
	t.Helper()
	u := map[string]metricInfo{}
	add := func(name string, labels []string, jmx bool) {
		m := metricInfo{labels: map[string]bool{}, perPartition: jmx && slices.Contains(labels, "topic") && slices.Contains(labels, "partition")}
		all := append(append([]string{}, labels...), targetLabels...)
		if jmx {
			all = append(all, passthroughLabels...)
		}
		for _, l := range all {
			m.labels[l] = true
		}
		u[name] = m
	}

	f, err := os.Open("connect-image/testdata/jmx-exposition.prom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("jmx-exposition.prom: %v", err)
	}
	for name, fam := range fams {
		labels := map[string]bool{}
		for _, m := range fam.GetMetric() {
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = true
			}
		}
		var ls []string
		for l := range labels {
			ls = append(ls, l)
		}
		names := []string{name}
		if fam.GetType().String() == "SUMMARY" || fam.GetType().String() == "HISTOGRAM" {
			names = []string{name + "_sum", name + "_count"}
			if fam.GetType().String() == "HISTOGRAM" {
				names = append(names, name+"_bucket")
				ls = append(ls, "le")
			}
		}
		for _, n := range names {
			add(n, ls, true)
		}
	}

	registered := sidecarRegistered(t)
	if len(registered) == 0 {
		t.Log("no connect_sidecar_* metric is registered in sidecar/ yet: checking against the contract's list alone")
	}
	for name, labels := range sidecarContract {
		if len(registered) > 0 && !registered[name] {
			continue
		}
		for _, n := range []string{name, name + "_bucket", name + "_sum", name + "_count"} {
			add(n, labels, false)
		}
	}
	for name := range registered {
		if _, ok := sidecarContract[name]; !ok {
			t.Logf("the sidecar registers %s, which the contract does not describe: its labels go unchecked", name)
			for _, n := range []string{name, name + "_bucket", name + "_sum", name + "_count"} {
				u[n] = metricInfo{anyLabel: true}
			}
		}
	}
	for name, labels := range recording {
		add(name, labels, false)
	}
	add("up", nil, false)
	return u
}

type query struct {
	where, expr string
}

// ruleQueries reads every alert and recording rule, and what each recording
// rule keeps as labels (its by() clause).
func ruleQueries(t *testing.T) ([]query, map[string][]string) {
	t.Helper()
	type ruleFile struct {
		Groups []struct {
			Rules []struct {
				Record string `yaml:"record"`
				Alert  string `yaml:"alert"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	files, _ := filepath.Glob("prometheus-image/rules/*.yml")
	if len(files) == 0 {
		t.Fatal("no rule files")
	}
	var qs []query
	recording := map[string][]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(raw, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				qs = append(qs, query{where: f + ": " + r.Record + r.Alert, expr: r.Expr})
				if r.Record == "" {
					continue
				}
				var kept []string
				if e, err := promparser.ParseExpr(r.Expr); err == nil {
					if agg, ok := e.(*promparser.AggregateExpr); ok && !agg.Without {
						kept = agg.Grouping
					}
				}
				recording[r.Record] = kept
			}
		}
	}
	return qs, recording
}

var (
	grafanaVar   = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	labelValues  = regexp.MustCompile(`^label_values\((.+),\s*([a-z_]+)\)$`)
	grafanaRange = map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}
)

// grafanaExpr turns a panel query into PromQL: range variables become
// durations, template variables (used in =~ matchers) match everything.
func grafanaExpr(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		name := grafanaVar.FindStringSubmatch(m)[1]
		if d, ok := grafanaRange[name]; ok {
			return d
		}
		return ".*"
	})
}

func dashboardQueries(t *testing.T) []query {
	t.Helper()
	files, _ := filepath.Glob("grafana/dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no dashboards")
	}
	var qs []query
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
			Templating struct {
				List []struct {
					Name  string `json:"name"`
					Query struct {
						Query string `json:"query"`
					} `json:"query"`
				} `json:"list"`
			} `json:"templating"`
		}
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				qs = append(qs, query{where: f + ": panel " + strconv.Quote(p.Title), expr: grafanaExpr(tg.Expr)})
			}
		}
		for _, v := range d.Templating.List {
			m := labelValues.FindStringSubmatch(v.Query.Query)
			if m == nil {
				t.Errorf("%s: variable %s: query %q is not label_values(selector, label)", f, v.Name, v.Query.Query)
				continue
			}
			qs = append(qs, query{where: f + ": variable " + v.Name, expr: m[1]})
		}
	}
	return qs
}

// selectorOf returns the one vector selector an aggregation reads, looking
// through functions, matrix selectors and parentheses; nil when there are
// several or none.
func selectorOf(e promparser.Expr) *promparser.VectorSelector {
	var found []*promparser.VectorSelector
	promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
		switch n := n.(type) {
		case *promparser.VectorSelector:
			found = append(found, n)
		case *promparser.BinaryExpr:
			if n.LHS.Type() != promparser.ValueTypeScalar && n.RHS.Type() != promparser.ValueTypeScalar {
				found = append(found, nil, nil)
			}
		case *promparser.AggregateExpr:
			if n != e {
				found = append(found, nil, nil)
			}
		}
		return nil
	})
	if len(found) != 1 {
		return nil
	}
	return found[0]
}

// TestQueriedMetricsExist parses every PromQL expression of the alert and
// recording rules and the dashboards, and checks each metric it reads exists
// with the labels it filters or groups on.
func TestQueriedMetricsExist(t *testing.T) {
	rules, recording := ruleQueries(t)
	qs := append(rules, dashboardQueries(t)...)
	u := universe(t, recording)
	used := map[string]bool{}
	for _, q := range qs {
		e, err := promparser.ParseExpr(q.expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
			continue
		}
		promparser.Inspect(e, func(n promparser.Node, _ []promparser.Node) error {
			switch n := n.(type) {
			case *promparser.VectorSelector:
				m, ok := u[n.Name]
				if !ok {
					t.Errorf("%s: %s is produced by neither the JMX exporter rules nor the sidecar nor a recording rule", q.where, n.Name)
					return nil
				}
				used[n.Name] = true
				for _, lm := range n.LabelMatchers {
					if lm.Name != model.MetricNameLabel && !m.labels[lm.Name] && !m.anyLabel {
						t.Errorf("%s: %s has no label %q", q.where, n.Name, lm.Name)
					}
					if lm.Name == "partition" && m.perPartition {
						t.Errorf("%s: %s filters on partition, which the sidecar drops by default (SIDECAR_METRICS_PARTITION_DETAIL=topic)", q.where, n.Name)
					}
				}
			case *promparser.AggregateExpr:
				vs := selectorOf(n.Expr)
				if vs == nil || n.Without {
					return nil
				}
				m, ok := u[vs.Name]
				if !ok {
					return nil
				}
				for _, l := range n.Grouping {
					if (!m.labels[l] && !m.anyLabel) || (l == "partition" && m.perPartition) {
						t.Errorf("%s: groups %s by %q, a label it does not have by default", q.where, vs.Name, l)
					}
				}
			}
			return nil
		})
	}
	if len(used) == 0 {
		t.Fatal("no metric queried at all")
	}
}

// TestPromtoolParsesQueries hands every expression to promtool as well, so
// the server version the image runs agrees with the parser above.
func TestPromtoolParsesQueries(t *testing.T) {
	promtool := externaltool.Path(t, "promtool")
	rules, _ := ruleQueries(t)
	qs := append(rules, dashboardQueries(t)...)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rs []rule
	for i, q := range qs {
		rs = append(rs, rule{Record: fmt.Sprintf("check:query_%d", i), Expr: q.expr})
	}
	doc := map[string]any{"groups": []any{map[string]any{"name": "queries", "rules": rs}}}
	raw, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		for i, q := range qs {
			if strings.Contains(string(out), fmt.Sprintf("query_%d\"", i)) {
				t.Errorf("%s: %q", q.where, q.expr)
			}
		}
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(qs)); !strings.Contains(string(out), want) {
		t.Errorf("promtool: %s", out)
	}
}
