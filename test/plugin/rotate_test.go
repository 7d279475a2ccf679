package plugin

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// reread returns the resource as the API server has it now.
func reread(t *testing.T, pat *iamv1alpha1.PersonalAccessToken) *iamv1alpha1.PersonalAccessToken {
	t.Helper()
	got := &iamv1alpha1.PersonalAccessToken{}
	NewWithT(t).Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), got)).To(Succeed())
	return got
}

// TestRotateWaitsForTheNewToken: rotate sets the annotation, waits (with progress on
// stderr) until the Secret holds a new token, and says that the previous one stays valid
// for its grace period; upstream it is still live.
func TestRotateWaitsForTheNewToken(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	before := readyPAT(t, tn.ns, "rotated")
	old := before.Status.Token.ID

	r := plugin(t, alice, "", "rotate", "pat/rotated", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	after := reread(t, before)
	g.Expect(after.Status.Token.ID).NotTo(Equal(old))
	g.Expect(after.Status.RotateRequest).To(Equal(after.Annotations[iamv1alpha1.RotateAnnotation]))
	g.Expect(after.Status.LastRotationReason).To(Equal(iamv1alpha1.RotationRequested))
	g.Expect(r.stderr).To(ContainSubstring("set " + iamv1alpha1.RotateAnnotation + "=" + after.Status.RotateRequest + " on pat/rotated; waiting"))
	g.Expect(r.stdout).To(ContainSubstring("pat/rotated rotated: Secret rotated holds token " + after.Status.Token.ID))
	g.Expect(r.stdout).To(ContainSubstring("Previous token " + old + ": still valid, waiting for "))
	g.Expect(after.Status.PendingRevocations).To(ContainElement(HaveField("ID", old)))
	g.Expect(liveToken(old)).To(BeTrue(), "the previous token is revoked after its grace period, not at once")

	// The pending revocation shows in status, with what it waits for.
	waitEvent(t, after, iamv1alpha1.EventTokenRotated)
	r = plugin(t, alice, "", "status", "pat/rotated", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	g.Expect(r.stdout).To(ContainSubstring(old))
	g.Expect(r.stdout).To(ContainSubstring("at the latest " + after.Status.PendingRevocations[0].RevokeAt.UTC().Format("2006-01-02T15:04:05Z")))
	g.Expect(r.stdout).To(ContainSubstring(iamv1alpha1.EventTokenRotated))
}

// TestRotateCompromised: --compromised revokes the previous token at once; rotate waits for
// that and says so.
func TestRotateCompromised(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	before := readyPAT(t, tn.ns, "leaked")
	old := before.Status.Token.ID

	r := plugin(t, "admin", "", "rotate", "pat/leaked", "-n", tn.ns, "--compromised")
	g.Expect(r.code).To(Equal(0), r.String())
	after := reread(t, before)
	g.Expect(after.Annotations[iamv1alpha1.RotateAnnotation]).To(HavePrefix(iamv1alpha1.RotateCompromised + "-"))
	g.Expect(r.stdout).To(ContainSubstring("Previous token " + old + ": revoked at once (--compromised)"))
	g.Expect(after.Status.PendingRevocations).To(BeEmpty())
	g.Expect(liveToken(old)).To(BeFalse(), "the compromised token is revoked upstream")
	g.Expect(liveToken(after.Status.Token.ID)).To(BeTrue())
}

// TestRotateRefusedByTheMintBudget: with the operator's mint budget at 2 creates an hour,
// the first token and one rotation fit; the next rotation is refused, rotate says so and
// exits 1, and the Secret keeps its token. Asked again, rotate refuses at once and changes
// nothing.
func TestRotateRefusedByTheMintBudget(t *testing.T) {
	g := NewWithT(t)
	tn := newTenant(t)
	pat := readyPAT(t, tn.ns, "budget")

	r := plugin(t, "admin", "", "rotate", "pat/budget", "-n", tn.ns)
	g.Expect(r.code).To(Equal(0), r.String())
	kept := reread(t, pat).Status.Token.ID

	r = plugin(t, "admin", "", "rotate", "pat/budget", "-n", tn.ns)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stderr).To(ContainSubstring("the rotation was refused by the operator's mint budget (" + iamv1alpha1.ReasonMintBudgetExhausted + ")"))
	g.Expect(r.stderr).To(ContainSubstring("--mint-budget=2"))
	g.Expect(r.stdout).To(BeEmpty())
	after := reread(t, pat)
	g.Expect(after.Status.Token.ID).To(Equal(kept), "the Secret keeps its token")
	g.Expect(stalledFor(after.Status.Conditions, after.Generation)).To(Equal(iamv1alpha1.ReasonMintBudgetExhausted))

	annotation := after.Annotations[iamv1alpha1.RotateAnnotation]
	r = plugin(t, "admin", "", "rotate", "pat/budget", "-n", tn.ns)
	g.Expect(r.code).To(Equal(1), r.String())
	g.Expect(r.stderr).To(ContainSubstring("may not mint now, refused by the operator's mint budget"))
	g.Expect(r.stderr).To(ContainSubstring("Nothing was changed"))
	g.Expect(reread(t, pat).Annotations[iamv1alpha1.RotateAnnotation]).To(Equal(annotation))
	g.Expect(strings.Count(r.stderr, "\n")).To(Equal(1), "one line says it all")
}
