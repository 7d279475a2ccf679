package reliability

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestWebhookUnreachable: with the webhook configuration installed but no webhook server
// answering (failurePolicy Fail), creates are refused at once with a clear message, and
// deleting a resource, which removes its finalizer, still completes.
func TestWebhookUnreachable(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	ns := newNamespace(t)
	up := supervise(t, operatorOptions())
	pat := newPAT(ns, "before", "dave@example.com")
	createAll(t, []client.Object{pat})
	waitSettled(t, ns)
	up.stop()

	opts := operatorOptions()
	opts.EnableWebhooks = false // nobody serves the webhook now
	supervise(t, opts)

	err := k8s.Create(ctx, newPAT(ns, "during", "dave@example.com"))
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("failed calling webhook"))
	g.Expect(err.Error()).To(MatchRegexp(`webhook "[a-z]+\.iam\.devin\.ai"`))

	g.Expect(k8s.Delete(ctx, pat)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(pat), &iamv1alpha1.PersonalAccessToken{}))
	}, timeout, interval).Should(BeTrue(), "the finalizer removal must not need the webhook")
	expectInvariant(t)
}
