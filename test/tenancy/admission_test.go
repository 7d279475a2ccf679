package tenancy

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Through the real webhooks, as the tenants themselves: each refusal says what the requester
// would need, and each test has a positive control showing that the refusal comes from the
// policy, not from something else.

const (
	alice  = "alice@example.com"
	dave   = "dave@example.com"
	gitops = "system:serviceaccount:argocd:argocd-application-controller"
)

var gitopsGroups = []string{"system:serviceaccounts", "system:serviceaccounts:argocd"}

// TestNoPolicyNoCredential (1): a user who may edit tokens in a namespace that no policy
// selects gets neither a ServiceUser nor a personal access token, and is told why.
func TestNoPolicyNoCredential(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	a := newMember(t, alice, nil, ns)

	err := a.Create(ctx, newSU(ns, "bot", "Member"))
	refused(t, err, `no CredentialPolicy selects namespace "`+ns+`"`, "a cluster administrator must create one")
	err = a.Create(ctx, newPAT(ns, "mine", alice))
	refused(t, err, `no CredentialPolicy selects namespace "`+ns+`"`)
}

// TestServiceUserBeyondThePolicy (2): a policy for namespace A allows role Member in the
// default organization: role Admin, scope Enterprise or another organization is refused.
func TestServiceUserBeyondThePolicy(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(ns))
	a := newMember(t, alice, nil, ns)
	allowPolicy(t, ns, p.Name, alice, "use")

	t.Run("role Admin", func(t *testing.T) {
		err := a.Create(ctx, newSU(ns, "admin-bot", "Admin"))
		refused(t, err, "no CredentialPolicy allows this ServiceUser", `role "Admin"`, "is not among [Member]")
	})
	t.Run("scope Enterprise", func(t *testing.T) {
		su := newSU(ns, "enterprise-bot", "Enterprise Member")
		su.Spec.Scope = iamv1alpha1.ScopeEnterprise
		refused(t, a.Create(ctx, su), `scope "Enterprise" is not among [Organization]`)
	})
	t.Run("another organization", func(t *testing.T) {
		su := newSU(ns, "elsewhere-bot", "Member")
		su.Spec.OrganizationID = "org-other"
		refused(t, a.Create(ctx, su), `organization "org-other" is not the operator's default organization`)
	})
	t.Run("an update beyond the policy", func(t *testing.T) {
		su := newSU(ns, "promoted-bot", "Member")
		NewWithT(t).Expect(a.Create(ctx, su)).To(Succeed())
		waitReady(t, su)
		su.Spec.Role = "Admin"
		refused(t, a.Update(ctx, su), `role "Admin"`)
	})
	t.Run("control: Member in the default organization", func(t *testing.T) {
		su := newSU(ns, "bot", "Member")
		NewWithT(t).Expect(a.Create(ctx, su)).To(Succeed())
		// The finalizer comes with the create (the admission webhook's patch), at no extra
		// write: deleting the resource at any point later revokes its credentials.
		NewWithT(t).Expect(su.Finalizers).To(ContainElement(iamv1alpha1.Finalizer))
		su = waitAdmitted(t, su, "True", iamv1alpha1.ReasonPolicyAllowed, "CredentialPolicy "+p.Name)
		su = waitReady(t, su)
		NewWithT(t).Expect(su.Status.Policy).To(Equal(p.Name))
		NewWithT(t).Expect(su.Annotations).To(HaveKey(iamv1alpha1.AdmissionAnnotation))
	})
	t.Run("the policy counts the resources relying on it", func(t *testing.T) {
		// A note on the policy makes it count now rather than at its next periodic recount.
		g := NewWithT(t)
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		p.SetAnnotations(map[string]string{"test/recount": "now"})
		g.Expect(k8s.Update(ctx, p)).To(Succeed())
		g.Eventually(func() int32 {
			got := &iamv1alpha1.CredentialPolicy{}
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), got)
			return got.Status.Resources
		}, timeout, interval).Should(BeEquivalentTo(2), "promoted-bot (still Member) and bot")
	})
}

// TestDelegateBoundedByThePolicy (3): a GitOps identity that may delegate under a policy
// gets the tokens of the people it lists, in the namespaces it selects, and nothing else;
// holding the RBAC verbs in another namespace does not widen the policy's selector.
func TestDelegateBoundedByThePolicy(t *testing.T) {
	ctx := context.Background()
	a, b := newNamespace(t, nil), newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(a))
	argo := newMember(t, gitops, gitopsGroups, a, b)
	allowPolicy(t, a, p.Name, gitops, "use", "delegate")
	allowPolicy(t, b, p.Name, gitops, "use", "delegate")

	t.Run("a user outside the delegation", func(t *testing.T) {
		err := argo.Create(ctx, newPAT(a, "for-alice", alice))
		refused(t, err, "no CredentialPolicy allows this PersonalAccessToken", `the token belongs to "alice@example.com", not to you`,
			"its delegation covers neither that user nor that domain")
	})
	t.Run("a namespace the policy does not select", func(t *testing.T) {
		err := argo.Create(ctx, newPAT(b, "for-dave", dave))
		refused(t, err, `no CredentialPolicy selects namespace "`+b+`"`)
	})
	t.Run("control: a listed user in a selected namespace", func(t *testing.T) {
		pat := newPAT(a, "for-dave", dave)
		NewWithT(t).Expect(argo.Create(ctx, pat)).To(Succeed())
		waitReady(t, pat)
	})
}

// TestNoUseNoCredential (4): without the RBAC verb use on the policy, a user who may edit
// tokens in a selected namespace is refused; granting it (the answer is cached for seconds)
// lets the same request through.
func TestNoUseNoCredential(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(ns))
	const erin = "erin@example.com"
	e := newMember(t, erin, []string{"team-a"}, ns)

	err := e.Create(ctx, newSU(ns, "bot", "Member"))
	refused(t, err, "policy "+p.Name+": you may not use it (RBAC verb use on credentialpolicies/"+p.Name+" in namespace "+ns+")")

	allowPolicy(t, ns, p.Name, erin, "use")
	NewWithT(t).Eventually(func() error { return e.Create(ctx, newSU(ns, "bot", "Member")) }, timeout, interval).Should(Succeed())
}

// TestMalformedObjectsGetTheSchemasAnswer (#22 9): the mutating webhooks run before the API
// server validates a create against the schema; a malformed object is passed on to that
// validation, which refuses it naming the field, never answered with an InternalError (a
// 500 blaming the Devin API) or a decode error that names no field.
func TestMalformedObjectsGetTheSchemasAnswer(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(ns))
	a := newMember(t, alice, nil, ns)
	allowPolicy(t, ns, p.Name, alice, "use")

	for name, tc := range map[string]struct {
		kind, spec, field string
	}{
		"a PAT without user":             {"PersonalAccessToken", `{}`, "spec.user"},
		"a PAT with a day as a duration": {"PersonalAccessToken", `{"user":{"email":"alice@example.com"},"expiresAfter":"1d"}`, "spec.expiresAfter"},
		"a ServiceUser without role":     {"ServiceUser", `{}`, "spec.role"},
		"a ServiceUser with a bad ttl":   {"ServiceUser", `{"role":"Member","ttl":"soon"}`, "spec.ttl"},
	} {
		t.Run(name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			doc := `{"apiVersion":"iam.devin.ai/v1alpha1","kind":"` + tc.kind + `","metadata":{"name":"bad","namespace":"` + ns + `"},"spec":` + tc.spec + `}`
			NewWithT(t).Expect(u.UnmarshalJSON([]byte(doc))).To(Succeed())
			err := a.Create(ctx, u)
			NewWithT(t).Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid naming %s, got %v", tc.field, err)
			NewWithT(t).Expect(err.Error()).To(ContainSubstring(tc.field))
		})
	}
}
