// Package image_test checks the manager image that `make image` builds with ko, for the
// host's architecture (the two-arch index and the reproducibility check are
// `make release-dry-run`'s): it is a valid image; its config (user, entrypoint, labels) and
// file system (the binary and the nonroot user's entries, no shell) are what the Dockerfile,
// the chart and the bundle expect; the binary's build info shows the CA roots linked and the
// release's flags; and that very binary, taken out of the layer, runs against a real API
// server (envtest) and the in-memory Devin API: ready, serving the webhook, reconciling.
//
// TestMain builds the image into a temporary directory (make image PLATFORMS=linux/<arch>),
// or uses the one in $TEST_IMAGE_DIR (an IMAGE_DIR of make image for this checkout, e.g.
// dist/image).
package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

const (
	// entrypoint is where ko puts the manager (/ko-app/<name of the main package>).
	entrypoint = "/ko-app/token-operator"
	// user is the image's user: nonroot, numeric so that the kubelet can check runAsNonRoot.
	user   = "65532:65532"
	module = "github.com/cogtokens/token-operator"
)

// built is the image under test and what was built into it.
var built struct {
	dir     string   // the IMAGE_DIR of make image
	image   v1.Image // the host architecture's image
	files   map[string]*tar.Header
	binary  string // the manager binary, extracted from the layer
	commit  string // the commit make image stamped
	version string // the version make image stamped
}

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "image-test-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(tmp)
	root := repoRoot()
	if built.commit, err = git(root, "rev-parse", "HEAD"); err != nil {
		return 1, err
	}
	if built.version, err = git(root, "describe", "--tags", "--always", "--dirty"); err != nil {
		return 1, err
	}
	built.dir = os.Getenv("TEST_IMAGE_DIR")
	if built.dir != "" && !filepath.IsAbs(built.dir) {
		built.dir = filepath.Join(root, built.dir) // relative to the repository, as make sees it
	}
	if built.dir == "" {
		built.dir = filepath.Join(tmp, "image")
		if err := makeImage(root, built.dir, filepath.Join(tmp, "kocache")); err != nil {
			return 1, err
		}
	}
	if built.image, err = hostImage(filepath.Join(built.dir, "oci")); err != nil {
		return 1, err
	}
	if built.files, err = extract(built.image, entrypoint, filepath.Join(tmp, "manager")); err != nil {
		return 1, err
	}
	built.binary = filepath.Join(tmp, "manager")
	return m.Run(), nil
}

// makeImage runs `make image` for the host's architecture only, with a cache of its own (ko
// builds into $KOCACHE/bin, which a concurrent make image would share).
func makeImage(root, dir, kocache string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "image",
		"PLATFORMS=linux/"+runtime.GOARCH, "IMAGE_DIR="+dir, "KOCACHE="+kocache)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("make image: %w\n%s", err, out.String())
	}
	return nil
}

// hostImage is the image for the host's platform in the layout: the one image, or the
// index's entry for linux/GOARCH.
func hostImage(dir string) (v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, err
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) != 1 {
		return nil, fmt.Errorf("the layout %s holds %d entries, want 1", dir, len(im.Manifests))
	}
	top := im.Manifests[0]
	if !top.MediaType.IsIndex() {
		return ii.Image(top.Digest)
	}
	idx, err := ii.ImageIndex(top.Digest)
	if err != nil {
		return nil, err
	}
	im, err = idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("the index in %s has no linux/%s image", dir, runtime.GOARCH)
}

// extract reads the image's flattened file system: every entry's header by clean path
// (without a leading slash), and the file at want written to dst (mode 0700).
func extract(img v1.Image, want, dst string) (map[string]*tar.Header, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	files := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	found := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the image's file system: %w", err)
		}
		p := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		files[p] = hdr
		if "/"+p != want {
			continue
		}
		if err := writeFile(dst, tr); err != nil {
			return nil, err
		}
		found = true
	}
	if !found {
		return files, fmt.Errorf("the image has no %s", want)
	}
	return files, nil
}

func writeFile(dst string, r io.Reader) error {
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o700)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// repoRoot is the repository root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
