package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// walkthroughBlock is a shell block of the README's walkthrough and what it must do.
type walkthroughBlock struct {
	script   string
	failWith string // empty: must succeed
}

var walkthroughMarker = regexp.MustCompile("(?s)<!-- walkthrough: (run|fails-with \"([^\"]+)\") -->\\s*```sh\\n(.*?)```")

func readmeWalkthrough(t *testing.T, root string) []walkthroughBlock {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []walkthroughBlock
	for _, m := range walkthroughMarker.FindAllStringSubmatch(string(readme), -1) {
		blocks = append(blocks, walkthroughBlock{script: m[3], failWith: m[2]})
	}
	if markers := strings.Count(string(readme), "<!-- walkthrough:"); markers != len(blocks) {
		t.Fatalf("README.md has %d walkthrough markers but %d well-formed blocks: a marker's expected message may not contain a double quote", markers, len(blocks))
	}
	if len(blocks) < 4 {
		t.Fatalf("found %d walkthrough blocks in README.md, want at least 4", len(blocks))
	}
	return blocks
}

// TestReadmeWalkthrough runs the README's walkthrough, as written, with the machine's
// kubectl, against the dev environment of `make run`.
func TestReadmeWalkthrough(t *testing.T) {
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeWalkthrough(t, root)
	dir := t.TempDir()
	opts, err := parse([]string{"--dir", dir, "--metrics-bind-address=0", "--health-probe-bind-address=0"})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	opts.logTo = &logs
	ctx := context.Background()
	d, err := start(ctx, opts, quietLogger(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer d.stop()

	for i, b := range blocks {
		script := "set -euo pipefail\nsource bin/dev/env\n" + b.script
		script = strings.ReplaceAll(script, "bin/dev/", dir+"/")
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		switch {
		case b.failWith == "" && err != nil:
			t.Fatalf("walkthrough block %d failed: %v\n--- script\n%s\n--- output\n%s", i+1, err, b.script, out)
		case b.failWith != "" && err == nil:
			t.Fatalf("walkthrough block %d should have been refused:\n%s\n--- output\n%s", i+1, b.script, out)
		case b.failWith != "" && !strings.Contains(string(out), b.failWith):
			t.Fatalf("walkthrough block %d: want %q in the output:\n%s", i+1, b.failWith, out)
		}
		if strings.Contains(string(out), "cog_") {
			t.Fatalf("walkthrough block %d printed a token value", i+1)
		}
	}
}
