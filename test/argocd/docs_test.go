package argocd

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestDocsExamples: the YAML examples of docs/gitops.md parse, and the page names every
// argocd-cm key the snippet has.
func TestDocsExamples(t *testing.T) {
	doc := string(readFile(t, filepath.Join(root, "docs", "gitops.md")))
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) < 4 {
		t.Fatalf("docs/gitops.md has %d yaml examples", len(blocks))
	}
	for _, b := range blocks {
		var v any
		if err := yaml.Unmarshal([]byte(b[1]), &v); err != nil {
			t.Errorf("docs/gitops.md example does not parse: %v\n%s", err, b[1])
		}
	}
	for _, kind := range healthKinds() {
		keys := []string{healthKey(kind)}
		if hasActions(kind) {
			keys = append(keys, actionsKey(kind))
		}
		for _, key := range keys {
			if !strings.Contains(doc, key) {
				t.Errorf("docs/gitops.md does not mention %s", key)
			}
		}
	}
}
