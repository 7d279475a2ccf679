package reliability

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestAdminCredentialRotation: the operator's admin credential is rotated upstream (the old
// one stops working) and then in its Secret, while the operator runs. It picks up the new
// one without a restart.
func TestAdminCredentialRotation(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	sup := supervise(t, operatorOptions())
	ns := newNamespace(t)
	createAll(t, []client.Object{newPAT(ns, "first", "alice@example.com")})
	waitSettled(t, ns)

	newToken := env.Devin.RotateAdminToken() // the old credential is revoked upstream
	second := newPAT(ns, "second", "alice@example.com")
	// The webhook's lookups are cached, so the create itself may still pass; the mint fails.
	g.Eventually(func() error { return k8s.Create(ctx, second) }, timeout, interval).Should(Succeed())
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(second), second)
		if c := meta.FindStatusCondition(second.Status.Conditions, iamv1alpha1.ConditionReconciling); c != nil {
			return c.Reason
		}
		return ""
	}, timeout, interval).Should(Equal(iamv1alpha1.ReasonBackendUnauthorized))

	g.Expect(env.WriteCredentials(ctx, newToken.Reveal())).To(Succeed())
	waitSettled(t, ns)
	g.Expect(sup.Restarts()).To(BeZero(), "no restart was needed")
	expectInvariant(t)
	deleteAll(t, ns)
}
