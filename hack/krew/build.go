package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// platform is one os/arch the plugin is built for.
type platform struct{ os, arch string }

// bin is the name of the plugin's executable on the platform.
func (p platform) bin() string {
	if p.os == "windows" {
		return "kubectl-devin.exe"
	}
	return "kubectl-devin"
}

// archive is one platform's archive, as the manifest names it.
type archive struct {
	platform
	name   string
	sha256 string
}

// buildArchive builds the plugin for p and packs it into DIR/kubectl-devin_<version>_<os>_<arch>.tar.gz.
func buildArchive(ctx context.Context, p platform, version string, stamp time.Time, dir string) (archive, error) {
	tmp, err := os.MkdirTemp("", "kubectl-devin-")
	if err != nil {
		return archive{}, err
	}
	defer os.RemoveAll(tmp)
	exe := filepath.Join(tmp, p.bin())
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/cogtokens/token-operator/internal/version.Version="+version,
		"-o", exe, "./cmd/kubectl-devin")
	cmd.Env = append(os.Environ(), "GOOS="+p.os, "GOARCH="+p.arch, "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := cmd.CombinedOutput(); err != nil {
		return archive{}, fmt.Errorf("build kubectl-devin for %s/%s: %w\n%s", p.os, p.arch, err, out)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		return archive{}, err
	}
	packed, err := pack(p.bin(), data, stamp)
	if err != nil {
		return archive{}, err
	}
	name := fmt.Sprintf("kubectl-devin_%s_%s_%s.tar.gz", version, p.os, p.arch)
	if err := os.WriteFile(filepath.Join(dir, name), packed, 0o644); err != nil {
		return archive{}, err
	}
	sum := sha256.Sum256(packed)
	return archive{platform: p, name: name, sha256: hex.EncodeToString(sum[:])}, nil
}

// pack is a tar.gz holding the one executable, the same bytes for the same input: fixed
// time stamps, owner and mode, no name or time in the gzip header.
func pack(name string, data []byte, stamp time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: stamp, Typeflag: tar.TypeReg,
		Uid: 0, Gid: 0, Uname: "root", Gname: "root", Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
