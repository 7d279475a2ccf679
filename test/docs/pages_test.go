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

	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// pages returns the repository root and the documentation pages by relative path.
func pages(t *testing.T) (string, map[string]string) {
	t.Helper()
	root, err := devenv.FindRepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Pages(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) < 10 {
		t.Fatalf("found %d documentation pages", len(p))
	}
	return root, p
}

// page returns one page's text.
func page(t *testing.T, path string) string {
	t.Helper()
	_, p := pages(t)
	text, ok := p[path]
	if !ok {
		t.Fatalf("no page %s", path)
	}
	return text
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\\n(.*?)```")

// checkedElsewhere are the API groups of other tools' objects in the docs, which this API
// server does not serve: the Flux Kustomization is checked by test/argocd's TestFluxExample.
var checkedElsewhere = map[string]bool{"kustomize.toolkit.fluxcd.io": true}

// TestDocObjectsAreAccepted sends every object of the documentation's yaml blocks to a real
// API server (server-side dry run) with the project's CRDs installed.
func TestDocObjectsAreAccepted(t *testing.T) {
	root, docs := pages(t)
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
	checked := map[string]int{}
	for _, path := range SortedPaths(docs) {
		for _, m := range yamlBlock.FindAllStringSubmatch(docs[path], -1) {
			for _, doc := range strings.Split(m[1], "\n---\n") {
				obj := &unstructured.Unstructured{}
				if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil || obj.GetAPIVersion() == "" || obj.GetKind() == "" {
					continue // a fragment (alert rules, argocd-cm, an Application's spec), not an object
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
					t.Errorf("%s: object %s %s is refused: %v", path, obj.GetKind(), obj.GetName(), err)
				}
				checked[obj.GetKind()]++
			}
		}
	}
	for _, kind := range []string{"PersonalAccessToken", "ServiceUser", "CredentialPolicy", "DevinAccount", "ClusterDevinAccount", "Deployment", "RoleBinding"} {
		if checked[kind] == 0 {
			t.Errorf("the docs show no %s: checked %v", kind, checked)
		}
	}
}

// TestEveryFlagIsDocumented fails when a flag of the manager is missing from the
// configuration page.
func TestEveryFlagIsDocumented(t *testing.T) {
	text := page(t, "docs/configuration.md")
	fs := flag.NewFlagSet("token-operator", flag.ContinueOnError)
	o := operator.DefaultOptions()
	o.BindFlags(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(text, "`--"+f.Name+"`") {
			t.Errorf("flag --%s is not documented in docs/configuration.md", f.Name)
		}
	})
	if n < 30 {
		t.Fatalf("the manager has only %d flags", n)
	}
}

// Every condition reason, rotation reason and event reason of the API (those of the
// credentials in conditions.go, those of the accounts in devinaccount_types.go) is documented
// on the troubleshooting page: alerts and health checks match them, so a user must be able to
// look each one up.
func TestEveryReasonIsDocumented(t *testing.T) {
	root, _ := pages(t)
	text := page(t, "docs/troubleshooting.md")
	n := 0
	for _, file := range []string{"conditions.go", "devinaccount_types.go"} {
		n += checkReasonsDocumented(t, filepath.Join(root, "api", "v1alpha1", file), text)
	}
	if n < 20 {
		t.Fatalf("found only %d reasons in api/v1alpha1", n)
	}
}

// checkReasonsDocumented checks that each Reason*, Rotation* and Event* constant of a file is
// named on the troubleshooting page, text; it returns how many it found.
func checkReasonsDocumented(t *testing.T, path, text string) int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
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
					t.Errorf("%s (%q) of %s is not documented in docs/troubleshooting.md", name.Name, value, filepath.Base(path))
				}
			}
		}
	}
	return n
}

// TestEveryFieldIsDocumented: each field of a kind's spec and status, as the generated CRD
// has it, is named (`spec.a.b`) on the kind's page. Below a label selector the fields are
// Kubernetes'.
func TestEveryFieldIsDocumented(t *testing.T) {
	root, _ := pages(t)
	for plural, doc := range map[string]string{
		"personalaccesstokens": "docs/api/personalaccesstoken.md",
		"serviceusers":         "docs/api/serviceuser.md",
		"credentialpolicies":   "docs/api/credentialpolicy.md",
		"devinaccounts":        "docs/api/devinaccount.md",
		"clusterdevinaccounts": "docs/api/devinaccount.md",
	} {
		text := page(t, doc)
		b, err := os.ReadFile(filepath.Join(root, "config", "crd", "bases", "iam.devin.ai_"+plural+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Spec struct {
				Versions []struct {
					Schema struct {
						OpenAPIV3Schema schema `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(b, &crd); err != nil {
			t.Fatal(err)
		}
		top := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties
		var fields []string
		fields = append(fields, top["spec"].paths("spec")...)
		fields = append(fields, top["status"].paths("status")...)
		if len(fields) < 15 {
			t.Fatalf("%s: found only %d fields", plural, len(fields))
		}
		for _, f := range fields {
			if !strings.Contains(text, "`"+f+"`") {
				t.Errorf("%s does not name the field `%s`", doc, f)
			}
		}
	}
}

// schema is the part of an OpenAPI schema that names fields.
type schema struct {
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
}

// paths lists the dotted paths of the fields below prefix: for a status, its own fields
// only (their parts are described with them); for a spec, every field.
func (s schema) paths(prefix string) []string {
	props := s.Properties
	if s.Items != nil {
		props = s.Items.Properties
	}
	var out []string
	for name, sub := range props {
		p := prefix + "." + name
		out = append(out, p)
		if strings.HasPrefix(p, "status.") || name == "selector" || strings.HasSuffix(name, "Selector") {
			continue
		}
		out = append(out, sub.paths(p)...)
	}
	return out
}

var namedTest = regexp.MustCompile("`(Test[A-Z][A-Za-z0-9_]*)`")

// TestNamedTestsExist: every test the documentation names (the security page lists the test
// of each invariant) is a test function of the repository.
func TestNamedTestsExist(t *testing.T) {
	root, docs := pages(t)
	defined := map[string]bool{}
	testFunc := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range testFunc.FindAllStringSubmatch(string(b), -1) {
			defined[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, path := range SortedPaths(docs) {
		for _, m := range namedTest.FindAllStringSubmatch(docs[path], -1) {
			named++
			if !defined[m[1]] {
				t.Errorf("%s names %s, which no test file defines", path, m[1])
			}
		}
	}
	if named < 40 {
		t.Fatalf("the docs name only %d tests; the security page alone lists more", named)
	}
}
