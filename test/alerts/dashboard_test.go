package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// dashboard is the part of a Grafana dashboard the tests read.
type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Panels  []panel  `json:"panels"` // a collapsed row's panels
	Targets []target `json:"targets"`
}

type target struct {
	Expr string `json:"expr"`
}

// grafanaVariables are replaced by a value of their kind before a query is parsed, as Grafana
// does before it sends the query.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m", "${__rate_interval}", "5m",
	"$__interval", "1m", "${__interval}", "1m",
	"$__range", "1h", "${__range}", "1h",
)

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "dist", "chart", "files", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	return d
}

// queries returns every query of the dashboard, by panel title.
func (d dashboard) queries() map[string][]string {
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// TestDashboardQueries: the dashboard parses, each of its queries parses as PromQL and uses
// only metrics the operator exports, with their labels.
func TestDashboardQueries(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("the dashboard has no uid or title")
	}
	m := operatorMetrics(t)
	queries := d.queries()
	if len(queries) < 10 {
		t.Fatalf("the dashboard has queries in only %d panels", len(queries))
	}
	used := map[string]bool{}
	for title, exprs := range queries {
		for _, e := range exprs {
			expr := grafanaVariables.Replace(e)
			if strings.Contains(expr, "$") {
				t.Errorf("panel %q: %q uses a variable the test does not know", title, e)
				continue
			}
			for _, p := range m.check(expr, pendingMetrics, t.Logf) {
				t.Errorf("panel %q: %s", title, p)
			}
			sels, _ := selectors(expr)
			for _, s := range sels {
				used[s.metric] = true
			}
		}
	}
	// The panels the issue asks for.
	for _, name := range []string{
		"token_operator_resource_condition", "token_operator_token_expiry_timestamp_seconds",
		"token_operator_tokens_rotated_total", "token_operator_tokens_revoked_total",
		"devinapi_requests_total", "devinapi_request_duration_seconds_bucket",
		"token_operator_pending_revocation_due_timestamp_seconds", "token_operator_credential_expiry_timestamp_seconds",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

// TestDashboardConfigMap: the chart ships the dashboard file unchanged in a ConfigMap that
// Grafana's sidecar picks up, only when asked to.
func TestDashboardConfigMap(t *testing.T) {
	out := helm(t, "template", chartName, filepath.Join("dist", "chart"), "--show-only", "templates/grafana-dashboard.yaml",
		"--set", "metrics.grafanaDashboard.enabled=true", "--set", "metrics.grafanaDashboard.labels.team=platform")
	var cm struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(out, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Metadata.Labels["grafana_dashboard"] != "1" || cm.Metadata.Labels["team"] != "platform" {
		t.Errorf("ConfigMap labels %v, want grafana_dashboard: \"1\" and team: platform", cm.Metadata.Labels)
	}
	want, err := os.ReadFile(filepath.Join(repoRoot(t), "dist", "chart", "files", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cm.Data["token-operator.json"]; got != strings.TrimRight(string(want), "\n") {
		t.Errorf("the ConfigMap's token-operator.json differs from files/grafana-dashboard.json")
	}
	all := helm(t, "template", chartName, filepath.Join("dist", "chart"))
	if strings.Contains(string(all), "grafana_dashboard") {
		t.Error("the chart renders the dashboard ConfigMap although metrics.grafanaDashboard.enabled is false")
	}
}
