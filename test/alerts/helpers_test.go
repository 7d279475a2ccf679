package alerts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// chartName is the release the chart is rendered as.
const chartName = "token-operator"

// repoRoot is the repository root, found from this file's location.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var helmMu sync.Mutex

// helm runs ./bin/helm, installing it with `make helm` when missing (a clean clone: `make
// test` installs it before the tests run).
func helm(t testing.TB, args ...string) []byte {
	t.Helper()
	helmMu.Lock()
	defer helmMu.Unlock()
	root := repoRoot(t)
	bin := filepath.Join(root, "bin", "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Logf("%s is missing: running make helm", bin)
		if out, err := command(root, "make", "helm"); err != nil {
			t.Fatalf("install helm: %v\n%s", err, out)
		}
	}
	out, err := command(root, bin, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func command(dir, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stderr.Bytes(), err
	}
	return stdout.Bytes(), nil
}

// prometheusRule is the part of the rendered PrometheusRule the tests read.
type prometheusRule struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Groups []any `json:"groups"`
	} `json:"spec"`
}

// renderRule renders the chart's PrometheusRule with extra --set values.
func renderRule(t testing.TB, set ...string) prometheusRule {
	t.Helper()
	args := []string{"template", chartName, filepath.Join("dist", "chart"), "--namespace", "monitoring-test",
		"--show-only", "templates/prometheusrule.yaml", "--set", "metrics.prometheusRule.enabled=true"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	var pr prometheusRule
	if err := yaml.Unmarshal(helm(t, args...), &pr); err != nil {
		t.Fatalf("parse the rendered PrometheusRule: %v", err)
	}
	if pr.Kind != "PrometheusRule" || len(pr.Spec.Groups) == 0 {
		t.Fatalf("the chart rendered no PrometheusRule with groups: %+v", pr)
	}
	return pr
}

var (
	ruleFileOnce sync.Once
	ruleFileData []byte
)

// ruleFile writes the groups of the chart's PrometheusRule (default values) as a Prometheus
// rule file, which is what the Prometheus Operator hands to Prometheus, and returns its path.
func ruleFile(t testing.TB) string {
	t.Helper()
	ruleFileOnce.Do(func() {
		pr := renderRule(t)
		data, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
		if err != nil {
			t.Fatal(err)
		}
		ruleFileData = data
	})
	if ruleFileData == nil {
		t.Fatal("the rule file could not be rendered")
	}
	path := filepath.Join(t.TempDir(), "token-operator.rules.yaml")
	if err := os.WriteFile(path, ruleFileData, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// promql is the parser the tests use, with Prometheus' default options.
var promql = parser.NewParser(parser.Options{})

// selector is one vector selector of a query: the metric name and the labels it matches on.
type selector struct {
	metric string
	labels []string
}

// selectors parses a query and returns its vector selectors.
func selectors(expr string) ([]selector, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		s := selector{metric: vs.Name}
		for _, m := range vs.LabelMatchers {
			if m.Name == "__name__" {
				s.metric = m.Value
				continue
			}
			s.labels = append(s.labels, m.Name)
		}
		out = append(out, s)
		return nil
	})
	return out, nil
}

// exported maps each metric name the operator exports to its labels.
type exported map[string][]string

// descPattern reads the name and the variable labels out of prometheus.Desc.String(), the
// only place a Desc shows them.
var descPattern = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// recordingRegistry is a registry that remembers the name and labels of every metric
// registered on it.
type recordingRegistry struct {
	*prometheus.Registry
	mu      sync.Mutex
	metrics exported
}

func newRecordingRegistry() *recordingRegistry {
	return &recordingRegistry{Registry: prometheus.NewRegistry(), metrics: exported{}}
}

func (r *recordingRegistry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		m := descPattern.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				labels = append(labels, l)
			}
		}
		r.metrics[m[1]] = labels
	}
	return nil
}

func (r *recordingRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// check returns what is wrong with a query: a metric the operator does not export (a
// histogram's _bucket, _sum and _count are exported with it), or a label it does not have.
// Metrics in pending are allowed though not exported, and reported through logf.
func (e exported) check(expr string, pending map[string]string, logf func(string, ...any)) []string {
	sels, err := selectors(expr)
	if err != nil {
		return []string{fmt.Sprintf("%q does not parse: %v", expr, err)}
	}
	var problems []string
	for _, s := range sels {
		labels, ok := e.lookup(s.metric)
		if !ok {
			if why, ok := pending[s.metric]; ok {
				logf("%s is not exported yet (%s)", s.metric, why)
				continue
			}
			problems = append(problems, fmt.Sprintf("%q uses %s, which the operator does not export", expr, s.metric))
			continue
		}
		for _, l := range s.labels {
			if !slices.Contains(labels, l) {
				problems = append(problems, fmt.Sprintf("%q matches on %s{%s}, which has only the labels %v", expr, s.metric, l, labels))
			}
		}
	}
	return problems
}

func (e exported) lookup(name string) ([]string, bool) {
	if labels, ok := e[name]; ok {
		return labels, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if labels, ok := e[base]; ok {
				if suffix == "_bucket" {
					labels = append(append([]string(nil), labels...), "le")
				}
				return labels, true
			}
		}
	}
	return nil, false
}

func (e exported) names() []string {
	out := make([]string, 0, len(e))
	for n := range e {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
