// Command image does for `make image` and `make release-dry-run` what ko does not: it makes
// the base image and seeds it into ko's cache, and it lists the images of a built layout.
//
//	go run ./hack/image seed -kocache DIR -ko-config .ko.yaml
//	go run ./hack/image manifests DIR
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

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: image seed -kocache DIR -ko-config FILE | image manifests DIR")
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
			return errors.New("usage: image manifests DIR")
		}
		lines, err := Manifests(args[1])
		if err != nil {
			return err
		}
		for _, l := range lines {
			fmt.Println(l)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}
