package policy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

func TestNamespaceSummaryAndValidate(t *testing.T) {
	in := iamv1alpha1.NamespaceSelectorRequirement{Key: "tenant", Operator: metav1.LabelSelectorOpIn, Values: []string{"a", "b"}}
	cases := map[string]struct {
		spec  iamv1alpha1.CredentialPolicySpec
		want  string
		valid bool
	}{
		"every namespace": {want: "all", valid: true},
		"names only":      {spec: iamv1alpha1.CredentialPolicySpec{Namespaces: []string{"team-a", "team-b"}}, want: "team-a, team-b", valid: true},
		"selector only": {
			spec: iamv1alpha1.CredentialPolicySpec{NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchExpressions: []iamv1alpha1.NamespaceSelectorRequirement{in}}},
			want: "tenant in (a,b)", valid: true,
		},
		"both": {
			spec: iamv1alpha1.CredentialPolicySpec{Namespaces: []string{"a"}, NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchLabels: map[string]iamv1alpha1.LabelValue{"x": "y"}}},
			want: "a (x=y)", valid: true,
		},
		"invalid": {
			spec: iamv1alpha1.CredentialPolicySpec{NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchExpressions: []iamv1alpha1.NamespaceSelectorRequirement{{Key: "x", Operator: "Is"}}}},
			want: "<invalid selector>",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := NamespaceSummary(&tc.spec); got != tc.want {
				t.Errorf("NamespaceSummary = %q, want %q", got, tc.want)
			}
			err := Validate(&iamv1alpha1.CredentialPolicy{Spec: tc.spec})
			if (err == nil) != tc.valid {
				t.Errorf("Validate = %v, want valid %v", err, tc.valid)
			}
		})
	}
}

func TestSelectsKeepsTheCallersLabels(t *testing.T) {
	p := policyFor("p", "a")
	labels := map[string]string{"tenant": "a"}
	if ok, err := Selects(&p, "ns", labels); !ok || err != nil {
		t.Fatalf("Selects = %v, %v", ok, err)
	}
	if len(labels) != 1 {
		t.Errorf("Selects changed the caller's labels: %v", labels)
	}
}
