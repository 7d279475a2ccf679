package docs

import (
	"context"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/cogtokens/token-operator/internal/devenv"
	"github.com/cogtokens/token-operator/internal/operator"
)

func readme(t *testing.T) (string, string) {
	t.Helper()
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(b)
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\\n(.*?)```")

// checkedElsewhere are the API groups of other tools' objects in the README, which this API
// server does not serve: the Flux Kustomization is checked by test/argocd's
// TestReadmeFluxExample.
var checkedElsewhere = map[string]bool{"kustomize.toolkit.fluxcd.io": true}

// TestReadmeObjectsAreAccepted sends every object of the README's yaml blocks to a real API
// server (server-side dry run) with the project's CRDs installed.
func TestReadmeObjectsAreAccepted(t *testing.T) {
	root, text := readme(t)
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	c, err := client.New(cfg, client.Options{Scheme: operator.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	checked := 0
	for _, m := range yamlBlock.FindAllStringSubmatch(text, -1) {
		for _, doc := range strings.Split(m[1], "\n---\n") {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil || obj.GetAPIVersion() == "" || obj.GetKind() == "" {
				continue // a fragment (alert rules, argocd-cm), not an object
			}
			if checkedElsewhere[obj.GroupVersionKind().Group] {
				continue
			}
			if ns := obj.GetNamespace(); ns != "" {
				if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatal(err)
				}
			} else {
				obj.SetNamespace("default")
			}
			if err := c.Create(ctx, obj, client.DryRunAll); err != nil {
				t.Errorf("README object %s %s is refused: %v", obj.GetKind(), obj.GetName(), err)
			}
			checked++
		}
	}
	if checked < 3 {
		t.Fatalf("checked %d objects; the README shows at least a PersonalAccessToken, a ServiceUser and a Deployment", checked)
	}
}

// TestEveryFlagIsDocumented fails when a flag of the manager is missing from the README's
// configuration table.
func TestEveryFlagIsDocumented(t *testing.T) {
	_, text := readme(t)
	fs := flag.NewFlagSet("token-operator", flag.ContinueOnError)
	o := operator.DefaultOptions()
	o.BindFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(text, "`--"+f.Name+"`") {
			t.Errorf("flag --%s is not documented in README.md", f.Name)
		}
	})
}

// Every condition reason, rotation reason and event reason of the API is documented: alerts
// and health checks match them, so a user must be able to look each one up.
func TestEveryReasonIsDocumented(t *testing.T) {
	root, text := readme(t)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root, "api", "v1alpha1", "conditions.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Reason") && !strings.HasPrefix(name.Name, "Rotation") && !strings.HasPrefix(name.Name, "Event") {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				n++
				if value := strings.Trim(lit.Value, `"`); !strings.Contains(text, "`"+value+"`") {
					t.Errorf("%s (%q) is not documented in README.md", name.Name, value)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d reasons in conditions.go", n)
	}
}
