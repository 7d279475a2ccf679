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

// TestDocumentedMetricsAreExported: the metric tables of README.md and docs/monitoring.md
// list every token_operator_* and devinapi_* metric the operator exports, and nothing else.
func TestDocumentedMetricsAreExported(t *testing.T) {
	m := operatorMetrics(t)
	var ours []string
	for _, name := range m.names() {
		if strings.HasPrefix(name, "token_operator_") || strings.HasPrefix(name, "devinapi_") {
			ours = append(ours, name)
		}
	}
	for _, doc := range []string{"README.md", "docs/monitoring.md"} {
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

// TestReadmeAlertsAreValid: the alert rules the README shows load as Prometheus loads a rule
// file, and query only what the operator exports, with the labels they match on.
func TestReadmeAlertsAreValid(t *testing.T) {
	m := operatorMetrics(t)
	checked := 0
	for _, block := range yamlBlock.FindAllStringSubmatch(readDoc(t, "README.md"), -1) {
		if !strings.HasPrefix(strings.TrimSpace(block[1]), "- alert:") {
			continue
		}
		indented := "    " + strings.ReplaceAll(strings.TrimRight(block[1], "\n"), "\n", "\n    ")
		file := "groups:\n- name: readme\n  rules:\n" + indented + "\n"
		groups, errs := rulefmt.Parse([]byte(file), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
		for _, err := range errs {
			t.Errorf("README alerts: %v", err)
		}
		if groups == nil {
			continue
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				checked++
				for _, p := range m.check(r.Expr, nil, t.Logf) {
					t.Errorf("README alert %s: %s", r.Alert, p)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("the README shows no alert rules")
	}
}
