package argocd

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false,
	"write config/argocd/argocd-cm-patch.yaml and dist/chart/files/argocd-cm.yaml from the scripts")

var (
	configMapPath = filepath.Join(root, "config", "argocd", "argocd-cm-patch.yaml")
	chartCopyPath = filepath.Join(root, "dist", "chart", "files", "argocd-cm.yaml")
)

const regenerate = "go test ./test/argocd -run TestConfigMap -update"

// resourceActions is the value of resource.customizations.actions.<group_kind> (Argo CD's
// ResourceActions).
type resourceActions struct {
	DiscoveryLua        string             `json:"discovery.lua"`
	Definitions         []actionDefinition `json:"definitions"`
	MergeBuiltinActions bool               `json:"mergeBuiltinActions,omitempty"`
}

type actionDefinition struct {
	Name      string `json:"name"`
	ActionLua string `json:"action.lua"`
}

// healthKey and actionsKey are the argocd-cm keys of a kind: resource.customizations.<type>.
// <group>_<kind>.
func healthKey(kind string) string  { return "resource.customizations.health." + group + "_" + kind }
func actionsKey(kind string) string { return "resource.customizations.actions." + group + "_" + kind }

// actionNames lists the actions of a kind: the directories of actions/ with an action.lua.
func actionNames(t *testing.T, kind string) []string {
	t.Helper()
	scripts, err := filepath.Glob(filepath.Join(kindDir(kind), "actions", "*", "action.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range scripts {
		names = append(names, filepath.Base(filepath.Dir(s)))
	}
	slices.Sort(names)
	return names
}

// indent prefixes every non-empty line with n spaces, for a YAML block scalar.
func indent(text string, n int) string {
	pad := strings.Repeat(" ", n)
	lines := strings.SplitAfter(text, "\n")
	var b strings.Builder
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
			b.WriteString(pad)
		}
		b.WriteString(l)
	}
	return b.String()
}

// renderConfigMap builds argocd-cm-patch.yaml from the scripts: the only source of truth is
// config/argocd/<group>/<Kind>/.
func renderConfigMap(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`# Generated from config/argocd/` + group + `/*/ by ` + "`" + regenerate + "`" + `; do not edit.
# Argo CD health checks of token-operator's ServiceUser, PersonalAccessToken, DevinAccount and
# ClusterDevinAccount, and the rotate action of the first two. Merge it into Argo CD's argocd-cm ConfigMap, for example with
#   kubectl -n argocd patch configmap argocd-cm --patch-file config/argocd/argocd-cm-patch.yaml
# or as a kustomize patch, or put the data keys under configs.cm of the Argo CD Helm chart.
# See docs/gitops.md.
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
  labels:
    app.kubernetes.io/name: argocd-cm
    app.kubernetes.io/part-of: argocd
data:
`)
	for _, kind := range healthKinds() {
		dir := kindDir(kind)
		b.WriteString("  " + healthKey(kind) + ": |\n")
		b.WriteString(indent(string(readFile(t, filepath.Join(dir, "health.lua"))), 4))
		if !hasActions(kind) {
			continue
		}
		var actions strings.Builder
		actions.WriteString("discovery.lua: |\n")
		actions.WriteString(indent(string(readFile(t, filepath.Join(dir, "actions", "discovery.lua"))), 2))
		actions.WriteString("definitions:\n")
		for _, name := range actionNames(t, kind) {
			actions.WriteString("- name: " + name + "\n  action.lua: |\n")
			actions.WriteString(indent(string(readFile(t, filepath.Join(dir, "actions", name, "action.lua"))), 4))
		}
		b.WriteString("  " + actionsKey(kind) + ": |\n")
		b.WriteString(indent(actions.String(), 4))
	}
	return b.Bytes()
}

// TestConfigMapIsGenerated: argocd-cm-patch.yaml is exactly what the scripts give.
func TestConfigMapIsGenerated(t *testing.T) {
	want := renderConfigMap(t)
	if *update {
		if err := os.WriteFile(configMapPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := readFile(t, configMapPath); !bytes.Equal(got, want) {
		t.Errorf("config/argocd/argocd-cm-patch.yaml is not in step with the scripts: run `%s`\n%s",
			regenerate, cmp.Diff(string(want), string(got)))
	}
}

// TestConfigMapHoldsTheScripts reads argocd-cm-patch.yaml as Argo CD's settings manager
// reads argocd-cm: each key resource.customizations.<type>.<group>_<kind> names the group
// and kind, health is the script, actions is a YAML document of discovery and definitions.
// Each must hold the files byte for byte.
func TestConfigMapHoldsTheScripts(t *testing.T) {
	var cm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]any    `json:"metadata"`
		Data       map[string]string `json:"data"`
	}
	readStrict(t, configMapPath, &cm)
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata["name"] != "argocd-cm" {
		t.Fatalf("not the argocd-cm ConfigMap: %s %s %v", cm.APIVersion, cm.Kind, cm.Metadata["name"])
	}
	var keys []string
	for key, value := range cm.Data {
		keys = append(keys, key)
		// util/settings: SplitN(key, ".", 4), then <group>_<kind> split on "_".
		parts := strings.SplitN(key, ".", 4)
		if len(parts) != 4 || parts[0]+"."+parts[1] != "resource.customizations" {
			t.Errorf("%s is not a resource customization key", key)
			continue
		}
		gk := strings.Split(parts[3], "_")
		if len(gk) != 2 || gk[0] != group || !slices.Contains(healthKinds(), gk[1]) {
			t.Errorf("%s: %q does not name %s/<Kind>", key, parts[3], group)
			continue
		}
		dir := kindDir(gk[1])
		switch parts[2] {
		case "health":
			if want := string(readFile(t, filepath.Join(dir, "health.lua"))); value != want {
				t.Errorf("%s differs from %s/health.lua", key, gk[1])
			}
		case "actions":
			var actions resourceActions
			if err := yaml.UnmarshalStrict([]byte(value), &actions); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			want := resourceActions{DiscoveryLua: string(readFile(t, filepath.Join(dir, "actions", "discovery.lua")))}
			for _, name := range actionNames(t, gk[1]) {
				want.Definitions = append(want.Definitions, actionDefinition{
					Name: name, ActionLua: string(readFile(t, filepath.Join(dir, "actions", name, "action.lua")))})
			}
			if diff := cmp.Diff(want, actions); diff != "" {
				t.Errorf("%s differs from %s/actions (-files +configmap):\n%s", key, gk[1], diff)
			}
		default:
			t.Errorf("%s: unexpected customization type %s", key, parts[2])
		}
	}
	var want []string
	for _, kind := range healthKinds() {
		want = append(want, healthKey(kind))
		if hasActions(kind) {
			want = append(want, actionsKey(kind))
		}
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("argocd-cm keys %v, want %v", keys, want)
	}
}

// TestConfigMapRunsInTheSandbox runs the scripts as the ConfigMap inlines them, so that what
// Argo CD would load is what the other tests check.
func TestConfigMapRunsInTheSandbox(t *testing.T) {
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(readFile(t, configMapPath), &cm); err != nil {
		t.Fatal(err)
	}
	for _, kind := range healthKinds() {
		obj := readObject(t, filepath.Join(kindDir(kind), "testdata", "ready.yaml"))
		if got := health(t, sandbox{now: argoCDClock}, cm.Data[healthKey(kind)], obj); got.Status != "Healthy" {
			t.Errorf("%s: the inlined health check says %+v for a ready object", kind, got)
		}
		if !hasActions(kind) {
			continue
		}
		var actions resourceActions
		if err := yaml.Unmarshal([]byte(cm.Data[actionsKey(kind)]), &actions); err != nil {
			t.Fatal(err)
		}
		if got := discover(t, actions.DiscoveryLua, obj); len(got) != 1 || got[0].Name != "rotate" || got[0].Disabled {
			t.Errorf("%s: the inlined discovery lists %+v", kind, got)
		}
		for _, d := range actions.Definitions {
			out := runAction(t, sandbox{now: argoCDClock}, d.ActionLua, obj)
			if v := annotations(out)[rotateAnnotation]; v != "2026-06-01T12:00:00Z" {
				t.Errorf("%s: the inlined %s sets %s to %v", kind, d.Name, rotateAnnotation, v)
			}
		}
	}
}

// TestConfigMapChartCopy: the chart ships the same snippet, byte for byte.
func TestConfigMapChartCopy(t *testing.T) {
	want := readFile(t, configMapPath)
	if *update {
		if err := os.WriteFile(chartCopyPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(readFile(t, chartCopyPath), want) {
		t.Errorf("dist/chart/files/argocd-cm.yaml differs from config/argocd/argocd-cm-patch.yaml: run `%s`", regenerate)
	}
}
