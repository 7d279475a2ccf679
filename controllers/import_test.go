package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// generatePAT is a personal access token its owner generated in account settings (in the
// in-memory API, through the assumed endpoint); it is revoked when the test ends.
func generatePAT(t *testing.T, userID string) *devinapi.IssuedKey {
	t.Helper()
	exp := clk.Now().Add(90 * 24 * time.Hour)
	key, err := devinClient().CreatePAT(context.Background(), userID, devinapi.CreateKeyRequest{Name: "from account settings", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Devin.RevokeKey(key.ID) })
	return key
}

// sourceSecret is a Secret the owner wrote by hand, holding value.
func sourceSecret(t *testing.T, ns, name, value string) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"token": []byte(value)}})
}

func importing(source string) func(*iamv1alpha1.PersonalAccessToken) {
	return func(p *iamv1alpha1.PersonalAccessToken) {
		p.Spec.ImportFrom = &iamv1alpha1.ImportSource{SecretName: source}
	}
}

// TestPATImport: the owner's own token is imported into the managed Secret; someone else's
// token and a dead one are refused, saying nothing about whose token it is; a token revoked
// later is found by the periodic check; deletion cannot revoke it and says so.
func TestPATImport(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	alice := generatePAT(t, "user-alice")
	sourceSecret(t, ns, "alice-source", alice.Token.Reveal())
	pat := newPAT(ns, "imported", "alice@example.com", importing("alice-source"))
	create(t, pat)
	got := waitPAT(t, pat, isReady)
	g.Expect(got.Status.Token.ID).To(Equal(alice.ID))
	g.Expect(got.Status.RenewAt).To(BeNil(), "the operator cannot renew an imported token")
	g.Expect(got.Status.Conditions).To(ContainElement(HaveField("Message", ContainSubstring("imported from spec.importFrom"))))
	sec := secretOf(t, ns, "imported")
	g.Expect(devenv.Fingerprints(sec.Data)).To(Equal(devenv.Fingerprints(map[string][]byte{"token": []byte(alice.Token.Reveal())})))
	g.Expect(metav1.IsControlledBy(sec, got)).To(BeTrue())

	// Deleting an import of a live token leaves it valid upstream, and says that its owner
	// revokes it.
	kept := newPAT(ns, "kept", "alice@example.com", importing("alice-source"))
	create(t, kept)
	keptReady := waitPAT(t, kept, isReady)
	g.Expect(k8s.Delete(context.Background(), keptReady)).To(Succeed())
	expectEvent(t, keptReady, iamv1alpha1.EventImportedTokenNotRevoked)
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(kept), &iamv1alpha1.PersonalAccessToken{}))
	}, timeout, interval).Should(BeTrue())
	g.Expect(env.Devin.LiveTokens()).To(ContainElement(HaveField("ID", alice.ID)), "deletion cannot revoke an imported token")

	// Revoked upstream by its owner: the periodic check finds it and the resource stops;
	// asked to import again, it finds the source holds the same dead token, and says so.
	g.Expect(env.Devin.RevokeKey(alice.ID)).To(Succeed())
	clk.Step(2 * time.Hour)
	poke(t, got)
	expectEvent(t, got, iamv1alpha1.EventTokenRevokedUpstream)
	got = waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonRevokedUpstream))
	update(t, got, func(p *iamv1alpha1.PersonalAccessToken) {
		p.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "re-import"}
	})
	got = waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonImportRefused))

	// Deleting it, with nothing live left, completes.
	g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), &iamv1alpha1.PersonalAccessToken{}))
	}, timeout, interval).Should(BeTrue())
}

func TestPATImportRefusals(t *testing.T) {
	cases := map[string]struct {
		value      func(t *testing.T) string
		reason     string
		message    string
		notMention []string
	}{
		"someone else's token": {
			value:      func(t *testing.T) string { return generatePAT(t, "user-dave").Token.Reveal() },
			reason:     iamv1alpha1.ReasonImportRefused,
			message:    "does not belong to alice@example.com",
			notMention: []string{"dave", "user-dave"},
		},
		"a token that does not authenticate": {
			value:   func(*testing.T) string { return "cog_" + strings.Repeat("x", 40) },
			reason:  iamv1alpha1.ReasonImportRefused,
			message: "does not authenticate",
		},
		"a service user's key": {
			value:   func(*testing.T) string { return env.Devin.AdminToken().Reveal() },
			reason:  iamv1alpha1.ReasonImportRefused,
			message: "is not a personal access token",
		},
		"no source Secret": {
			reason:  iamv1alpha1.ReasonImportSourceMissing,
			message: `Secret "source" does not exist`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			if tc.value != nil {
				sourceSecret(t, ns, "source", tc.value(t))
			}
			pat := newPAT(ns, "imported", "alice@example.com", importing("source"))
			create(t, pat)
			got := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, tc.reason))
			msg := condition(got, iamv1alpha1.ConditionStalled).Message
			g.Expect(msg).To(ContainSubstring(tc.message))
			for _, s := range tc.notMention {
				g.Expect(msg).NotTo(ContainSubstring(s), "the refusal must say nothing about whose token it is")
			}
			g.Expect(got.Status.Token).To(BeNil())
			g.Expect(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "imported"}, &corev1.Secret{})).
				To(Satisfy(apierrors.IsNotFound), "nothing is written for a refused token")
		})
	}
}

// TestPATWithoutPATEndpoints: against an API without the (unpublished) PAT endpoints, as
// the real one is today, a mint stops with its own reason after one try, and deletion does
// not wait for a revocation that cannot exist.
func TestPATWithoutPATEndpoints(t *testing.T) {
	g := NewWithT(t)
	srv := devinapitest.NewTestServer(t, devinapitest.WithoutPATAPI(), devinapitest.WithClock(clk),
		devinapitest.WithAdminToken(env.Devin.AdminToken().Reveal()))
	restartOperatorWith(t, func(o *operator.Options) { o.DevinAPIURL = srv.URL })
	t.Cleanup(func() { restartOperator(t, nil) })

	ns := newNamespace(t)
	pat := newPAT(ns, "minted", "alice@example.com")
	create(t, pat)
	got := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonPATAPIUnavailable))
	g.Expect(condition(got, iamv1alpha1.ConditionStalled).Message).To(ContainSubstring("account settings"))
	// Each try records an intent first: one intent, one try; and no more while it waits.
	g.Expect(got.Status.IssueCount).To(Equal(int64(1)), "one try, then no retry until the spec changes or the recheck")
	g.Consistently(func() int64 {
		_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), got)
		return got.Status.IssueCount
	}, 2*time.Second, interval).Should(Equal(int64(1)), "no retry loop")

	g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), &iamv1alpha1.PersonalAccessToken{}))
	}, timeout, interval).Should(BeTrue(), "nothing was minted, so nothing blocks the deletion")
}
