package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Top is the one entry of an OCI layout that ko wrote: an index (several platforms) or an
// image (one). A layout with more or fewer entries was not written by one `make image`.
func Top(dir string) (v1.ImageIndex, v1.Descriptor, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("open the layout %s: %w", dir, err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("read the layout %s: %w", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("read the layout %s: %w", dir, err)
	}
	if len(im.Manifests) != 1 {
		return nil, v1.Descriptor{}, fmt.Errorf("the layout %s holds %d entries, want 1 (build it afresh: make image)", dir, len(im.Manifests))
	}
	return ii, im.Manifests[0], nil
}

// Digest is the digest of the layout's one entry: what a registry serves the image by.
func Digest(dir string) (v1.Hash, error) {
	_, d, err := Top(dir)
	return d.Digest, err
}

// PlatformImages returns the layout's images by "<os>-<arch>": every image of the index, or
// the one image.
func PlatformImages(dir string) (map[string]v1.Image, error) {
	ii, top, err := Top(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]v1.Image{}
	if !top.MediaType.IsIndex() {
		img, err := ii.Image(top.Digest)
		if err != nil {
			return nil, err
		}
		key, err := platformKey(img)
		if err != nil {
			return nil, err
		}
		out[key] = img
		return out, nil
	}
	idx, err := ii.ImageIndex(top.Digest)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d.Digest, err)
		}
		key, err := platformKey(img)
		if err != nil {
			return nil, err
		}
		out[key] = img
	}
	if len(out) == 0 {
		return nil, errors.New("the index holds no image")
	}
	return out, nil
}

func platformKey(img v1.Image) (string, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("read an image config: %w", err)
	}
	return cfg.OS + "-" + cfg.Architecture, nil
}

// Tarballs writes each image of the layout as a docker-format tarball tagged ref
// (<out>/token-operator-<os>-<arch>.tar), which `docker load`, `ctr images import` and
// `kind load image-archive` read. It returns the files written.
func Tarballs(dir, ref, out string) ([]string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return nil, fmt.Errorf("tag %q: %w", ref, err)
	}
	imgs, err := PlatformImages(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for key, img := range imgs {
		file := filepath.Join(out, "token-operator-"+key+".tar")
		if err := tarball.WriteToFile(file, tag, img); err != nil {
			_ = os.Remove(file)
			return nil, fmt.Errorf("write %s: %w", file, err)
		}
		files = append(files, file)
	}
	return files, nil
}
