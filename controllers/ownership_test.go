package controllers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// plantServiceUser provisions a service user upstream that no resource of this cluster
// created (another team's, another cluster's, or the previous release's naming).
func plantServiceUser(t *testing.T, name string) *devinapi.ProvisionedServiceUser {
	t.Helper()
	p, err := devinClient().ProvisionServiceUser(context.Background(), devinapi.ProvisionServiceUserRequest{
		Scope: devinapi.ScopeOrganization, OrgID: "org-default", Name: name, RoleID: "role-org-member", TTL: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Devin.DeleteServiceUser(p.ServiceUser.ID) })
	return p
}

// untouched checks that a planted service user is still active with its keys.
func untouched(t *testing.T, p *devinapi.ProvisionedServiceUser, keys int) {
	t.Helper()
	g := NewWithT(t)
	active := slices.ContainsFunc(env.Devin.ServiceUsers(), func(u devinapi.ServiceUser) bool { return u.ID == p.ServiceUser.ID && u.IsActive })
	g.Expect(active).To(BeTrue(), "the planted service user was deleted")
	g.Expect(liveKeysOf(p.ServiceUser.ID)).To(HaveLen(keys), "a key of the planted service user was revoked or added")
}

// TestServiceUserNeverAdoptsByName: a tenant who names their ServiceUser like someone
// else's service user upstream, even with an intent planted by a first reconcile that
// failed (a Secret conflict), gets a service user of their own: the upstream name carries
// the resource's UID and the cluster's identity, and the one that does not is never
// adopted, rotated, revoked or deleted.
func TestServiceUserNeverAdoptsByName(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	victim := plantServiceUser(t, "victim-"+ns)
	defaultNamed := plantServiceUser(t, ns+"-bot") // what the previous release would have named it

	// A Secret conflict stops the first reconcile after the intent is recorded.
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "thief"}})
	thief := newSU(ns, "thief", "Member", func(s *iamv1alpha1.ServiceUser) { s.Spec.Name = "victim-" + ns })
	create(t, thief)
	waitSU(t, thief, suStalled(iamv1alpha1.ReasonSecretConflict))
	g.Expect(k8s.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "thief"}})).To(Succeed())
	poke(t, thief)
	got := waitSU(t, thief, suReady)
	g.Expect(got.Status.ServiceUserID).NotTo(Equal(victim.ServiceUser.ID))
	g.Expect(got.Status.ServiceUserName).To(HavePrefix("victim-" + ns + " [k8s:"))
	g.Expect(got.Status.ServiceUserName).To(HaveSuffix(string(got.UID) + "]"))

	bot := newSU(ns, "bot", "Member")
	create(t, bot)
	gotBot := waitSU(t, bot, suReady)
	g.Expect(gotBot.Status.ServiceUserID).NotTo(Equal(defaultNamed.ServiceUser.ID))

	// The periodic check and deletion touch only their own.
	clk.Step(2 * time.Hour)
	poke(t, got)
	poke(t, gotBot)
	g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
	g.Expect(k8s.Delete(context.Background(), gotBot)).To(Succeed())
	for _, obj := range []client.Object{got, gotBot} {
		g.Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), &iamv1alpha1.ServiceUser{}))
		}, timeout, interval).Should(BeTrue())
	}
	untouched(t, victim, 1)
	untouched(t, defaultNamed, 1)
}

// TestStatusNamingAnotherServiceUserIsNeverActedOn (#22 7): someone who may write a
// ServiceUser's status (no shipped role grants it; a wildcard grant does) points
// status.serviceUserID at another team's service user and asks for a rotation: the operator
// proves ownership by the name's marker before it acts, so no key is created for that
// service user (one that would land in the writer's Secret), none of its keys is revoked,
// it is not deleted, and the resource provisions a service user of its own.
func TestStatusNamingAnotherServiceUserIsNeverActedOn(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	victim := plantServiceUser(t, "victim-"+ns)
	thief := newSU(ns, "thief", "Member")
	create(t, thief)
	got := waitSU(t, thief, suReady)
	own := got.Status.ServiceUserID

	g.Eventually(func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(got), got); err != nil {
			return err
		}
		got.Status.ServiceUserID = victim.ServiceUser.ID
		got.Status.PendingRevocations = append(got.Status.PendingRevocations,
			iamv1alpha1.PendingRevocation{ID: liveKeysOf(victim.ServiceUser.ID)[0].ID, RevokeAt: metav1.NewTime(clk.Now())})
		return k8s.Status().Update(context.Background(), got)
	}, timeout, interval).Should(Succeed())
	update(t, got, func(s *iamv1alpha1.ServiceUser) {
		s.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "steal"}
	})
	rotated := waitSU(t, got, func(s *iamv1alpha1.ServiceUser) bool {
		return suReady(s) && s.Status.RotateRequest == "steal"
	})
	g.Expect(rotated.Status.ServiceUserID).NotTo(Equal(victim.ServiceUser.ID))
	g.Expect(rotated.Status.ServiceUserName).To(HaveSuffix(string(rotated.UID)+"]"), "a service user of the resource's own")
	expectEvent(t, rotated, iamv1alpha1.EventOwnershipUnproven)
	untouched(t, victim, 1)

	g.Expect(k8s.Delete(context.Background(), rotated)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(rotated), &iamv1alpha1.ServiceUser{}))
	}, timeout, interval).Should(BeTrue())
	untouched(t, victim, 1)
	for _, id := range []string{own, rotated.Status.ServiceUserID} { // every one of its own is gone
		g.Expect(upstreamSU(id) == nil || !upstreamSU(id).IsActive).To(BeTrue(), "service user %s outlived the resource", id)
	}
}

// TestStatusNamingAnotherTokenIsNeverRevoked (#22 7): a pending revocation written into a
// PersonalAccessToken's status by someone who may write status names a token of another
// resource of the same user: the operator revokes only what the user's listing proves to be
// this resource's (its marker), and drops the entry.
func TestStatusNamingAnotherTokenIsNeverRevoked(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	victim := newPAT(ns, "victim", "alice@example.com")
	thief := newPAT(ns, "thief", "alice@example.com")
	create(t, victim)
	create(t, thief)
	v := waitPAT(t, victim, isReady)
	waitPAT(t, thief, isReady)
	got := &iamv1alpha1.PersonalAccessToken{}
	g.Eventually(func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(thief), got); err != nil {
			return err
		}
		got.Status.PendingRevocations = append(got.Status.PendingRevocations,
			iamv1alpha1.PendingRevocation{ID: v.Status.Token.ID, RevokeAt: metav1.NewTime(clk.Now().Add(-time.Minute))})
		return k8s.Status().Update(context.Background(), got)
	}, timeout, interval).Should(Succeed())
	poke(t, got)
	waitPAT(t, thief, func(p *iamv1alpha1.PersonalAccessToken) bool {
		return isReady(p) && len(p.Status.PendingRevocations) == 0
	})
	g.Expect(slices.ContainsFunc(liveTokensOf(string(v.UID)), func(r devinapitest.TokenRecord) bool { return r.ID == v.Status.Token.ID })).
		To(BeTrue(), "another resource's token was revoked on the word of status")
}

// TestFinalizerRemovedStillRevokes (#22 5): a tenant who removes the operator's finalizer
// and deletes the resource (metadata-only updates skip the webhooks) does not keep its
// credentials live upstream: the operator saw the resource with credentials, sees it vanish
// without its deletion's work, and revokes what carries its marker.
func TestFinalizerRemovedStillRevokes(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	pat := newPAT(ns, "leaving-pat", "alice@example.com")
	su := newSU(ns, "leaving-su", "Member")
	create(t, pat)
	create(t, su)
	p := waitPAT(t, pat, isReady)
	s := waitSU(t, su, suReady)
	g.Expect(liveTokensOf(string(p.UID))).NotTo(BeEmpty())

	for _, obj := range []client.Object{p, s} {
		update(t, obj, func(o client.Object) { o.SetFinalizers(nil) })
		g.Expect(k8s.Delete(context.Background(), obj)).To(Succeed())
	}
	g.Eventually(func() []devinapitest.TokenRecord { return liveTokensOf(string(p.UID)) }, timeout, interval).
		Should(BeEmpty(), "the PAT's token outlived the resource")
	g.Eventually(func() bool {
		return upstreamSU(s.Status.ServiceUserID) == nil || !upstreamSU(s.Status.ServiceUserID).IsActive
	}, timeout, interval).
		Should(BeTrue(), "the service user outlived the resource")
}
