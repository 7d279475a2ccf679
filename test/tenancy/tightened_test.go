package tenancy

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// TestTightenedPolicy (6): a policy tightened after resources exist stops every further
// mint and rotation beyond it, revokes nothing, and the resources say why and until when
// their token works; loosened again, the rotation that was asked for goes ahead. A policy
// deleted while resources rely on it acts the same.
func TestTightenedPolicy(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(ns))
	a := newMember(t, alice, nil, ns)
	allowPolicy(t, ns, p.Name, alice, "use")
	su := newSU(ns, "bot", "Member")
	pat := newPAT(ns, "mine", alice)
	NewWithT(t).Expect(a.Create(ctx, su)).To(Succeed())
	NewWithT(t).Expect(a.Create(ctx, pat)).To(Succeed())
	su, pat = waitReady(t, su), waitReady(t, pat)
	suToken, patToken := su.Status.Token.ID, pat.Status.Token.ID

	NewWithT(t).Expect(retryUpdate(k8s, p, func(p *iamv1alpha1.CredentialPolicy) {
		p.Spec.ServiceUsers.Roles = []string{"DeepWiki Only"}
		no := false
		p.Spec.PersonalAccessTokens.AllowOwner = &no
	})).To(Succeed())
	waitPolicy(t, p)
	su = waitAdmitted(t, su, "False", iamv1alpha1.ReasonPolicyDenied, `role "Member" (ID "`+devinapitest.RoleOrgMember+`") is not among [DeepWiki Only]`)
	pat = waitAdmitted(t, pat, "False", iamv1alpha1.ReasonPolicyDenied, "allowOwner: false")
	NewWithT(t).Expect(su.Status.Policy).To(BeEmpty())

	// Rotations asked for now are refused, with a condition and an event; nothing is revoked.
	before := writes()
	for _, obj := range []credential.Object{su, pat} {
		NewWithT(t).Expect(retryUpdate(a, obj, func(o credential.Object) {
			ann := o.GetAnnotations()
			ann[iamv1alpha1.RotateAnnotation] = "after-tightening"
			o.SetAnnotations(ann)
		})).To(Succeed())
	}
	su = waitStalled(t, su, iamv1alpha1.ReasonPolicyDenied, "the current token keeps working until it expires")
	pat = waitStalled(t, pat, iamv1alpha1.ReasonPolicyDenied, "is not renewed")
	for _, obj := range []credential.Object{su, pat} {
		NewWithT(t).Eventually(func() []string { return eventReasons(obj) }, timeout, interval).Should(ContainElement(iamv1alpha1.ReasonPolicyDenied))
	}
	NewWithT(t).Expect(su.Status.Token.ID).To(Equal(suToken))
	NewWithT(t).Expect(pat.Status.Token.ID).To(Equal(patToken))
	NewWithT(t).Expect(writes()).To(Equal(before), "a tightened policy let a mint or a revocation through")
	for _, id := range []string{suToken, patToken} {
		NewWithT(t).Expect(live(id)).To(BeTrue(), "token %s was revoked", id)
	}

	// Loosened again: the rotation asked for goes ahead.
	NewWithT(t).Expect(retryUpdate(k8s, p, func(p *iamv1alpha1.CredentialPolicy) {
		p.Spec.ServiceUsers.Roles = []string{"Member"}
		p.Spec.PersonalAccessTokens.AllowOwner = nil
	})).To(Succeed())
	su = waitFor(t, su, func(o *iamv1alpha1.ServiceUser) bool { return isReady(o) && o.Status.Token.ID != suToken }, "rotated")
	pat = waitFor(t, pat, func(o *iamv1alpha1.PersonalAccessToken) bool { return isReady(o) && o.Status.Token.ID != patToken }, "rotated")

	// Deleted: as tightened.
	NewWithT(t).Expect(k8s.Delete(ctx, p)).To(Succeed())
	waitAdmitted(t, su, "False", iamv1alpha1.ReasonPolicyDenied, `no CredentialPolicy selects namespace "`+ns+`"`)
	waitAdmitted(t, pat, "False", iamv1alpha1.ReasonPolicyDenied, `no CredentialPolicy selects namespace "`+ns+`"`)
}

// live reports whether the Devin API holds the token, unrevoked.
func live(id string) bool {
	for _, tok := range env.Devin.Tokens() {
		if tok.ID == id {
			return tok.RevokedAt == nil
		}
	}
	return false
}
