// Package release_test checks the release automation that cannot run here: the GitHub
// workflows (.github/workflows) are linted with actionlint (as a library, pinned in go.mod;
// with shellcheck on their scripts where it is installed), and every make target, tool and
// path they name must exist: a target in the Makefile, a tool the Makefile installs into
// ./bin, a file in the repository, or a file that `make release-dry-run` writes.
package release_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

var workflows = []string{".github/workflows/ci.yml", ".github/workflows/release.yml"}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func TestActionlint(t *testing.T) {
	root := repoRoot(t)
	have, err := filepath.Glob(filepath.Join(root, ".github", "workflows", "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, w := range workflows {
		want = append(want, filepath.Join(root, w))
	}
	if !slices.Equal(have, want) {
		t.Errorf("workflows %v, want %v (a new workflow is added to this test)", have, want)
	}
	opts := &actionlint.LinterOptions{WorkingDir: root}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Log("shellcheck is not installed: the workflows' scripts are not checked by it")
	}
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.LintFiles(have, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
}

// TestActionlintCatchesMistakes: the linter as configured here does report a broken
// workflow (an unknown event and an undefined expression), so a pass means something.
func TestActionlintCatchesMistakes(t *testing.T) {
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := "on: pushh\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secretz.X }}\n"
	errs, err := linter.Lint("bad.yml", []byte(bad), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) < 2 {
		t.Fatalf("actionlint found %d problems in a broken workflow, want at least 2: %v", len(errs), errs)
	}
}

type workflow struct {
	Jobs map[string]struct {
		Steps []struct {
			Run  string            `json:"run"`
			With map[string]string `json:"with"`
		} `json:"steps"`
	} `json:"jobs"`
}

// scripts returns every step's script and with-values of the workflows.
func scripts(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, w := range workflows {
		data, err := os.ReadFile(filepath.Join(repoRoot(t), w))
		if err != nil {
			t.Fatal(err)
		}
		var wf workflow
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Fatalf("%s: %v", w, err)
		}
		for _, job := range wf.Jobs {
			for _, s := range job.Steps {
				out[w] = append(out[w], s.Run)
				for _, v := range s.With {
					out[w] = append(out[w], v)
				}
			}
		}
	}
	return out
}

// makeTargets are the rules of the Makefile.
func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Za-z0-9_.-]+):([^=]|$)`).FindAllStringSubmatch(string(data), -1) {
		targets[m[1]] = true
	}
	return targets
}

var makeCall = regexp.MustCompile(`(?m)(?:^|[;&|]\s*)make\s+([^\n;&|]+)`)

func TestMakeTargetsExist(t *testing.T) {
	targets := makeTargets(t)
	seen := 0
	for w, steps := range scripts(t) {
		for _, s := range steps {
			for _, m := range makeCall.FindAllStringSubmatch(s, -1) {
				for _, f := range strings.Fields(m[1]) {
					if strings.Contains(f, "=") || strings.HasPrefix(f, "-") {
						continue
					}
					seen++
					if !targets[f] {
						t.Errorf("%s runs `make %s`: the Makefile has no such target", w, f)
					}
				}
			}
		}
	}
	if seen < 2 {
		t.Errorf("found %d make targets in the workflows, want at least release-dry-run and release-publish", seen)
	}
}

var repoPath = regexp.MustCompile(`(?:^|[\s"'=(])(?:\./)?((?:\.ci|\.github|bin|dist|hack|config|docs|test)/[^\s"';|)]*|go\.mod|\.ko\.yaml|Makefile)`)

// TestPathsExist: every path a workflow names is in the repository, is a tool the Makefile
// installs into ./bin, or (under dist/release/) is written by make release-dry-run.
func TestPathsExist(t *testing.T) {
	root := repoRoot(t)
	targets := makeTargets(t)
	dryRun := dryRunCommands(t)
	seen := 0
	for w, steps := range scripts(t) {
		for _, s := range steps {
			for _, m := range repoPath.FindAllStringSubmatch(s, -1) {
				p := m[1]
				seen++
				switch {
				case strings.HasPrefix(p, "bin/"):
					if tool := strings.TrimPrefix(p, "bin/"); !targets[tool] {
						t.Errorf("%s runs %s: the Makefile installs no tool %q", w, p, tool)
					}
				case strings.HasPrefix(p, "dist/release/"):
					if !releaseWrites(dryRun, p) {
						t.Errorf("%s uses %s, which make release-dry-run does not write", w, p)
					}
				default:
					if _, err := os.Stat(filepath.Join(root, p)); err != nil {
						t.Errorf("%s names %s: %v", w, p, err)
					}
				}
			}
		}
	}
	if seen < 5 {
		t.Errorf("found only %d paths in the workflows: is the pattern still right?", seen)
	}
}

// dryRunCommands is what make release-dry-run would run for the tag v9.8.7 (make -n: printed,
// not run; the recursive makes print too).
func dryRunCommands(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-n", "--no-print-directory", "release-dry-run", "VERSION=v9.8.7")
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n release-dry-run: %v\n%s", err, out)
	}
	return string(out)
}

// releaseWrites tells whether the dry run's commands name the file's directory and its name
// (with the workflow's ${VERSION#v} and $VERSION for the tag v9.8.7); a name with a glob needs
// only its directory.
func releaseWrites(dryRun, p string) bool {
	p = strings.NewReplacer("${VERSION#v}", "9.8.7", "$VERSION", "v9.8.7", "${VERSION}", "v9.8.7").Replace(p)
	dir, base := filepath.Dir(p), filepath.Base(p)
	if !strings.Contains(dryRun, dir) {
		return false
	}
	return strings.Contains(base, "*") || regexp.MustCompile(`[\s/]`+regexp.QuoteMeta(base)+`\b`).MatchString(dryRun)
}
