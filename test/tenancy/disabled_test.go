package tenancy

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/policy"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// withoutWebhooks removes the operator's webhook configurations, as a chart installed with
// webhooks off (or one being reinstalled) leaves the cluster, until the test ends or the
// returned func restores them.
func withoutWebhooks(t *testing.T) (restore func()) {
	t.Helper()
	ctx := context.Background()
	g := NewWithT(t)
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "mutating-webhook-configuration"}, mutating)).To(Succeed())
	g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "validating-webhook-configuration"}, validating)).To(Succeed())
	for _, o := range []client.Object{mutating, validating} {
		g.Expect(k8s.Delete(ctx, o)).To(Succeed())
	}
	restored := false
	restore = func() {
		if restored {
			return
		}
		restored = true
		for _, o := range []client.Object{mutating, validating} {
			o.SetResourceVersion("")
			o.SetUID("")
			o.SetCreationTimestamp(metav1.Time{})
			o.SetManagedFields(nil)
			if err := k8s.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Errorf("restore %s: %v", o.GetName(), err)
			}
		}
		// In force again once a request no policy allows is refused.
		probe := newSU("default", "webhook-probe", "Member")
		NewWithT(t).Eventually(func() error { return k8s.Create(ctx, probe.DeepCopy(), client.DryRunAll) }, timeout, interval).
			Should(MatchError(ContainSubstring("no CredentialPolicy selects namespace")))
	}
	t.Cleanup(restore)
	// Gone once a request no policy allows is admitted.
	probe := newSU("default", "webhook-probe", "Member")
	g.Eventually(func() error { return k8s.Create(ctx, probe.DeepCopy(), client.DryRunAll) }, timeout, interval).Should(Succeed())
	return restore
}

// TestReadmittedThroughTheWebhook: a resource created while the webhook was away is
// admitted, once it is back, when a person the policy allows removes (or changes) its record;
// someone it does not allow gets a warning, and the record stays as it was.
func TestReadmittedThroughTheWebhook(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(ns))
	a := newMember(t, alice, nil, ns)
	allowPolicy(t, ns, p.Name, alice, "use")
	e := newMember(t, "erin@example.com", nil, ns) // may edit, may not use the policy

	restore := withoutWebhooks(t)
	const forged = "v1.e30.AAAA"
	su := newSU(ns, "later", "Member")
	su.Annotations = map[string]string{iamv1alpha1.AdmissionAnnotation: forged}
	NewWithT(t).Expect(a.Create(ctx, su)).To(Succeed())
	waitStalled(t, su, iamv1alpha1.ReasonNotAdmitted, "no valid admission record")
	restore()

	dropRecord := func(su *iamv1alpha1.ServiceUser) { delete(su.Annotations, iamv1alpha1.AdmissionAnnotation) }
	NewWithT(t).Expect(retryUpdate(e, su, dropRecord)).To(Succeed(), "a change of metadata alone is never refused")
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKeyFromObject(su), su)).To(Succeed())
	NewWithT(t).Expect(su.Annotations).To(HaveKeyWithValue(iamv1alpha1.AdmissionAnnotation, forged),
		"a requester the policy does not allow changed the record")

	NewWithT(t).Expect(retryUpdate(a, su, dropRecord)).To(Succeed())
	su = waitReady(t, su)
	NewWithT(t).Expect(su.Status.Policy).To(Equal(p.Name))
}

// TestWebhookDisabledNothingBeyondThePolicyIsMinted (5): with the webhooks gone, what a tenant
// creates or changes carries no valid admission record, and the controllers mint nothing for
// it and change no role upstream: a PAT for someone else, a ServiceUser beyond the policy, a
// record copied from another resource, a record replayed from an earlier resource of the
// same name, a role raised on an admitted ServiceUser (with or without its record).
func TestWebhookDisabledNothingBeyondThePolicyIsMinted(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, nil)
	p := createPolicy(t, teamPolicy(ns))
	a := newMember(t, alice, nil, ns)
	allowPolicy(t, ns, p.Name, alice, "use")
	const mallory = "mallory@example.com"
	m := newMember(t, mallory, nil, ns)
	allowPolicy(t, ns, p.Name, mallory, "use")

	// Admitted through the webhook while it is there.
	admitted := newSU(ns, "admitted", "Member")
	raised := newSU(ns, "raised", "Member")
	stripped := newSU(ns, "stripped", "Member")
	for _, su := range []*iamv1alpha1.ServiceUser{admitted, raised, stripped} {
		NewWithT(t).Expect(a.Create(ctx, su)).To(Succeed())
		waitReady(t, su)
	}
	withoutWebhooks(t)
	before := writes()

	forDave := newPAT(ns, "for-dave", dave)
	NewWithT(t).Expect(m.Create(ctx, forDave)).To(Succeed())
	beyond := newSU(ns, "admin-bot", "Admin")
	NewWithT(t).Expect(a.Create(ctx, beyond)).To(Succeed())
	copied := newSU(ns, "copied", "Member")
	copied.Annotations = map[string]string{iamv1alpha1.AdmissionAnnotation: admitted.Annotations[iamv1alpha1.AdmissionAnnotation]}
	NewWithT(t).Expect(a.Create(ctx, copied)).To(Succeed())
	replayed := newSU(ns, "replayed", "Member")
	replayed.Annotations = map[string]string{iamv1alpha1.AdmissionAnnotation: oldRecord(t, replayed, alice)}
	NewWithT(t).Expect(a.Create(ctx, replayed)).To(Succeed())
	NewWithT(t).Expect(retryUpdate(a, raised, func(su *iamv1alpha1.ServiceUser) { su.Spec.Role = "Admin" })).To(Succeed())
	NewWithT(t).Expect(retryUpdate(a, stripped, func(su *iamv1alpha1.ServiceUser) {
		su.Spec.Role = "Admin"
		delete(su.Annotations, iamv1alpha1.AdmissionAnnotation)
	})).To(Succeed())

	waitStalled(t, forDave, iamv1alpha1.ReasonNotAdmitted, "no valid admission record")
	for _, su := range []*iamv1alpha1.ServiceUser{beyond, copied, replayed} {
		waitStalled(t, su, iamv1alpha1.ReasonNotAdmitted, "until it is admitted through the webhook again")
		expectNothingUpstream(t, su)
	}
	expectNothingUpstream(t, forDave)
	NewWithT(t).Expect(copied.Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring(`it admitted ServiceUser "`+ns+`"/"admitted"`))))
	NewWithT(t).Expect(replayed.Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring("for an earlier resource of this name"))))
	for _, su := range []*iamv1alpha1.ServiceUser{raised, stripped} {
		su = waitAdmitted(t, su, "False", iamv1alpha1.ReasonNotAdmitted, "keeps working until it expires")
		NewWithT(t).Expect(upstreamRole(t, su)).To(Equal(devinapitest.RoleOrgMember), "%s: the role was raised upstream", su.Name)
	}
	NewWithT(t).Expect(writes()).To(Equal(before), "the Devin API received writes for resources no policy admitted")
}

// oldRecord seals, with the operator's own key, the record the webhook would have written
// for obj an hour ago: the record of an earlier resource of the same name and spec, which a
// tenant who kept it could replay.
func oldRecord(t *testing.T, obj client.Object, user string) string {
	t.Helper()
	ctx := context.Background()
	key := &corev1.Secret{}
	NewWithT(t).Expect(k8s.Get(ctx, client.ObjectKey{Namespace: devenv.OperatorNamespace, Name: operator.DefaultOptions().AdmissionKeySecretName}, key)).To(Succeed())
	ring, err := policy.KeyRingFromSecretData(key.Data)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	// The spec as the API server stores it (defaults applied), as the webhook would see it.
	stored := obj.DeepCopyObject().(client.Object)
	NewWithT(t).Expect(k8s.Create(ctx, stored, client.DryRunAll)).To(Succeed())
	hash, err := policy.SpecHash(stored)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	sealed, err := ring.Seal(policy.Record{
		Kind: policy.KindServiceUser, Namespace: obj.GetNamespace(), Name: obj.GetName(), SpecHash: hash,
		User: user, Groups: []string{"system:authenticated"}, Email: user, UID: "old-request",
		At: time.Now().Add(-time.Hour),
	})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	return sealed
}

// retryUpdate re-reads obj as c and writes it with change, retrying conflicts.
func retryUpdate[T client.Object](c client.Client, obj T, change func(T)) error {
	var err error
	for range 50 {
		if err = c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		if err = c.Update(context.Background(), obj); !apierrors.IsConflict(err) {
			return err
		}
	}
	return err
}
