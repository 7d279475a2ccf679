// Command krew builds, for `make release-dry-run`, the kubectl plugin's release files: one
// archive per platform (kubectl-devin built with the release's version, packed reproducibly:
// every time stamp is SOURCE_DATE_EPOCH) and the krew manifest that names each archive by its
// URL on the GitHub release and its SHA-256.
//
//	go run ./hack/krew -version v1.2.3 -source-date-epoch N -platforms linux/amd64,darwin/arm64 -out DIR
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"
)

// downloadURL is where the release workflow publishes the files: the GitHub release of the tag.
const downloadURL = "https://github.com/cogtokens/token-operator/releases/download"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("krew", flag.ContinueOnError)
	version := fs.String("version", "", "the release's version (the tag, v1.2.3)")
	epoch := fs.Int64("source-date-epoch", 0, "the time stamp of every file in the archives (SOURCE_DATE_EPOCH)")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64", "os/arch, comma-separated")
	out := fs.String("out", "", "the directory to write the archives and devin.yaml into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || *out == "" {
		return errors.New("-version and -out are required")
	}
	var plats []platform
	for _, p := range strings.Split(*platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("-platforms: %q is not os/arch", p)
		}
		plats = append(plats, platform{os: goos, arch: goarch})
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var archives []archive
	for _, p := range plats {
		a, err := buildArchive(ctx, p, *version, time.Unix(*epoch, 0).UTC(), *out)
		if err != nil {
			return err
		}
		archives = append(archives, a)
	}
	m, err := manifest(*version, downloadURL, archives)
	if err != nil {
		return err
	}
	return os.WriteFile(*out+"/devin.yaml", m, 0o644)
}
