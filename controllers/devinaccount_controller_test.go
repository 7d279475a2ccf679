package controllers_test

import (
	"context"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func accountReason(status metav1.ConditionStatus, condType, reason string) func(iamv1alpha1.DevinAccountStatus) bool {
	return func(st iamv1alpha1.DevinAccountStatus) bool {
		c := meta.FindStatusCondition(st.Conditions, condType)
		return c != nil && c.Status == status && c.Reason == reason
	}
}

// waitAccount waits until the account's status satisfies ok and returns the account.
func waitAccount[T interface {
	client.Object
	AccountStatus() *iamv1alpha1.DevinAccountStatus
}](t *testing.T, obj T, ok func(iamv1alpha1.DevinAccountStatus) bool) T {
	t.Helper()
	return waitFor(t, obj, func(a T) bool { return ok(*a.AccountStatus()) })
}

func keySecret(ns, name, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: map[string]string{"token": value}}
}

// TestDevinAccountReportsItsCredential: an account whose Secret holds a service user's key of
// another enterprise (on the same API) is Ready with that service user; a Secret missing,
// then created, and a key replaced by one the API refuses, are seen through the watch of
// that one Secret, without a restart, each with its reason.
func TestDevinAccountReportsItsCredential(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	acme := env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName("acme-"+rand.String(6)))
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "team-key"}}}
	g.Expect(k8s.Create(ctx, acct)).To(Succeed())
	waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonSecretMissing))

	g.Expect(k8s.Create(ctx, keySecret(ns, "team-key", acme.AdminToken().Reveal()))).To(Succeed())
	ready := waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))
	g.Expect(ready.Status.ServiceUserID).To(Equal(acme.AdminServiceUserID()), "the account is the other enterprise's service user")
	g.Expect(ready.Status.Principal).NotTo(BeEmpty())
	g.Expect(meta.FindStatusCondition(ready.Status.Conditions, iamv1alpha1.ConditionStalled)).To(BeNil())

	refused := keySecret(ns, "team-key", "cog_"+rand.String(40))
	g.Expect(k8s.Update(ctx, refused)).To(Succeed())
	stalled := waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonCredentialRefused))
	g.Expect(stalled.Status.ServiceUserID).To(BeEmpty())
}

// TestClusterDevinAccountReadsOnlyAllowedNamespaces: a ClusterDevinAccount reads its Secret
// from the operator's namespace; one naming another namespace is Stalled, its Secret never
// read.
func TestClusterDevinAccountReadsOnlyAllowedNamespaces(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	name := "shared-" + rand.String(6)
	g.Expect(k8s.Create(ctx, keySecret(devenv.OperatorNamespace, name, env.Devin.AdminToken().Reveal()))).To(Succeed())
	g.Expect(k8s.Create(ctx, keySecret(ns, name, env.Devin.AdminToken().Reveal()))).To(Succeed())
	shared := &iamv1alpha1.ClusterDevinAccount{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: name}}}
	elsewhere := &iamv1alpha1.ClusterDevinAccount{ObjectMeta: metav1.ObjectMeta{Name: name + "-elsewhere"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Namespace: ns, Name: name}}}
	for _, a := range []client.Object{shared, elsewhere} {
		g.Expect(k8s.Create(ctx, a)).To(Succeed())
		t.Cleanup(func() { _ = k8s.Delete(ctx, a) })
	}
	got := waitAccount(t, shared, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))
	g.Expect(got.Status.ServiceUserID).To(Equal(devinapitest.AdminServiceUserID))
	waitAccount(t, elsewhere, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonSecretNamespaceNotAllowed))
}

// TestDevinAccountCannotAimTheOperatorElsewhere plays a tenant who points their account at a
// URL of their choosing (an internal service, say): the operator does not call it, and the
// account says why.
func TestDevinAccountCannotAimTheOperatorElsewhere(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	g.Expect(k8s.Create(ctx, keySecret(ns, "key", env.Devin.AdminToken().Reveal()))).To(Succeed())
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "elsewhere"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: "https://kubernetes.default.svc", CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "key"}}}
	g.Expect(k8s.Create(ctx, acct)).To(Succeed())
	got := waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonAPIURLNotAllowed))
	g.Expect(got.Status.ServiceUserID).To(BeEmpty())
}

// reconciles is how many reconciles of the named controller have finished.
func reconciles(t *testing.T, controller string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labels(m)["controller"] == controller {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// statusWrites counts the operator's writes of accounts' status.
type statusWrites struct{ n atomic.Int64 }

func (w *statusWrites) wrap(inner client.Client) client.Client {
	return interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if _, ok := obj.(*iamv1alpha1.DevinAccount); ok && sub == "status" {
				w.n.Add(1)
			}
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
}

// TestDevinAccountCheckWritesNothingNew: a check that finds what status already says (here
// after a change of the Secret that keeps its key) sends no write.
func TestDevinAccountCheckWritesNothingNew(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	writes := &statusWrites{}
	restartOperator(t, writes.wrap)
	ns := newNamespace(t)
	sec := keySecret(ns, "key", env.Devin.AdminToken().Reveal())
	g.Expect(k8s.Create(ctx, sec)).To(Succeed())
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "quiet"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "key"}}}
	g.Expect(k8s.Create(ctx, acct)).To(Succeed())
	waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))

	before, wrote := reconciles(t, "devinaccount"), writes.n.Load()
	update(t, sec, func(s *corev1.Secret) { s.Labels = map[string]string{"team": "a"} })
	g.Eventually(func() float64 { return reconciles(t, "devinaccount") }, timeout, interval).Should(BeNumerically(">", before))
	g.Expect(writes.n.Load()).To(Equal(wrote), "the account's status was written although nothing changed")
}
