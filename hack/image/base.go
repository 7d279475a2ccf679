package main

import (
	"archive/tar"
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// rootfs is the whole file system of the base: the passwd and group entries of the nonroot
// user (65532) that the manager runs as. The Dockerfile copies the same directory, so both
// images hold the same files.
//
//go:embed rootfs
var rootfs embed.FS

// User is the user and group the image runs as; numeric, so that the kubelet can check
// runAsNonRoot without reading /etc/passwd.
const User = "65532:65532"

// Platforms are the platforms of the base index, and so the ones ko can build the manager for.
var Platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64"},
}

// BaseIndex is the base image as an OCI index with one image per platform. Every byte of
// it is fixed (no time stamps, sorted entries, numeric owners), so its digest is the same
// on every machine and can be pinned in .ko.yaml.
func BaseIndex() (v1.ImageIndex, error) {
	layer, err := baseLayer()
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range Platforms {
		img, err := baseImage(layer, p)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	return idx, nil
}

func baseImage(layer v1.Layer, p v1.Platform) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "hack/image: passwd and group of the nonroot user"},
	})
	if err != nil {
		return nil, fmt.Errorf("append the base layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read the base config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Config.User = User
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set the base config: %w", err)
	}
	return img, nil
}

// baseLayer is rootfs as a gzip layer.
func baseLayer() (v1.Layer, error) {
	data, err := rootfsTar()
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("make the base layer: %w", err)
	}
	return layer, nil
}

// rootfsTar writes rootfs as a tar stream: directories 0755 and files 0644, owned by root,
// dated at the Unix epoch. fs.WalkDir visits in lexical order, so the stream is the same on
// every run.
func rootfsTar() ([]byte, error) {
	sub, err := fs.Sub(rootfs, "rootfs")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		hdr := &tar.Header{Name: p, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR, Typeflag: tar.TypeReg}
		var data []byte
		if d.IsDir() {
			hdr.Name, hdr.Mode, hdr.Typeflag = p+"/", 0o755, tar.TypeDir
		} else if data, err = fs.ReadFile(sub, p); err != nil {
			return err
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("write the base file system: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close the base file system: %w", err)
	}
	return buf.Bytes(), nil
}
