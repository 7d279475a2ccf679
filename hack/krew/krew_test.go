package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestPackIsReproducible: the same executable and time stamp give the same bytes, and the
// archive holds just the executable, owned by root, executable, stamped.
func TestPackIsReproducible(t *testing.T) {
	stamp := time.Unix(1700000000, 0).UTC()
	a, err := pack("kubectl-devin", []byte("#!/bin/true\n"), stamp)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pack("kubectl-devin", []byte("#!/bin/true\n"), stamp)
	if !bytes.Equal(a, b) {
		t.Fatal("two packs of the same input differ")
	}
	hdrs, data := unpack(t, a)
	if len(hdrs) != 1 || hdrs[0].Name != "kubectl-devin" || hdrs[0].Mode != 0o755 || !hdrs[0].ModTime.Equal(stamp) ||
		hdrs[0].Uid != 0 || hdrs[0].Gid != 0 || data["kubectl-devin"] != "#!/bin/true\n" {
		t.Errorf("archive holds %+v", hdrs)
	}
}

func unpack(t *testing.T, b []byte) ([]*tar.Header, map[string]string) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || !zr.ModTime.IsZero() {
		t.Errorf("the gzip header names %q at %v: it would differ between builds", zr.Name, zr.ModTime)
	}
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	data := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hdrs, data
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
		d, _ := io.ReadAll(tr)
		data[h.Name] = string(d)
	}
}

// checkManifest checks what krew requires of a manifest (name, semantic version, per
// platform a selector, an https URI, a SHA-256 and a bin among the files).
func checkManifest(t *testing.T, b []byte) krewPlugin {
	t.Helper()
	var p krewPlugin
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		t.Fatalf("manifest: %v\n%s", err, b)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "devin" ||
		!semver.MatchString(p.Spec.Version) || p.Spec.ShortDescription == "" || !strings.HasPrefix(p.Spec.Homepage, "https://") {
		t.Errorf("manifest header: %+v", p)
	}
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, pl := range p.Spec.Platforms {
		m := pl.Selector.MatchLabels
		if m["os"] == "" || m["arch"] == "" || !strings.HasPrefix(pl.URI, "https://") || !hex64.MatchString(pl.SHA256) ||
			len(pl.Files) != 1 || pl.Files[0].From != pl.Bin || pl.Files[0].To != "." {
			t.Errorf("platform %+v", pl)
		}
	}
	return p
}

func TestManifest(t *testing.T) {
	archives := []archive{
		{platform: platform{"linux", "amd64"}, name: "kubectl-devin_v1.2.3_linux_amd64.tar.gz", sha256: strings.Repeat("a", 64)},
		{platform: platform{"windows", "amd64"}, name: "kubectl-devin_v1.2.3_windows_amd64.tar.gz", sha256: strings.Repeat("b", 64)},
	}
	b, err := manifest("v1.2.3", downloadURL, archives)
	if err != nil {
		t.Fatal(err)
	}
	p := checkManifest(t, b)
	if p.Spec.Version != "v1.2.3" || len(p.Spec.Platforms) != 2 {
		t.Fatalf("manifest: %s", b)
	}
	win := p.Spec.Platforms[1]
	if win.Bin != "kubectl-devin.exe" || win.SHA256 != strings.Repeat("b", 64) ||
		win.URI != "https://github.com/cogtokens/token-operator/releases/download/v1.2.3/kubectl-devin_v1.2.3_windows_amd64.tar.gz" {
		t.Errorf("windows: %+v", win)
	}
	for version, want := range map[string]string{"v1.2.3": "v1.2.3", "v1.2.3-rc.1": "v1.2.3-rc.1",
		"afe6afc-dirty": "v0.0.0-afe6afc-dirty", "v1.2.3-4-gabc_x": "v0.0.0-v1.2.3-4-gabc-x"} {
		if got := krewVersion(version); got != want || !semver.MatchString(got) {
			t.Errorf("krewVersion(%q) = %q, want %q", version, got, want)
		}
	}
	if _, err := manifest("v1.2.3", downloadURL, nil); err == nil {
		t.Error("a manifest without archives")
	}
}

// TestRunBuildsThePlatform builds the plugin for this machine's platform, twice: the archive
// holds a working executable, the manifest names it by the SHA-256 of the archive, and the
// second build gives the same bytes.
func TestRunBuildsThePlatform(t *testing.T) {
	if err := os.Chdir("../.."); err != nil { // the build runs from the repository's root
		t.Fatal(err)
	}
	plat := runtime.GOOS + "/" + runtime.GOARCH
	var sums []string
	for range 2 {
		out := t.TempDir()
		if err := run(context.Background(), []string{"-version", "v9.8.7", "-source-date-epoch", "1700000000", "-platforms", plat, "-out", out}); err != nil {
			t.Fatal(err)
		}
		name := "kubectl-devin_v9.8.7_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		sums = append(sums, hex.EncodeToString(sum[:]))
		m, err := os.ReadFile(filepath.Join(out, "devin.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		p := checkManifest(t, m)
		if len(p.Spec.Platforms) != 1 || p.Spec.Platforms[0].SHA256 != sums[len(sums)-1] || !strings.HasSuffix(p.Spec.Platforms[0].URI, "/v9.8.7/"+name) {
			t.Errorf("the manifest does not name the archive: %s", m)
		}
		hdrs, data := unpack(t, b)
		if len(hdrs) != 1 || !strings.HasPrefix(hdrs[0].Name, "kubectl-devin") {
			t.Fatalf("archive holds %+v", hdrs)
		}
		exe := filepath.Join(t.TempDir(), hdrs[0].Name)
		if err := os.WriteFile(exe, []byte(data[hdrs[0].Name]), 0o755); err != nil {
			t.Fatal(err)
		}
		if help, err := exec.Command(exe, "--help").CombinedOutput(); err != nil || !strings.Contains(string(help), "kubectl devin") {
			t.Errorf("%s --help: %v\n%s", hdrs[0].Name, err, help)
		}
	}
	if sums[0] != sums[1] {
		t.Errorf("two builds of the same tree differ: %v", sums)
	}
}
