package argocd

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// testdataFiles lists every object the tests feed to the scripts.
func testdataFiles(t *testing.T, kind string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(kindDir(kind), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(path)) == "testdata" {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// conditionReasons reads the Reason* constants of api/v1alpha1/conditions.go, so that a
// reason added there is known here without a list to keep in step.
func conditionReasons(t *testing.T) []string {
	t.Helper()
	reasons := reasonConstants(t, "conditions.go")
	if len(reasons) < 10 {
		t.Fatalf("found only %d condition reasons in api/v1alpha1/conditions.go", len(reasons))
	}
	return reasons
}

// reasonConstants reads the Reason* string constants of a file of api/v1alpha1.
func reasonConstants(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "api", "v1alpha1", file), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "Reason") || i >= len(spec.Values) {
				continue
			}
			if lit, ok := spec.Values[i].(*ast.BasicLit); ok {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					reasons = append(reasons, s)
				}
			}
		}
		return true
	})
	return reasons
}

// TestTestdataIsReal checks that every object is one the operator could have written: it
// decodes strictly into the Go types, passes the structural schema of the generated CRD, and
// its conditions use the condition types and reasons of the API, with kstatus' rules.
func TestTestdataIsReal(t *testing.T) {
	reasons := conditionReasons(t)
	for _, kind := range kinds {
		schema := crdSchema(t, kind)
		for _, path := range testdataFiles(t, kind) {
			rel, _ := filepath.Rel(kindDir(kind), path)
			t.Run(kind+"/"+rel, func(t *testing.T) {
				raw := readFile(t, path)
				var meta metav1.ObjectMeta
				var status iamv1alpha1.CredentialStatus
				condTypes := []string{iamv1alpha1.ConditionReady, iamv1alpha1.ConditionReconciling, iamv1alpha1.ConditionStalled}
				switch kind {
				case "PersonalAccessToken":
					var obj iamv1alpha1.PersonalAccessToken
					if err := yaml.UnmarshalStrict(raw, &obj); err != nil {
						t.Fatalf("not a PersonalAccessToken of the Go types: %v", err)
					}
					meta, status = obj.ObjectMeta, obj.Status.CredentialStatus
				case "ServiceUser":
					var obj iamv1alpha1.ServiceUser
					if err := yaml.UnmarshalStrict(raw, &obj); err != nil {
						t.Fatalf("not a ServiceUser of the Go types: %v", err)
					}
					meta, status = obj.ObjectMeta, obj.Status.CredentialStatus
					condTypes = append(condTypes, iamv1alpha1.ConditionExpiringSoon)
				}
				obj := readObject(t, path)
				if obj["apiVersion"] != iamv1alpha1.GroupVersion.String() || obj["kind"] != kind {
					t.Errorf("apiVersion %v kind %v, want %s %s", obj["apiVersion"], obj["kind"], iamv1alpha1.GroupVersion, kind)
				}
				for _, err := range checkSchema("", schema, obj) {
					t.Error(err)
				}
				if meta.Name == "" || meta.Namespace == "" || meta.UID == "" || meta.Generation < 1 || meta.CreationTimestamp.IsZero() {
					t.Errorf("metadata lacks what the API server sets: %+v", meta)
				}
				if status.ObservedGeneration > meta.Generation {
					t.Errorf("observedGeneration %d is ahead of generation %d", status.ObservedGeneration, meta.Generation)
				}
				if meta.DeletionTimestamp != nil && !slices.Contains(meta.Finalizers, iamv1alpha1.Finalizer) {
					t.Errorf("being deleted without the finalizer %s: the API server would have removed it", iamv1alpha1.Finalizer)
				}
				if status.RotateRequest != "" && meta.Annotations[iamv1alpha1.RotateAnnotation] == "" {
					t.Errorf("status.rotateRequest %q without the annotation %s", status.RotateRequest, iamv1alpha1.RotateAnnotation)
				}
				seen := map[string]metav1.Condition{}
				for _, c := range status.Conditions {
					if !slices.Contains(condTypes, c.Type) {
						t.Errorf("condition type %q is not one of %v", c.Type, condTypes)
					}
					if !slices.Contains(reasons, c.Reason) {
						t.Errorf("condition %s has reason %q, not one of api/v1alpha1", c.Type, c.Reason)
					}
					if c.Status != metav1.ConditionTrue && c.Status != metav1.ConditionFalse && c.Status != metav1.ConditionUnknown {
						t.Errorf("condition %s has status %q", c.Type, c.Status)
					}
					if c.Message == "" || c.LastTransitionTime.IsZero() || c.ObservedGeneration < 1 || c.ObservedGeneration > meta.Generation {
						t.Errorf("condition %s lacks what the operator sets (message, lastTransitionTime, observedGeneration): %+v", c.Type, c)
					}
					if _, dup := seen[c.Type]; dup {
						t.Errorf("condition %s appears twice", c.Type)
					}
					seen[c.Type] = c
				}
				// internal/conditions: Stalled and Reconciling exclude each other; each sets Ready
				// False with its own reason unless a working token keeps Ready True.
				stalled, reconciling := seen[iamv1alpha1.ConditionStalled], seen[iamv1alpha1.ConditionReconciling]
				if stalled.Status == metav1.ConditionTrue && reconciling.Status == metav1.ConditionTrue {
					t.Error("Stalled and Reconciling are both True")
				}
				if ready, ok := seen[iamv1alpha1.ConditionReady]; ok && ready.Status == metav1.ConditionFalse {
					for _, c := range []metav1.Condition{stalled, reconciling} {
						if c.Status == metav1.ConditionTrue && c.Reason != ready.Reason {
							t.Errorf("Ready is False (%s) while %s is True with reason %s", ready.Reason, c.Type, c.Reason)
						}
					}
				}
				if ready, ok := seen[iamv1alpha1.ConditionReady]; ok && ready.Status == metav1.ConditionTrue && status.Token == nil {
					t.Error("Ready is True without a token in status")
				}
			})
		}
	}
}

// TestEveryTestdataIsUsed: no object in testdata/ is left out of health_test.yaml and
// action_test.yaml.
func TestEveryTestdataIsUsed(t *testing.T) {
	for _, kind := range healthKinds() {
		used := map[string]bool{}
		var ht healthTests
		readStrict(t, filepath.Join(kindDir(kind), "health_test.yaml"), &ht)
		for _, tc := range ht.Tests {
			used[filepath.Join(kindDir(kind), tc.InputPath)] = true
		}
		if !hasActions(kind) {
			checkUsed(t, kind, used)
			continue
		}
		var at actionTests
		actions := filepath.Join(kindDir(kind), "actions")
		readStrict(t, filepath.Join(actions, "action_test.yaml"), &at)
		for _, tc := range at.DiscoveryTests {
			used[filepath.Join(actions, tc.InputPath)] = true
		}
		for _, tc := range at.ActionTests {
			used[filepath.Join(actions, tc.InputPath)] = true
			used[filepath.Join(actions, tc.ExpectedOutputPath)] = true
		}
		checkUsed(t, kind, used)
	}
}

// checkUsed: every object of a kind's testdata is among used.
func checkUsed(t *testing.T, kind string, used map[string]bool) {
	t.Helper()
	for _, path := range testdataFiles(t, kind) {
		if !used[filepath.Clean(path)] {
			t.Errorf("%s is used by no test", path)
		}
	}
}

// crdSchema returns the openAPIV3Schema of a kind's generated CRD.
func crdSchema(t *testing.T, kind string) map[string]any {
	t.Helper()
	plural := strings.ToLower(kind) + "s"
	var crd struct {
		Spec struct {
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join(root, "config", "crd", "bases", group+"_"+plural+".yaml")), &crd); err != nil {
		t.Fatal(err)
	}
	if crd.Spec.Names.Kind != kind {
		t.Fatalf("the CRD of %s names kind %s", plural, crd.Spec.Names.Kind)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == iamv1alpha1.GroupVersion.Version {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("the CRD of %s has no version %s", kind, iamv1alpha1.GroupVersion.Version)
	return nil
}

// checkSchema checks a value against a structural schema: known fields only, types, required
// fields, enums, patterns and lengths. metadata is left to the strict decode into ObjectMeta,
// CEL rules to the API server.
func checkSchema(path string, schema map[string]any, v any) []error {
	if schema["x-kubernetes-preserve-unknown-fields"] == true || path == ".metadata" {
		return nil
	}
	typ, _ := schema["type"].(string)
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	switch v := v.(type) {
	case map[string]any:
		if typ != "object" {
			fail("an object where the CRD has %s", typ)
			return errs
		}
		props, _ := schema["properties"].(map[string]any)
		extra, _ := schema["additionalProperties"].(map[string]any)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch sub, ok := props[k].(map[string]any); {
			case ok:
				errs = append(errs, checkSchema(path+"."+k, sub, v[k])...)
			case extra != nil:
				errs = append(errs, checkSchema(path+"."+k, extra, v[k])...)
			default:
				fail("field %q is not in the CRD", k)
			}
		}
		required, _ := schema["required"].([]any)
		for _, r := range required {
			if _, ok := v[r.(string)]; !ok {
				fail("required field %q is missing", r)
			}
		}
	case []any:
		if typ != "array" {
			fail("a list where the CRD has %s", typ)
			return errs
		}
		items, _ := schema["items"].(map[string]any)
		for i, item := range v {
			errs = append(errs, checkSchema(fmt.Sprintf("%s[%d]", path, i), items, item)...)
		}
	case string:
		if typ != "string" {
			fail("a string where the CRD has %s", typ)
			return errs
		}
		if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, any(v)) {
			fail("%q is not one of %v", v, enum)
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			fail("%q does not match %s", v, p)
		}
		if m, ok := schema["maxLength"].(float64); ok && float64(len([]rune(v))) > m {
			fail("%q is longer than %v", v, m)
		}
		if f, _ := schema["format"].(string); f == "date-time" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				fail("%q is not a date-time", v)
			}
		}
	case float64:
		if typ != "integer" && typ != "number" {
			fail("a number where the CRD has %s", typ)
		}
		if typ == "integer" && v != float64(int64(v)) {
			fail("%v is not an integer", v)
		}
	case bool:
		if typ != "boolean" {
			fail("a boolean where the CRD has %s", typ)
		}
	case nil:
		fail("null")
	}
	return errs
}
