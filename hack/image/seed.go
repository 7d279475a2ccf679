package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"sigs.k8s.io/yaml"
)

// PinnedBase reads the base image reference (by digest) that .ko.yaml names.
func PinnedBase(koConfig string) (name.Digest, error) {
	data, err := os.ReadFile(koConfig)
	if err != nil {
		return name.Digest{}, fmt.Errorf("read ko config: %w", err)
	}
	var cfg struct {
		DefaultBaseImage string `json:"defaultBaseImage"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return name.Digest{}, fmt.Errorf("parse %s: %w", koConfig, err)
	}
	ref, err := name.NewDigest(cfg.DefaultBaseImage)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%s: defaultBaseImage must name the base by digest: %w", koConfig, err)
	}
	return ref, nil
}

// Seed writes the base index, and each of its images, into the OCI layout $KOCACHE/img, where
// ko looks up a base by digest before it goes to a registry. ko finds only the layout's
// top-level entries, so the per-platform images are entries of their own besides the index.
// It returns the pinned reference, after checking that the base made here is that one.
func Seed(kocache, koConfig string) (name.Digest, error) {
	pinned, err := PinnedBase(koConfig)
	if err != nil {
		return name.Digest{}, err
	}
	idx, err := BaseIndex()
	if err != nil {
		return name.Digest{}, err
	}
	got, err := idx.Digest()
	if err != nil {
		return name.Digest{}, fmt.Errorf("digest of the base: %w", err)
	}
	if got.String() != pinned.DigestStr() {
		return name.Digest{}, fmt.Errorf("the base made by hack/image is %s but %s pins %s: set defaultBaseImage to %s@%s",
			got, koConfig, pinned.DigestStr(), pinned.Context().Name(), got)
	}
	p, err := openLayout(filepath.Join(kocache, "img"))
	if err != nil {
		return name.Digest{}, err
	}
	if err := appendOnce(p, idx); err != nil {
		return name.Digest{}, err
	}
	return pinned, nil
}

func openLayout(dir string) (layout.Path, error) {
	if p, err := layout.FromPath(dir); err == nil {
		return p, nil
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return "", fmt.Errorf("create the layout %s: %w", dir, err)
	}
	return p, nil
}

// appendOnce adds the index and its images to the layout unless they are there already (a
// second `make image` leaves the cache as it is).
func appendOnce(p layout.Path, idx v1.ImageIndex) error {
	have, err := p.ImageIndex()
	if err != nil {
		return fmt.Errorf("read the layout %s: %w", p, err)
	}
	present := map[v1.Hash]bool{}
	if im, err := have.IndexManifest(); err == nil {
		for _, d := range im.Manifests {
			present[d.Digest] = true
		}
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("read the base index: %w", err)
	}
	for _, d := range im.Manifests {
		if present[d.Digest] {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("base image %s: %w", d.Digest, err)
		}
		if err := p.AppendImage(img, layout.WithPlatform(*d.Platform)); err != nil {
			return fmt.Errorf("seed base image %s: %w", d.Digest, err)
		}
	}
	digest, err := idx.Digest()
	if err != nil || present[digest] {
		return err
	}
	if err := p.AppendIndex(idx); err != nil {
		return fmt.Errorf("seed the base index: %w", err)
	}
	return nil
}

// Manifests lists the images of an OCI layout that ko wrote: one line per top-level entry
// ("<digest> index" or "<digest> <os>/<arch>") and, for an index, one per image in it.
func Manifests(dir string) ([]string, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open the layout %s: %w", dir, err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return nil, fmt.Errorf("read the layout %s: %w", dir, err)
	}
	return listIndex(ii)
}

func listIndex(ii v1.ImageIndex) ([]string, error) {
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	var lines []string
	for _, d := range im.Manifests {
		if !d.MediaType.IsIndex() {
			pf, err := platform(ii, d)
			if err != nil {
				return nil, err
			}
			lines = append(lines, fmt.Sprintf("%s %s", d.Digest, pf))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s index", d.Digest))
		child, err := ii.ImageIndex(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("read index %s: %w", d.Digest, err)
		}
		more, err := listIndex(child)
		if err != nil {
			return nil, err
		}
		lines = append(lines, more...)
	}
	return lines, nil
}

// platform is the descriptor's platform or, where the layout does not say (ko writes a
// single image without one), the image config's.
func platform(ii v1.ImageIndex, d v1.Descriptor) (string, error) {
	p := d.Platform
	if p == nil {
		img, err := ii.Image(d.Digest)
		if err != nil {
			return "", fmt.Errorf("read image %s: %w", d.Digest, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return "", fmt.Errorf("read the config of %s: %w", d.Digest, err)
		}
		p = cfg.Platform()
	}
	return p.OS + "/" + p.Architecture, nil
}
