package house

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

const (
	maxFuncLines = 60
	maxFileLines = 400
	module       = "github.com/cogtokens/token-operator"
)

// productFiles are the Go files of the product: not tests, not generated, not hack/ (the
// dev environment, the benchmark, tools).
func productFiles(t *testing.T) (string, []string) {
	t.Helper()
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			switch rel {
			case "hack", "bin", "dist", ".git", "test":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") && !strings.HasPrefix(d.Name(), "zz_generated") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return root, files
}

func TestFunctionsAndFilesStaySmall(t *testing.T) {
	root, files := productFiles(t)
	if len(files) < 20 {
		t.Fatalf("found only %d product files under %s", len(files), root)
	}
	fset := token.NewFileSet()
	for _, rel := range files {
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			t.Errorf("%s has %d lines (at most %d): split it by concern", rel, n, maxFileLines)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s has %d lines (at most %d): give its steps names", rel, fd.Name.Name, n, maxFuncLines)
			}
		}
	}
}

// The admission webhooks and the controllers share domain rules from below (api/v1alpha1,
// internal/credential, internal/directory); neither imports the other.
func TestWebhookAndControllersAreSiblings(t *testing.T) {
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for pkg, forbidden := range map[string]string{
		"./internal/webhook": module + "/controllers",
		"./controllers":      module + "/internal/webhook",
	} {
		cmd := exec.Command("go", "list", "-deps", pkg)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == forbidden {
				t.Errorf("%s depends on %s", pkg, forbidden)
			}
		}
	}
}
