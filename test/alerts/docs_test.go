package alerts

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

var (
	yamlBlock   = regexp.MustCompile("(?s)```yaml\\n(.*?)```")
	metricInRow = regexp.MustCompile("(?m)^\\| `((?:token_operator|devinapi)_[a-z_]+)` \\|")
)

func readDoc(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDocumentedMetricsAreExported: the metrics table of docs/metrics.md lists every
// token_operator_* and devinapi_* metric the operator exports, and nothing else.
func TestDocumentedMetricsAreExported(t *testing.T) {
	m := operatorMetrics(t)
	var ours []string
	for _, name := range m.names() {
		if strings.HasPrefix(name, "token_operator_") || strings.HasPrefix(name, "devinapi_") {
			ours = append(ours, name)
		}
	}
	for _, doc := range []string{"docs/metrics.md"} {
		var listed []string
		for _, row := range metricInRow.FindAllStringSubmatch(readDoc(t, doc), -1) {
			listed = append(listed, row[1])
		}
		for _, name := range ours {
			if !slices.Contains(listed, name) {
				t.Errorf("%s: the metrics table misses %s", doc, name)
			}
		}
		for _, name := range listed {
			if _, ok := m[name]; !ok {
				t.Errorf("%s lists %s, which the operator does not export", doc, name)
			}
		}
	}
}

// TestDocAlertsAreValid: the alert rules docs/metrics.md shows load as Prometheus loads a
// rule file, and query only what the operator exports, with the labels they match on.
func TestDocAlertsAreValid(t *testing.T) {
	m := operatorMetrics(t)
	checked := 0
	for _, block := range yamlBlock.FindAllStringSubmatch(readDoc(t, "docs/metrics.md"), -1) {
		if !strings.HasPrefix(strings.TrimSpace(block[1]), "- alert:") {
			continue
		}
		indented := "    " + strings.ReplaceAll(strings.TrimRight(block[1], "\n"), "\n", "\n    ")
		file := "groups:\n- name: docs\n  rules:\n" + indented + "\n"
		groups, errs := rulefmt.Parse([]byte(file), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
		for _, err := range errs {
			t.Errorf("docs/metrics.md alerts: %v", err)
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				checked++
				for _, p := range m.check(r.Expr, nil, t.Logf) {
					t.Errorf("docs/metrics.md alert %s: %s", r.Alert, p)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("docs/metrics.md shows no alert rules")
	}
}
