// Command image does for `make image` and `make release-dry-run` what ko does not: it makes
// the base image and seeds it into ko's cache, and it reads the layout ko wrote.
//
//	go run ./hack/image seed -kocache DIR -ko-config .ko.yaml
//	go run ./hack/image manifests LAYOUT             # one line per image: digest and platform
//	go run ./hack/image digest LAYOUT                # the digest of the index (or the one image)
//	go run ./hack/image tarballs -ref REF -out DIR LAYOUT   # a docker tarball per platform
//	go run ./hack/image platforms -want linux/amd64,linux/arm64 LAYOUT
//	go run ./hack/image chart -repository R -tag T -digest D -version V CHART_DIR
//
// ko pulls its base image from a registry, except that with $KOCACHE set it first looks in
// the OCI layout $KOCACHE/img for a base named by digest. `seed` writes the base there, so ko
// builds with no registry and no network; the base's digest is pinned in .ko.yaml, and seed
// fails, saying what to change, when the base it makes differs from the pinned one.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

const usage = "usage: image seed -kocache DIR -ko-config FILE | manifests LAYOUT | digest LAYOUT | " +
	"tarballs -ref REF -out DIR LAYOUT | platforms -want P,P LAYOUT | chart -repository R -tag T -digest D -version V DIR"

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "seed":
		fs := flag.NewFlagSet("seed", flag.ContinueOnError)
		kocache := fs.String("kocache", os.Getenv("KOCACHE"), "ko's cache directory (KOCACHE)")
		koConfig := fs.String("ko-config", ".ko.yaml", "ko's configuration, which pins the base by digest")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *kocache == "" {
			return errors.New("seed: -kocache (or KOCACHE) is required")
		}
		ref, err := Seed(*kocache, *koConfig)
		if err != nil {
			return err
		}
		fmt.Println(ref)
		return nil
	case "manifests":
		if len(args) != 2 {
			return errors.New(usage)
		}
		lines, err := Manifests(args[1])
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Println(l)
		}
		return nil
	case "digest":
		if len(args) != 2 {
			return errors.New(usage)
		}
		d, err := Digest(args[1])
		if err != nil {
			return err
		}
		fmt.Println(d)
		return nil
	case "tarballs":
		return runTarballs(args[1:])
	case "platforms":
		return runPlatforms(args[1:])
	case "chart":
		return runChart(args[1:])
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func runTarballs(args []string) error {
	fs := flag.NewFlagSet("tarballs", flag.ContinueOnError)
	ref := fs.String("ref", "", "the tag the images get in the tarballs (repository:version)")
	out := fs.String("out", ".", "where to write token-operator-<os>-<arch>.tar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *ref == "" {
		return errors.New(usage)
	}
	files, err := Tarballs(fs.Arg(0), *ref, *out)
	if err != nil {
		return err
	}
	for _, f := range files {
		fmt.Println(f)
	}
	return nil
}
