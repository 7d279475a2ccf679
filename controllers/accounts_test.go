package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// teamAccount creates, in ns, a DevinAccount "team" whose Secret holds the admin key of a new
// enterprise, waits until it is Ready and returns the enterprise.
func teamAccount(t *testing.T, ns string) *devinapitest.Enterprise {
	t.Helper()
	g := NewWithT(t)
	ent := env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName("team-"+rand.String(6)))
	g.Expect(k8s.Create(context.Background(), keySecret(ns, "team-key", ent.AdminToken().Reveal()))).To(Succeed())
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "team-key"},
			DefaultOrganization: ent.Organizations()[0]}}
	g.Expect(k8s.Create(context.Background(), acct)).To(Succeed())
	waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))
	return ent
}

func onAccount(kind, name string) func(*iamv1alpha1.ServiceUser) {
	return func(s *iamv1alpha1.ServiceUser) { s.Spec.AccountRef = &iamv1alpha1.AccountRef{Kind: kind, Name: name} }
}

// TestAccountSSOEnforced: a DevinAccount whose enterprise enforces SSO (ssoMode enforced)
// refuses every personal access token through it, Stalled SSOAccount, nothing minted in its
// enterprise; the same person's token through the default account is not affected.
func TestAccountSSOEnforced(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	ent := env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName("sso-"+rand.String(6)))
	g.Expect(k8s.Create(ctx, keySecret(ns, "sso-key", ent.AdminToken().Reveal()))).To(Succeed())
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sso"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "sso-key"}, SSOMode: "enforced"}}
	g.Expect(k8s.Create(ctx, acct)).To(Succeed())
	waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))

	through := newPAT(ns, "through-sso", "alice@example.com", func(p *iamv1alpha1.PersonalAccessToken) {
		p.Spec.AccountRef = &iamv1alpha1.AccountRef{Kind: iamv1alpha1.KindDevinAccount, Name: "sso"}
	})
	plain := newPAT(ns, "plain", "alice@example.com")
	g.Expect(k8s.Create(ctx, through)).To(Succeed())
	g.Expect(k8s.Create(ctx, plain)).To(Succeed())
	waitPAT(t, through, func(p *iamv1alpha1.PersonalAccessToken) bool {
		c := condition(p, iamv1alpha1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == iamv1alpha1.ReasonSSOAccount
	})
	g.Expect(ent.LiveTokens()).To(BeEmpty(), "nothing minted in the SSO-enforced enterprise")
	waitPAT(t, plain, func(p *iamv1alpha1.PersonalAccessToken) bool { return p.Status.Token != nil })
}

// TestAccountSAMLThroughItsAdminKey: an account with an enterprise admin key finds a user's
// SAML identity (v2) before any mint: sam's PAT through it is Stalled SSOAccount saying so.
func TestAccountSAMLThroughItsAdminKey(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	ent := env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName("saml-"+rand.String(6)))
	g.Expect(k8s.Create(ctx, keySecret(ns, "saml-key", ent.AdminToken().Reveal()))).To(Succeed())
	g.Expect(k8s.Create(ctx, keySecret(ns, "saml-admin", ent.EnterpriseAdminKey().Reveal()))).To(Succeed())
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "saml"},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: "saml-key"},
			EnterpriseAdminKeySecretRef: &iamv1alpha1.AccountSecretRef{Name: "saml-admin"}}}
	g.Expect(k8s.Create(ctx, acct)).To(Succeed())
	waitAccount(t, acct, accountReason(metav1.ConditionTrue, iamv1alpha1.ConditionReady, iamv1alpha1.ReasonCredentialValid))

	pat := newPAT(ns, "sam", "sam@example.com", func(p *iamv1alpha1.PersonalAccessToken) {
		p.Spec.AccountRef = &iamv1alpha1.AccountRef{Kind: iamv1alpha1.KindDevinAccount, Name: "saml"}
	})
	g.Expect(k8s.Create(ctx, pat)).To(Succeed())
	stalled := waitPAT(t, pat, func(p *iamv1alpha1.PersonalAccessToken) bool {
		c := condition(p, iamv1alpha1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == iamv1alpha1.ReasonSSOAccount
	})
	// The Devin API would refuse the create too, in other words: naming the SAML identity
	// shows the operator found it through the account's admin key, before asking.
	g.Expect(condition(stalled, iamv1alpha1.ConditionStalled).Message).To(ContainSubstring("SAML"))
}

// serviceUsersOf lists the active service users of an enterprise, through the real client
// with that enterprise's own admin key.
func serviceUsersOf(t *testing.T, ent *devinapitest.Enterprise) []devinapi.ServiceUser {
	t.Helper()
	all, err := ent.Client().ListServiceUsers(context.Background(), false)
	if err != nil {
		t.Fatalf("list the service users of %s: %v", ent.Name(), err)
	}
	return all
}

func holds(users []devinapi.ServiceUser, id string) bool {
	for _, u := range users {
		if u.ID == id {
			return true
		}
	}
	return false
}

// TestTwoTeamsTwoAccounts: two namespaces, each with its own DevinAccount on its own
// enterprise, provision through their own account only: each service user exists in its
// team's enterprise and in no other, its key authenticates there, status names the account;
// a resource without accountRef still uses the default account.
func TestTwoTeamsTwoAccounts(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	nsA, nsB := newNamespace(t), newNamespace(t)
	entA, entB := teamAccount(t, nsA), teamAccount(t, nsB)
	suA := newSU(nsA, "app", "Member", onAccount(iamv1alpha1.KindDevinAccount, "team"))
	suB := newSU(nsB, "app", "Member", onAccount(iamv1alpha1.KindDevinAccount, "team"))
	suDefault := newSU(nsA, "plain", "Member")
	for _, su := range []*iamv1alpha1.ServiceUser{suA, suB, suDefault} {
		g.Expect(k8s.Create(ctx, su)).To(Succeed())
	}
	suA, suB, suDefault = waitSU(t, suA, suReady), waitSU(t, suB, suReady), waitSU(t, suDefault, suReady)
	g.Expect(suA.Status.Account).To(Equal("DevinAccount/team"))
	g.Expect(suDefault.Status.Account).To(Equal(iamv1alpha1.DefaultAccount))

	usersA, usersB := serviceUsersOf(t, entA), serviceUsersOf(t, entB)
	g.Expect(holds(usersA, suA.Status.ServiceUserID)).To(BeTrue(), "team A's service user is in team A's enterprise")
	g.Expect(holds(usersB, suB.Status.ServiceUserID)).To(BeTrue(), "team B's service user is in team B's enterprise")
	g.Expect(holds(usersA, suB.Status.ServiceUserID) || holds(usersB, suA.Status.ServiceUserID)).To(BeFalse(), "neither team's service user is in the other's enterprise")
	g.Expect(holds(usersA, suDefault.Status.ServiceUserID) || holds(usersB, suDefault.Status.ServiceUserID)).To(BeFalse(), "the default account's service user is in neither")
	g.Expect(upstreamSU(suDefault.Status.ServiceUserID)).NotTo(BeNil(), "the default account's service user is in the default enterprise")
	g.Expect(upstreamSU(suA.Status.ServiceUserID)).To(BeNil())

	g.Expect(accountSeries(t, "devinapi_requests_total", "DevinAccount/"+nsA+"/team")).To(BeNumerically(">", 0), "the account's calls are counted under its label")
	g.Expect(accountSeries(t, "token_operator_credential_expiry_timestamp_seconds", "DevinAccount/"+nsB+"/team")).To(Equal(1))

	sec := secretOf(t, nsA, "app")
	self, err := entA.Client().SelfWithToken(ctx, devinapi.NewToken(string(sec.Data["token"])))
	g.Expect(err).NotTo(HaveOccurred(), "team A's key authenticates in team A's enterprise")
	g.Expect(self.ServiceUserID).To(Equal(suA.Status.ServiceUserID))

	g.Expect(k8s.Delete(ctx, suA)).To(Succeed())
	g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(suA), suA)) }, timeout, interval).Should(BeTrue())
	g.Expect(holds(serviceUsersOf(t, entA), suA.Status.ServiceUserID)).To(BeFalse(), "deleted through its own account")
	g.Expect(holds(serviceUsersOf(t, entB), suB.Status.ServiceUserID)).To(BeTrue(), "team B's is untouched")
}

// TestAccountRefStaysInItsNamespace: a resource naming a DevinAccount that exists only in
// another namespace waits (AccountNotReady), mints nothing, and is provisioned once an
// account of that name exists in its own namespace; the account's change wakes it.
func TestAccountRefStaysInItsNamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	nsA, nsB := newNamespace(t), newNamespace(t)
	teamAccount(t, nsA)
	su := newSU(nsB, "thief", "Member", onAccount(iamv1alpha1.KindDevinAccount, "team"))
	g.Expect(k8s.Create(ctx, su)).To(Succeed())
	waiting := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
		c := condition(s, iamv1alpha1.ConditionReady)
		return c != nil && c.Reason == iamv1alpha1.ReasonAccountNotReady
	})
	g.Expect(condition(waiting, iamv1alpha1.ConditionReady).Message).To(ContainSubstring("DevinAccount " + nsB + "/team does not exist"))
	g.Expect(waiting.Status.ServiceUserID).To(BeEmpty(), "nothing is provisioned through another namespace's account")

	entB := teamAccount(t, nsB)
	ready := waitSU(t, su, suReady)
	g.Expect(holds(serviceUsersOf(t, entB), ready.Status.ServiceUserID)).To(BeTrue())
}

// TestDeletingEverythingRevokesThroughTheAccount is what deleting a namespace does: the
// resource, its account and the account's Secret are deleted at once. The account and its
// Secret stay (finalizers) until the resource has deleted its service user through them,
// then go, across a restart of the operator in the middle; nothing is left upstream,
// nothing hangs.
func TestDeletingEverythingRevokesThroughTheAccount(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	ent := teamAccount(t, ns)
	su := newSU(ns, "app", "Member", onAccount(iamv1alpha1.KindDevinAccount, "team"))
	g.Expect(k8s.Create(ctx, su)).To(Succeed())
	su = waitSU(t, su, suReady)
	acct := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"}}
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(acct), acct)).To(Succeed())
	g.Expect(controllerutil.ContainsFinalizer(acct, iamv1alpha1.AccountFinalizer)).To(BeTrue())
	g.Eventually(func() bool {
		return controllerutil.ContainsFinalizer(secretOf(t, ns, "team-key"), iamv1alpha1.AccountSecretFinalizer)
	}, timeout, interval).Should(BeTrue(), "the account holds its Secret")

	// The order the namespace controller happens to use must not matter: the Secret and
	// the account first.
	g.Expect(k8s.Delete(ctx, keySecret(ns, "team-key", ""))).To(Succeed())
	g.Expect(k8s.Delete(ctx, acct)).To(Succeed())
	g.Expect(k8s.Delete(ctx, su)).To(Succeed())
	// The operator dies and comes back in the middle: what it knew in memory is gone, the
	// finalizers are not.
	restartOperator(t, nil)
	gone := func(obj client.Object) func() bool {
		return func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)) }
	}
	g.Eventually(gone(su), timeout, interval).Should(BeTrue(), "the resource revoked through the account and went")
	g.Eventually(gone(acct), timeout, interval).Should(BeTrue(), "the account went after its last user")
	g.Eventually(gone(keySecret(ns, "team-key", "")), timeout, interval).Should(BeTrue(), "its Secret went with it")
	g.Expect(holds(serviceUsersOf(t, ent), su.Status.ServiceUserID)).To(BeFalse(), "nothing the resource made is left upstream")
	g.Expect(accountSeries(t, "token_operator_credential_expiry_timestamp_seconds", "DevinAccount/"+ns+"/team")).To(BeZero(), "the account's series went with it")
	g.Expect(accountSeries(t, "devinapi_requests_total", "DevinAccount/"+ns+"/team")).To(BeZero())
}

// accountSeries counts the operator's series of metric whose account label is account.
func accountSeries(t *testing.T, metric, account string) int {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		if f.GetName() != metric {
			continue
		}
		for _, m := range f.GetMetric() {
			if labels(m)["account"] == account {
				n++
			}
		}
	}
	return n
}
