package house

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// testSupport holds what only tests, make run and the benchmark use: the local control
// plane, the in-memory Devin API, the contract check (with kin-openapi), the audit.
const testSupport = module + "/internal/testing/"

// leaves are packages every other one may use, which therefore use nothing of the project
// but the leaves they name: the status patch helper knows no kind of this project, and the
// logger does not depend on the API client to know what a token looks like.
var leaves = map[string][]string{
	module + "/internal/patch":        nil,
	module + "/internal/tokenpattern": nil,
	module + "/internal/logging":      {module + "/internal/tokenpattern"},
}

type goPackage struct {
	ImportPath string
	Deps       []string
}

// packages lists every package of the module with what it imports, tests excluded.
func packages(t *testing.T) []goPackage {
	t.Helper()
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// shipped reports whether a package is part of what the release ships: everything but test
// support, the suites under test/ and the tools under hack/.
func shipped(path string) bool {
	for _, prefix := range []string{testSupport, module + "/test/", module + "/hack/"} {
		if strings.HasPrefix(path, prefix) {
			return false
		}
	}
	return true
}

func TestShippedCodeImportsNoTestSupport(t *testing.T) {
	pkgs := packages(t)
	if !slices.ContainsFunc(pkgs, func(p goPackage) bool { return p.ImportPath == module }) {
		t.Fatal("the operator's main package is not listed")
	}
	for _, p := range pkgs {
		if !shipped(p.ImportPath) {
			continue
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, testSupport) {
				t.Errorf("%s, which the release ships, imports the test support %s", p.ImportPath, d)
			}
		}
	}
}

func TestLeavesImportNothingOfTheProject(t *testing.T) {
	found := 0
	for _, p := range packages(t) {
		allowed, ok := leaves[p.ImportPath]
		if !ok {
			continue
		}
		found++
		for _, d := range p.Deps {
			if strings.HasPrefix(d, module) && !slices.Contains(allowed, d) {
				t.Errorf("%s imports %s: it must stay a leaf", p.ImportPath, d)
			}
		}
	}
	if found != len(leaves) {
		t.Errorf("found %d of the %d leaves", found, len(leaves))
	}
}
