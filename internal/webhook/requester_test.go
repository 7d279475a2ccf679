package webhook

import (
	"encoding/json"
	"testing"

	jsonpatchapply "github.com/evanphx/json-patch/v5"
	"gomodules.xyz/jsonpatch/v2"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestRequestedByJoinsTheSeal: madmission's answer to a new PersonalAccessToken without
// annotations carries both the sealed record and the requester. Each op alone would add the
// whole annotations map; applied in order, the second would drop the first's key.
func TestRequestedByJoinsTheSeal(t *testing.T) {
	const requester = "alice@example.com"
	rb := jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{iamv1alpha1.RequestedByAnnotation: requester})
	cases := map[string]struct {
		resp admission.Response
		want map[string]string
	}{
		"sealed, no annotations before": {
			resp: admission.Patched("", jsonpatch.NewOperation("add", "/metadata/annotations", map[string]string{iamv1alpha1.AdmissionAnnotation: "sealed"})),
			want: map[string]string{iamv1alpha1.AdmissionAnnotation: "sealed", iamv1alpha1.RequestedByAnnotation: requester},
		},
		"nothing sealed (policies off)": {
			resp: admission.Allowed(""),
			want: map[string]string{iamv1alpha1.RequestedByAnnotation: requester},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			op := rb
			resp := withRequestedBy(tc.resp, &op)
			raw, err := json.Marshal(resp.Patches)
			if err != nil {
				t.Fatal(err)
			}
			patch, err := jsonpatchapply.DecodePatch(raw)
			if err != nil {
				t.Fatal(err)
			}
			out, err := patch.Apply([]byte(`{"metadata":{"name":"x"}}`))
			if err != nil {
				t.Fatalf("apply %s: %v", raw, err)
			}
			var obj struct {
				Metadata struct {
					Annotations map[string]string `json:"annotations"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(out, &obj); err != nil {
				t.Fatal(err)
			}
			if len(obj.Metadata.Annotations) != len(tc.want) {
				t.Fatalf("annotations %v, want %v (patch %s)", obj.Metadata.Annotations, tc.want, raw)
			}
			for k, v := range tc.want {
				if obj.Metadata.Annotations[k] != v {
					t.Fatalf("annotations %v, want %v (patch %s)", obj.Metadata.Annotations, tc.want, raw)
				}
			}
			if resp.PatchType == nil {
				t.Fatal("a patched answer without a patch type")
			}
		})
	}
	denied := withRequestedBy(admission.Denied("no"), &rb)
	if len(denied.Patches) != 0 {
		t.Fatalf("a refusal carries a patch: %v", denied.Patches)
	}
}
