package alerts

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/cogtokens/token-operator/test/docs"
)

// ruleGroups parses the chart's rules as Prometheus does when it loads a rule file: strict
// YAML, every expression and annotation template parsed, durations and names validated.
func ruleGroups(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.ParseFile(ruleFile(t), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return groups
}

func TestRulesAreValid(t *testing.T) {
	names := map[string]bool{}
	for _, g := range ruleGroups(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s has a recording rule %s: the chart ships alerts only", g.Name, r.Record)
				continue
			}
			if names[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			names[r.Alert] = true
			switch r.Labels["severity"] {
			case "warning", "critical":
			default:
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s has no %s annotation", r.Alert, a)
				}
			}
		}
	}
	for a := range alertTests {
		if !names[a] {
			t.Errorf("alertTests tests %s, which the chart does not define", a)
		}
	}
	for a := range names {
		if _, ok := alertTests[a]; !ok {
			t.Errorf("alert %s has no unit test in alertTests", a)
		}
	}
}

// TestRuleMetricsAreExported: every metric an alert queries is exported by the operator,
// with the labels the alert matches on.
func TestRuleMetricsAreExported(t *testing.T) {
	m := operatorMetrics(t)
	for _, g := range ruleGroups(t).Groups {
		for _, r := range g.Rules {
			for _, p := range m.check(r.Expr, pendingMetrics, t.Logf) {
				t.Errorf("%s: %s", r.Alert, p)
			}
		}
	}
}

// TestRunbooksPointToTheirRunbook: each runbook_url is the troubleshooting page (or the
// configured base) with the anchor of the alert's own runbook, a heading of that page.
func TestRunbooksPointToTheirRunbook(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := docs.Anchors(string(page))
	for _, base := range []string{"", "https://wiki.example.com/token-operator"} {
		want := base
		var set []string
		if base == "" {
			want = "https://github.com/cogtokens/token-operator/blob/main/docs/troubleshooting.md"
		} else {
			set = append(set, "metrics.prometheusRule.runbookBaseURL="+base)
		}
		for _, g := range renderRule(t, set...).Spec.Groups {
			for _, r := range g.(map[string]any)["rules"].([]any) {
				rule := r.(map[string]any)
				url, _ := rule["annotations"].(map[string]any)["runbook_url"].(string)
				anchor, ok := strings.CutPrefix(url, want+"#")
				if !ok || !anchors[anchor] || anchor != docs.Anchor(rule["alert"].(string)) {
					t.Errorf("%s: runbook_url %q is not %s#<its runbook, a heading of docs/troubleshooting.md>", rule["alert"], url, want)
				}
			}
		}
	}
}

func TestRuleLabelsAreConfigurable(t *testing.T) {
	pr := renderRule(t, "metrics.prometheusRule.labels.release=kube-prometheus-stack")
	if got := pr.Metadata.Labels["release"]; got != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule label release = %q, want kube-prometheus-stack", got)
	}
	out := helm(t, "template", chartName, filepath.Join("dist", "chart"), "--set", "metrics.prometheusRule.enabled=false")
	if strings.Contains(string(out), "kind: PrometheusRule") {
		t.Error("the chart renders a PrometheusRule although metrics.prometheusRule.enabled is false")
	}
}
