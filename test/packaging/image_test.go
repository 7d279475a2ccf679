package packaging_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	testDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testRepo   = "ghcr.io/example/token-operator"
)

// managerImage is the image of the manager container of the Deployment in a rendering.
func managerImage(t *testing.T, manifests []byte) string {
	t.Helper()
	dep := one(t, decode(t, manifests), "Deployment", "controller-manager")
	containers := nested[[]any](t, dep.Object, "spec", "template", "spec", "containers")
	return containers[0].(map[string]any)["image"].(string)
}

// TestChartImageDigest: image.digest pulls by digest (and wins over the tag); without it the
// tag, by default the chart's appVersion; the schema refuses a digest that is not one.
func TestChartImageDigest(t *testing.T) {
	out, err := renderChart(t, "image.repository="+testRepo, "image.tag=v9.9.9", "image.digest="+testDigest)
	if err != nil {
		t.Fatal(err)
	}
	if got := managerImage(t, out); got != testRepo+"@"+testDigest {
		t.Errorf("with image.digest the image is %q, want %s@%s", got, testRepo, testDigest)
	}
	out, err = renderChart(t, "image.repository="+testRepo, "image.tag=v9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	if got := managerImage(t, out); got != testRepo+":v9.9.9" {
		t.Errorf("without image.digest the image is %q, want %s:v9.9.9", got, testRepo)
	}
	for _, bad := range []string{"0123abcd", "sha256:XYZ", "sha512:" + strings.Repeat("a", 64)} {
		if _, err := renderChart(t, "image.digest="+bad); err == nil || !strings.Contains(err.Error(), "digest") {
			t.Errorf("image.digest=%s was accepted (%v)", bad, err)
		}
	}
}

// TestReleaseChart: what make release-chart does to a copy of the chart (hack/image chart)
// gives a chart that pulls the released image by digest, with the release as its appVersion.
func TestReleaseChart(t *testing.T) {
	root := repoRoot(t)
	chart := filepath.Join(t.TempDir(), "chart")
	if _, err := run(t, time.Minute, root, nil, "cp", "-r", filepath.Join("dist", "chart"), chart); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, 5*time.Minute, root, nil, "go", "run", "./hack/image", "chart",
		"-repository", testRepo, "-tag", "v9.9.9", "-digest", testDigest, "-version", "9.9.9", chart); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, 2*time.Minute, root, nil, tool(t, "helm"), "template", helmRelease, chart, "--namespace", helmNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if got := managerImage(t, out); got != testRepo+"@"+testDigest {
		t.Errorf("the release chart runs %q, want %s@%s", got, testRepo, testDigest)
	}
	meta, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nversion: 9.9.9\n", "\nappVersion: \"v9.9.9\"\n"} {
		if !strings.Contains(string(meta), want) {
			t.Errorf("Chart.yaml lacks %q:\n%s", strings.TrimSpace(want), meta)
		}
	}
	// The values' comments stay: helm show values is the chart's documentation.
	values, err := os.ReadFile(filepath.Join(chart, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(values), "# -- Image digest") {
		t.Error("hack/image chart lost the comments of values.yaml")
	}
}

// TestInstallerByDigest: make build-installer with an image by digest writes a bundle that
// pulls by digest, and leaves the tracked kustomization as it was.
func TestInstallerByDigest(t *testing.T) {
	root := repoRoot(t)
	kustomization := filepath.Join("config", "manager", "kustomization.yaml")
	before := readFile(t, kustomization)
	out := filepath.Join(t.TempDir(), "install.yaml")
	img := testRepo + ":v9.9.9@" + testDigest
	// -o: the generated files are make test's to refresh, not this test's (other packages
	// read them meanwhile).
	if _, err := run(t, 5*time.Minute, root, nil, "make", "--no-print-directory", "-o", "manifests", "-o", "generate", "build-installer",
		"IMG="+img, "INSTALLER="+out, "KUSTOMIZE="+tool(t, "kustomize")); err != nil {
		t.Fatal(err)
	}
	bundle, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := managerImage(t, bundle); got != img {
		t.Errorf("the bundle runs %q, want %s", got, img)
	}
	if after := readFile(t, kustomization); string(after) != string(before) {
		t.Errorf("make build-installer changed %s", kustomization)
	}
}
