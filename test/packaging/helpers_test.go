package packaging_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	// bundleNamespace is the namespace of config/default.
	bundleNamespace = "token-operator-system"
	// helmNamespace is the release namespace the chart is rendered for; it differs from the
	// bundle's so that the tests notice a hard-coded namespace.
	helmNamespace = "token-operator-helm"
	// helmRelease is the release name; named like the chart, it gives the bundle's names.
	helmRelease = "token-operator"
	// credentialsSecret is the default name of the admin credentials Secret.
	credentialsSecret = "token-operator-credentials"
)

// repoRoot is the repository root, found from this file's location.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var toolMu sync.Mutex

// tool returns the path of a tool in ./bin, installing it with `make <name>` when missing
// (a clean clone: `make test` installs kustomize and helm before the tests run).
func tool(t testing.TB, name string) string {
	t.Helper()
	toolMu.Lock()
	defer toolMu.Unlock()
	root := repoRoot(t)
	path := filepath.Join(root, "bin", name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	t.Logf("%s is missing: running make %s", path, name)
	if _, err := run(t, 20*time.Minute, root, nil, "make", name); err != nil {
		t.Fatalf("install %s: %v", name, err)
	}
	return path
}

// run runs a command and returns its stdout; the error carries stderr.
func run(t testing.TB, timeout time.Duration, dir string, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	stdout, stderr, err := runSplit(timeout, dir, stdin, name, args...)
	if err != nil {
		return stdout, fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr)
	}
	return stdout, nil
}

// runSplit runs a command and returns stdout and stderr apart.
func runSplit(timeout time.Duration, dir string, stdin []byte, name string, args ...string) ([]byte, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.Bytes(), err
}

// renders caches the output of kustomize and helm: several tests check the same manifests.
var (
	rendersMu sync.Mutex
	renders   = map[string][]byte{}
)

func cached(t testing.TB, key string, render func() ([]byte, error)) []byte {
	t.Helper()
	rendersMu.Lock()
	defer rendersMu.Unlock()
	if out, ok := renders[key]; ok {
		return out
	}
	out, err := render()
	if err != nil {
		t.Fatal(err)
	}
	renders[key] = out
	return out
}

// kustomizeBuild renders a kustomization under config/.
func kustomizeBuild(t testing.TB, dir string) []byte {
	t.Helper()
	kustomize := tool(t, "kustomize")
	root := repoRoot(t)
	return cached(t, "kustomize "+dir, func() ([]byte, error) {
		return run(t, 2*time.Minute, root, nil, kustomize, "build", filepath.Join("config", dir))
	})
}

// installBundle is what `make build-installer` writes to dist/install.yaml with the default
// image: kustomize build config/default.
func installBundle(t testing.TB) []byte {
	t.Helper()
	return kustomizeBuild(t, "default")
}

// chartVariant is one set of chart values the tests render.
type chartVariant struct {
	name string
	set  []string
}

// chartVariants: the defaults (the operator makes its own webhook certificates), cert-manager
// with the ServiceMonitor, and the NetworkPolicy.
var chartVariants = []chartVariant{
	{name: "operator-certs"},
	{name: "cert-manager", set: []string{"webhook.certManager.enabled=true", "metrics.serviceMonitor.enabled=true"}},
	{name: "network-policy", set: []string{"networkPolicy.enabled=true", "networkPolicy.apiServer.cidrs={10.0.0.10/32,10.0.0.11/32}"}},
}

// helmTemplate renders the chart for helmNamespace, once per variant.
func helmTemplate(t testing.TB, v chartVariant) []byte {
	t.Helper()
	return cached(t, "helm "+v.name, func() ([]byte, error) { return renderChart(t, v.set...) })
}

// renderChart renders the chart for helmNamespace with --set values, as Argo CD does (helm
// template, no cluster). --include-crds is harmless: the CRDs are templates.
func renderChart(t testing.TB, set ...string) ([]byte, error) {
	t.Helper()
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return renderChartArgs(t, args...)
}

// renderChartValues renders the chart with a values file holding values (marshalled as
// YAML), for values that --set cannot carry (commas, '=', braces).
func renderChartValues(t testing.TB, values map[string]any) ([]byte, error) {
	t.Helper()
	data, err := yaml.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return renderChartArgs(t, "--values", path)
}

// renderChartArgs renders the chart for helmNamespace with more arguments of helm template.
func renderChartArgs(t testing.TB, extra ...string) ([]byte, error) {
	t.Helper()
	helm := tool(t, "helm")
	args := []string{"template", helmRelease, filepath.Join("dist", "chart"), "--namespace", helmNamespace, "--include-crds"}
	return run(t, 2*time.Minute, repoRoot(t), nil, helm, append(args, extra...)...)
}

// decode splits a multi-document YAML stream into objects, skipping empty documents.
func decode(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufioReader(data))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs
		}
		if err != nil {
			t.Fatalf("read YAML: %v", err)
		}
		m := map[string]any{}
		if err := yaml.Unmarshal(doc, &m); err != nil {
			t.Fatalf("parse YAML: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

// find returns the objects of a kind; name, when not empty, is matched as a suffix so that
// the bundle's and the chart's name prefixes both match.
func find(objs []*unstructured.Unstructured, kind, nameSuffix string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind && strings.HasSuffix(o.GetName(), nameSuffix) {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object of a kind and name suffix, or fails.
func one(t testing.TB, objs []*unstructured.Unstructured, kind, nameSuffix string) *unstructured.Unstructured {
	t.Helper()
	found := find(objs, kind, nameSuffix)
	if len(found) != 1 {
		t.Fatalf("want exactly one %s named *%s, found %d", kind, nameSuffix, len(found))
	}
	return found[0]
}

// named returns the one object of a kind with exactly that name (one matches a suffix:
// devinaccounts.iam.devin.ai ends clusterdevinaccounts.iam.devin.ai too).
func named(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range find(objs, kind, name) {
		if o.GetName() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s named %s, found %d", kind, name, len(found))
	}
	return found[0]
}

// readFile reads a file of the repository.
func readFile(t testing.TB, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatalf("%v (a generated file: run `make manifests helm-sync`)", err)
	}
	return data
}

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }
