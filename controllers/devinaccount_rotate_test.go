package controllers_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// rotatingAccount creates a DevinAccount with credentialRotation (keys of 48h, replaced a
// day ahead, the previous one revoked after 10m unused) on a new enterprise; it returns the
// account once Ready, with the key it started from.
func rotatingAccount(t *testing.T, ns string) (*iamv1alpha1.DevinAccount, *devinapitest.Enterprise, string) {
	t.Helper()
	g := NewWithT(t)
	ent := env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName("rot-"+rand.String(6)))
	g.Expect(k8s.Create(context.Background(), keySecret(ns, "key", ent.AdminToken().Reveal()))).To(Succeed())
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "rotating"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "key"},
			CredentialRotation: &iamv1alpha1.CredentialRotation{ExpiresAfter: &metav1.Duration{Duration: 48 * time.Hour},
				RenewBefore: &metav1.Duration{Duration: 24 * time.Hour}, QuietPeriod: &metav1.Duration{Duration: 10 * time.Minute}}}}
	g.Expect(k8s.Create(context.Background(), acct)).To(Succeed())
	acct = waitAccount(t, acct, func(st iamv1alpha1.DevinAccountStatus) bool {
		return meta.IsStatusConditionTrue(st.Conditions, iamv1alpha1.ConditionKeyRotation) && st.CredentialKey != nil
	})
	return acct, ent, acct.Status.CredentialKey.ID
}

// activeKeysOf lists the active keys of the enterprise's admin service user, asked with the
// key the account's Secret holds now.
func activeKeysOf(t *testing.T, ns string, ent *devinapitest.Enterprise) []string {
	t.Helper()
	value := secretOf(t, ns, "key").Data["token"]
	c := ent.Client(func(o *devinapi.Options) { o.Credentials = devinapi.StaticToken(devinapi.NewToken(string(value))) })
	keys, err := c.ListServiceUserAPIKeys(context.Background(), ent.AdminServiceUserID(), devinapi.KeyStatusActive)
	if err != nil {
		t.Fatalf("the key in the Secret does not work: %v", err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

// rotateOnce moves the clock past the renewal, waits for the new key in the Secret, then
// past the quiet period, and waits for the previous key's revocation.
func rotateOnce(t *testing.T, acct *iamv1alpha1.DevinAccount, ent *devinapitest.Enterprise, old string) string {
	t.Helper()
	g := NewWithT(t)
	clk.Step(25 * time.Hour)
	poke(t, acct)
	acct = waitAccount(t, acct, func(st iamv1alpha1.DevinAccountStatus) bool {
		return st.Rotation != nil && st.Rotation.PreviousKeyID == old && st.CredentialKey != nil && st.CredentialKey.ID != old
	})
	fresh := acct.Status.CredentialKey.ID
	sec := secretOf(t, acct.Namespace, "key")
	g.Expect(sec.Annotations).To(HaveKeyWithValue(iamv1alpha1.AccountKeyIDAnnotation, fresh))
	g.Expect(activeKeysOf(t, acct.Namespace, ent)).To(ConsistOf(old, fresh), "both keys live during the quiet period")

	clk.Step(11 * time.Minute)
	poke(t, acct)
	waitAccount(t, acct, func(st iamv1alpha1.DevinAccountStatus) bool { return st.Rotation == nil })
	g.Expect(activeKeysOf(t, acct.Namespace, ent)).To(ConsistOf(fresh), "the previous key is revoked, the new one works")
	return fresh
}

// TestAccountKeyRotation: an account with credentialRotation gets a new key in its Secret a
// day before the old one is due, the resources' calls go on with it, and the old key is
// revoked once unused for the quiet period: one working key, nothing left behind.
func TestAccountKeyRotation(t *testing.T) {
	ns := newNamespace(t)
	acct, ent, old := rotatingAccount(t, ns)
	fresh := rotateOnce(t, acct, ent, old)
	NewWithT(t).Expect(fresh).NotTo(Equal(old))
	waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))
}

// failOnce fails the first write that matches, as a crash at that point would lose it.
type failOnce struct {
	match func(sub string, obj client.Object) bool
	done  atomic.Bool
}

func (f *failOnce) wrap(inner client.Client) client.Client {
	fail := func(sub string, obj client.Object) error {
		if f.match(sub, obj) && f.done.CompareAndSwap(false, true) {
			return errors.New("injected: the operator died before this write")
		}
		return nil
	}
	return interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			if err := fail("", obj); err != nil {
				return err
			}
			return c.Patch(ctx, obj, p, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			if err := fail(sub, obj); err != nil {
				return err
			}
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
}

// TestAccountKeyRotationSurvivesCrashes: the write of the new key into the Secret is lost
// (the key was created upstream, its value shown once), or the status write after it is:
// either way the next look leaves one working key in the Secret and no live key that
// nobody holds, and the rotation completes.
func TestAccountKeyRotationSurvivesCrashes(t *testing.T) {
	for name, match := range map[string]func(string, client.Object) bool{
		"Secret write lost": func(_ string, obj client.Object) bool {
			sec, ok := obj.(*corev1.Secret)
			return ok && sec.Annotations[iamv1alpha1.AccountKeyIDAnnotation] != ""
		},
		"status write after the Secret lost": func(sub string, obj client.Object) bool {
			a, ok := obj.(*iamv1alpha1.DevinAccount)
			return ok && sub == "status" && a.Status.Rotation != nil && a.Status.Rotation.PreviousKeyID != ""
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := &failOnce{match: match}
			restartOperator(t, f.wrap)
			defer restartOperator(t, nil)
			ns := newNamespace(t)
			acct, ent, old := rotatingAccount(t, ns)
			fresh := rotateOnce(t, acct, ent, old)
			NewWithT(t).Expect(f.done.Load()).To(BeTrue(), "the write was not injected")
			NewWithT(t).Expect(activeKeysOf(t, ns, ent)).To(ConsistOf(fresh))
		})
	}
}

// TestAccountKeyRotationWithoutThePermission: a credential that may not create keys (403)
// says so in KeyRotation, and nothing else changes: the Secret keeps its key, no key is
// created, nothing is revoked.
func TestAccountKeyRotationWithoutThePermission(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	acct, ent, old := rotatingAccount(t, ns)
	before := secretOf(t, ns, "key").Data["token"]
	env.Devin.SetFaults(devinapitest.Faults{ErrorRate: map[string]float64{"POST /v3beta1/enterprise/service-users/{service_user_id}/api-keys": 1}, ErrorStatus: 403})
	defer env.Devin.SetFaults(devinapitest.Faults{})
	clk.Step(25 * time.Hour)
	poke(t, acct)
	acct = waitAccount(t, acct, accountReason(metav1.ConditionFalse, iamv1alpha1.ConditionKeyRotation, iamv1alpha1.ReasonRotationForbidden))
	g.Expect(meta.FindStatusCondition(acct.Status.Conditions, iamv1alpha1.ConditionKeyRotation).Message).To(ContainSubstring("ManageAccountServiceUsers"))
	g.Expect(acct.Status.Rotation).To(BeNil())
	g.Expect(secretOf(t, ns, "key").Data["token"]).To(Equal(before), "the Secret keeps its key")
	g.Expect(activeKeysOf(t, ns, ent)).To(ConsistOf(old), "no key created, none revoked")
	g.Expect(meta.IsStatusConditionTrue(acct.Status.Conditions, iamv1alpha1.ConditionReady)).To(BeTrue())
}
