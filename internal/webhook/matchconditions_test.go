package webhook

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/cel-go/cel"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
)

// The webhooks skip objects being deleted (so that deletion never waits on them), and only
// those: a create never counts as one, even one whose body carries a deletionTimestamp
// (mutating admission may see the body before the API server clears it; a create taken
// for a deletion would skip admission and keep the record its client wrote). The match
// conditions of the generated configuration are evaluated as the API server does.
func TestOnlyObjectsBeingDeletedSkipTheWebhooks(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := cel.NewEnv(cel.Variable("request", cel.DynType), cel.Variable("object", cel.DynType), cel.Variable("oldObject", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	deleting := map[string]any{"metadata": map[string]any{"name": "x", "deletionTimestamp": "2026-01-01T00:00:00Z"}}
	live := map[string]any{"metadata": map[string]any{"name": "x"}}
	cases := []struct {
		name              string
		op                string
		object, oldObject any
		want              bool
	}{
		{"a create", "CREATE", live, nil, true},
		{"a create carrying a deletionTimestamp", "CREATE", deleting, nil, true},
		{"an update of a live object", "UPDATE", live, live, true},
		{"an update of an object being deleted", "UPDATE", deleting, deleting, false},
	}
	found := 0
	dec := yaml.NewYAMLOrJSONDecoder(bytesReader(raw), 4096)
	for {
		var doc struct {
			Kind     string                                      `json:"kind"`
			Webhooks []admissionregistrationv1.ValidatingWebhook `json:"webhooks"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		for _, wh := range doc.Webhooks {
			for _, mc := range wh.MatchConditions {
				if mc.Name != "not-being-deleted" {
					continue
				}
				found++
				ast, iss := env.Compile(mc.Expression)
				if iss.Err() != nil {
					t.Fatalf("%s: %v", wh.Name, iss.Err())
				}
				prg, err := env.Program(ast)
				if err != nil {
					t.Fatal(err)
				}
				for _, tc := range cases {
					out, _, err := prg.Eval(map[string]any{"request": map[string]any{"operation": tc.op}, "object": tc.object, "oldObject": tc.oldObject})
					if err != nil || out.Value() != tc.want {
						t.Errorf("%s, %s: %q gives %v (%v), want %v", wh.Name, tc.name, mc.Expression, out, err, tc.want)
					}
				}
			}
		}
	}
	if found != 3 {
		t.Fatalf("found %d not-being-deleted conditions, want one per webhook that records or checks (3)", found)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
