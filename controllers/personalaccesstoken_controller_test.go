package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func newPAT(ns, name, email string, mutate ...func(*iamv1alpha1.PersonalAccessToken)) *iamv1alpha1.PersonalAccessToken {
	pat := &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: iamv1alpha1.PersonalAccessTokenSpec{
			User: iamv1alpha1.UserReference{Email: email},
		},
	}
	for _, m := range mutate {
		m(pat)
	}
	return pat
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitFor waits until the object satisfies cond and returns it as last read.
func waitFor[T client.Object](t *testing.T, obj T, cond func(T) bool) T {
	t.Helper()
	got := obj.DeepCopyObject().(T)
	NewWithT(t).Eventually(func() bool {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
			return false
		}
		return cond(got)
	}, timeout, interval).Should(BeTrue(), func() string {
		return fmt.Sprintf("%T %s/%s never reached the expected state; last: %+v", obj, obj.GetNamespace(), obj.GetName(), got)
	})
	return got
}

// waitPAT waits until the PAT satisfies cond and returns it.
func waitPAT(t *testing.T, pat *iamv1alpha1.PersonalAccessToken, cond func(*iamv1alpha1.PersonalAccessToken) bool) *iamv1alpha1.PersonalAccessToken {
	t.Helper()
	return waitFor(t, pat, cond)
}

func isReady(p *iamv1alpha1.PersonalAccessToken) bool {
	return conditions.IsReady(p.Status.Conditions, p.Generation) && p.Status.Token != nil
}

func hasReason(condType, reason string) func(*iamv1alpha1.PersonalAccessToken) bool {
	return func(p *iamv1alpha1.PersonalAccessToken) bool {
		c := condition(p, condType)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
	}
}

func readyWithTokenOtherThan(id string) func(*iamv1alpha1.PersonalAccessToken) bool {
	return func(p *iamv1alpha1.PersonalAccessToken) bool { return isReady(p) && p.Status.Token.ID != id }
}

// liveTokensOf lists the live upstream tokens that carry the resource's UID.
func liveTokensOf(uid string) []devinapitest.TokenRecord {
	var out []devinapitest.TokenRecord
	for _, r := range env.Devin.LiveTokens() {
		if credential.OwnedBy(r.Name, types.UID(uid)) {
			out = append(out, r)
		}
	}
	return out
}

// assertHoldsLiveToken checks the invariant for one ready PAT: its Secret holds a live
// upstream token, the one status names, and the only other live tokens of the resource are
// those waiting for their grace period.
func assertHoldsLiveToken(t *testing.T, p *iamv1alpha1.PersonalAccessToken) {
	t.Helper()
	g := NewWithT(t)
	sec := secretOf(t, p.Namespace, credential.SecretName(p))
	id, err := liveKeyID(context.Background(), sec.Data[credential.SecretKey(p)])
	g.Expect(err).NotTo(HaveOccurred(), "the Secret's token must authenticate")
	g.Expect(id).To(Equal(p.Status.Token.ID))
	g.Expect(sec.Annotations[iamv1alpha1.TokenIDAnnotation]).To(Equal(id))
	allowed := map[string]bool{id: true}
	for _, pr := range p.Status.PendingRevocations {
		allowed[pr.ID] = true
	}
	for _, r := range liveTokensOf(string(p.UID)) {
		g.Expect(allowed).To(HaveKey(r.ID), "live upstream token %s belongs to no Secret", r.ID)
	}
}

func TestPATMintWritesOwnedSecret(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	pat := newPAT(ns, "ci", "Alice@Example.com", func(p *iamv1alpha1.PersonalAccessToken) {
		p.Spec.SecretTemplate = &iamv1alpha1.SecretTemplate{
			Key:         "DEVIN_API_KEY",
			Labels:      map[string]iamv1alpha1.LabelValue{"team": "platform"},
			Annotations: map[string]string{"reloader.stakater.com/match": "true"},
		}
	})
	create(t, pat)
	got := waitPAT(t, pat, isReady)

	g.Expect(got.Finalizers).To(ContainElement(iamv1alpha1.Finalizer))
	g.Expect(got.Status.UserEmail).To(Equal("alice@example.com"))
	g.Expect(got.Status.UserID).NotTo(BeEmpty())
	g.Expect(got.Status.SecretName).To(Equal("ci"))
	g.Expect(got.Status.ExpiresAt).NotTo(BeNil())
	g.Expect(got.Status.RenewAt.Time).To(BeTemporally("<", got.Status.ExpiresAt.Time))
	g.Expect(got.Status.PendingIssue).To(BeNil())
	g.Expect(got.Status.Token.Name).To(ContainSubstring(string(got.UID)))

	sec := secretOf(t, ns, "ci")
	g.Expect(sec.Type).To(Equal(corev1.SecretTypeOpaque))
	g.Expect(devenv.Fingerprints(sec.Data)).To(And(HaveLen(1), HaveKey("DEVIN_API_KEY")))
	g.Expect(sec.Labels).To(HaveKeyWithValue(iamv1alpha1.ManagedByLabel, iamv1alpha1.ManagedByValue))
	g.Expect(sec.Labels).To(HaveKeyWithValue("team", "platform"))
	g.Expect(sec.Annotations).To(HaveKeyWithValue("reloader.stakater.com/match", "true"))
	g.Expect(metav1.IsControlledBy(sec, got)).To(BeTrue())
	assertHoldsLiveToken(t, got)
	g.Expect(liveTokensOf(string(got.UID))).To(HaveLen(1))
}

func TestPATRotationTriggers(t *testing.T) {
	cases := map[string]struct {
		trigger func(t *testing.T, p *iamv1alpha1.PersonalAccessToken)
		reason  string
	}{
		"rotate annotation": {
			trigger: func(t *testing.T, p *iamv1alpha1.PersonalAccessToken) {
				update(t, p, func(p *iamv1alpha1.PersonalAccessToken) {
					p.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "2026-11-23"}
				})
			},
			reason: iamv1alpha1.RotationRequested,
		},
		"secret deleted": {
			trigger: func(t *testing.T, p *iamv1alpha1.PersonalAccessToken) {
				if err := k8s.Delete(context.Background(), secretOf(t, p.Namespace, p.Name)); err != nil {
					t.Fatal(err)
				}
			},
			reason: iamv1alpha1.RotationSecretDeleted,
		},
		"secret data altered": {
			trigger: func(t *testing.T, p *iamv1alpha1.PersonalAccessToken) {
				sec := secretOf(t, p.Namespace, p.Name)
				sec.Data["token"] = []byte("tampered")
				if err := k8s.Update(context.Background(), sec); err != nil {
					t.Fatal(err)
				}
			},
			reason: iamv1alpha1.RotationSecretModified,
		},
		"renewal before expiry": {
			trigger: func(t *testing.T, p *iamv1alpha1.PersonalAccessToken) {
				clk.SetTime(p.Status.RenewAt.Add(time.Second))
				poke(t, p)
			},
			reason: iamv1alpha1.RotationRenewal,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			pat := newPAT(ns, "rot", "alice@example.com", func(p *iamv1alpha1.PersonalAccessToken) {
				p.Spec.ExpiresAfter = &metav1.Duration{Duration: 24 * time.Hour}
				p.Spec.RotationGracePeriod = &metav1.Duration{Duration: 10 * time.Minute}
			})
			create(t, pat)
			first := waitPAT(t, pat, isReady)
			oldID := first.Status.Token.ID

			tc.trigger(t, first)
			rotated := waitPAT(t, pat, readyWithTokenOtherThan(oldID))
			g.Expect(rotated.Status.LastRotationReason).To(Equal(tc.reason))
			assertHoldsLiveToken(t, rotated)

			// The previous token stays valid for the grace period, then is revoked.
			g.Expect(rotated.Status.PendingRevocations).To(ConsistOf(HaveField("ID", oldID)))
			g.Expect(liveTokensOf(string(rotated.UID))).To(HaveLen(2))
			clk.Step(11 * time.Minute)
			poke(t, rotated)
			done := waitPAT(t, pat, func(p *iamv1alpha1.PersonalAccessToken) bool {
				return isReady(p) && len(p.Status.PendingRevocations) == 0
			})
			g.Expect(liveTokensOf(string(done.UID))).To(ConsistOf(HaveField("ID", done.Status.Token.ID)))
		})
	}
}

func TestPATDeletion(t *testing.T) {
	cases := map[string]struct {
		policy   iamv1alpha1.DeletionPolicy
		liveLeft int
	}{
		"Delete revokes": {policy: iamv1alpha1.DeletionPolicyDelete, liveLeft: 0},
		"Orphan leaves":  {policy: iamv1alpha1.DeletionPolicyOrphan, liveLeft: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			pat := newPAT(ns, "del", "dave@example.com", func(p *iamv1alpha1.PersonalAccessToken) { p.Spec.DeletionPolicy = tc.policy })
			create(t, pat)
			got := waitPAT(t, pat, isReady)
			g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
			g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), &iamv1alpha1.PersonalAccessToken{}))
			}, timeout, interval).Should(BeTrue())
			g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "del"}, &corev1.Secret{}))
			}, timeout, interval).Should(BeTrue())
			g.Expect(liveTokensOf(string(got.UID))).To(HaveLen(tc.liveLeft))
		})
	}
}

func TestPATDeletionWaitsForBackend(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	pat := newPAT(ns, "down", "dave@example.com")
	create(t, pat)
	got := waitPAT(t, pat, isReady)

	env.Devin.SetFaults(devinapitest.Faults{Down: true, RetryAfter: time.Second})
	t.Cleanup(func() { env.Devin.SetFaults(devinapitest.Faults{}) })
	g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
	waiting := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionReconciling, iamv1alpha1.ReasonRevocationPending))
	g.Expect(condition(waiting, iamv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(condition(waiting, iamv1alpha1.ConditionReconciling).Message).To(ContainSubstring("deletionPolicy: Orphan"))
	expectEvent(t, waiting, iamv1alpha1.ReasonRevocationPending)
	g.Expect(liveTokensOf(string(got.UID))).To(HaveLen(1))

	env.Devin.SetFaults(devinapitest.Faults{})
	g.Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), &iamv1alpha1.PersonalAccessToken{}))
	}, timeout, interval).Should(BeTrue())
	g.Expect(liveTokensOf(string(got.UID))).To(BeEmpty())
}

func TestPATRefusals(t *testing.T) {
	cases := map[string]struct {
		user   iamv1alpha1.UserReference
		reason string
		msg    string
	}{
		"SSO-linked account":      {user: iamv1alpha1.UserReference{Email: "bob@example.com"}, reason: iamv1alpha1.ReasonSSOAccount, msg: "use a ServiceUser"},
		"PAT feature not enabled": {user: iamv1alpha1.UserReference{Email: "carol@example.com"}, reason: iamv1alpha1.ReasonFeatureNotEnabled, msg: "closed beta"},
		"unknown user":            {user: iamv1alpha1.UserReference{Email: "nobody@example.com"}, reason: iamv1alpha1.ReasonUserNotFound, msg: "nobody@example.com"},
		"unknown user ID":         {user: iamv1alpha1.UserReference{ID: "user-nobody"}, reason: iamv1alpha1.ReasonUserNotFound, msg: "user-nobody"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			pat := newPAT(ns, "refused", "")
			pat.Spec.User = tc.user
			create(t, pat)
			got := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, tc.reason))
			ready := condition(got, iamv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(tc.reason))
			g.Expect(ready.Message).To(ContainSubstring(tc.msg))
			g.Expect(got.Status.PendingIssue).To(BeNil())
			g.Expect(liveTokensOf(string(got.UID))).To(BeEmpty())
			g.Expect(got.Finalizers).To(ContainElement(iamv1alpha1.Finalizer), "the finalizer comes with the first reconcile (#22 5)")
			expectEvent(t, got, tc.reason)

			// No hot loop: a stalled resource waits for its recheck, it does not retry.
			before := env.Devin.TotalCalls()
			g.Consistently(func() int { return env.Devin.TotalCalls() - before }, 2*time.Second, 200*time.Millisecond).
				Should(BeNumerically("<=", 2))

			// Deleting a resource that never got a token needs no backend.
			g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
			g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), &iamv1alpha1.PersonalAccessToken{}))
			}, timeout, interval).Should(BeTrue())
		})
	}
}

func TestPATSecretConflict(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
	create(t, foreign)
	pat := newPAT(ns, "conflict", "alice@example.com", func(p *iamv1alpha1.PersonalAccessToken) { p.Spec.SecretName = "app" })
	create(t, pat)
	got := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonSecretConflict))
	g.Expect(condition(got, iamv1alpha1.ConditionReady).Message).To(ContainSubstring(`Secret "app" exists`))

	// The app's Secret is untouched and no token is left upstream without a Secret.
	sec := secretOf(t, ns, "app")
	g.Expect(devenv.Fingerprints(sec.Data)).To(Equal(devenv.Fingerprints(map[string][]byte{"password": []byte("hunter2")})))
	g.Expect(sec.OwnerReferences).To(BeEmpty())
	g.Eventually(func() int { return len(liveTokensOf(string(got.UID))) }, timeout, interval).Should(BeZero())

	// Once the app's Secret is gone, the PAT gets its own.
	g.Expect(k8s.Delete(context.Background(), sec)).To(Succeed())
	poke(t, got)
	ready := waitPAT(t, pat, isReady)
	assertHoldsLiveToken(t, ready)
}

func TestPATHonoursRetryAfter(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	env.Devin.SetFaults(devinapitest.Faults{RateLimitQPS: 2, RetryAfter: time.Second})
	t.Cleanup(func() { env.Devin.SetFaults(devinapitest.Faults{}) })
	early := env.Devin.EarlyRequests()
	var pats []*iamv1alpha1.PersonalAccessToken
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		p := newPAT(ns, n, "dave@example.com")
		create(t, p)
		pats = append(pats, p)
	}
	var ready []*iamv1alpha1.PersonalAccessToken
	for _, p := range pats {
		ready = append(ready, waitPAT(t, p, isReady))
	}
	g.Expect(env.Devin.EarlyRequests()).To(Equal(early), "no request may arrive before the Retry-After the server announced")
	env.Devin.SetFaults(devinapitest.Faults{})
	for _, p := range ready {
		assertHoldsLiveToken(t, p)
	}
}

// eventReasons lists the reasons of the events about obj.
func eventReasons(obj client.Object) []string {
	var reasons []string
	for _, ev := range eventsAbout(obj) {
		reasons = append(reasons, ev.Reason)
	}
	return reasons
}

// eventNotes are the notes of the events about obj.
func eventNotes(obj client.Object) []string {
	var notes []string
	for _, ev := range eventsAbout(obj) {
		notes = append(notes, ev.Note)
	}
	return notes
}

func eventsAbout(obj client.Object) []eventsv1.Event {
	evs := &eventsv1.EventList{}
	if err := k8s.List(context.Background(), evs, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var about []eventsv1.Event
	for _, ev := range evs.Items {
		if ev.Regarding.UID == obj.GetUID() {
			about = append(about, ev)
		}
	}
	return about
}

// expectEvent waits for an event with the reason about obj.
func expectEvent(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	NewWithT(t).Eventually(func() []string { return eventReasons(obj) }, timeout, interval).Should(ContainElement(reason))
}

// TestPATLookupFailureLeavesNoIntent: when looking the user up fails, nothing that could
// create a token was sent, so the operator drops its intent at once: no search upstream for
// a token that cannot exist, and no wait for a lost create to settle.
func TestPATLookupFailureLeavesNoIntent(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	email := ns + "@example.com" // a user no cache has seen
	env.Devin.UpsertUser(devinapitest.SeedUser{ID: "user-" + ns, Email: email, Name: ns, PATEnabled: true})
	env.Devin.SetFaults(devinapitest.Faults{ErrorRate: map[string]float64{"GET /v3/enterprise/members/users": 1}, ErrorStatus: 500})
	t.Cleanup(func() { env.Devin.SetFaults(devinapitest.Faults{}) })
	pat := newPAT(ns, "lookup", email)
	create(t, pat)
	got := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionReconciling, iamv1alpha1.ReasonBackendError))
	g.Expect(condition(got, iamv1alpha1.ConditionReconciling).Message).To(ContainSubstring("look up user " + email))
	g.Consistently(func() *iamv1alpha1.CredentialStatus {
		g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(pat), got)).To(Succeed())
		return &got.Status.CredentialStatus
	}, time.Second, 100*time.Millisecond).Should(And(
		HaveField("PendingIssue", BeNil()), HaveField("LastInterruptedIssue", BeNil())))

	env.Devin.SetFaults(devinapitest.Faults{})
	poke(t, got)
	assertHoldsLiveToken(t, waitPAT(t, pat, isReady))
}

// TestPATRevokedUpstreamWaitsForAPerson: a token revoked upstream by someone else (the
// vendor's advice for a leaked token) is not replaced in the Secret it may have leaked
// from: the resource stops, not Ready, until a person changes iam.devin.ai/rotate.
func TestPATRevokedUpstreamWaitsForAPerson(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	pat := newPAT(ns, "leaked", "alice@example.com")
	create(t, pat)
	first := waitPAT(t, pat, isReady)
	firstID := first.Status.Token.ID // kept apart: poke reads the resource again into first
	g.Expect(env.Devin.RevokeKey(firstID)).To(Succeed())
	clk.Step(61 * time.Minute) // past --verify-interval
	poke(t, first)
	stopped := waitPAT(t, pat, hasReason(iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonRevokedUpstream))
	g.Expect(condition(stopped, iamv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
	g.Expect(condition(stopped, iamv1alpha1.ConditionStalled).Message).To(ContainSubstring(iamv1alpha1.RotateAnnotation))
	g.Expect(stopped.Status.RevokedUpstream).NotTo(BeNil())
	expectEvent(t, stopped, iamv1alpha1.EventTokenRevokedUpstream)

	clk.Step(48 * time.Hour) // long past the renewal: still nothing
	poke(t, stopped)
	g.Consistently(func() []devinapitest.TokenRecord { return liveTokensOf(string(stopped.UID)) }, time.Second, interval).
		Should(BeEmpty(), "nothing is issued before a person asks")

	update(t, stopped, func(p *iamv1alpha1.PersonalAccessToken) {
		p.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "after-the-incident"}
	})
	again := waitPAT(t, pat, readyWithTokenOtherThan(firstID))
	g.Expect(again.Status.RevokedUpstream).To(BeNil())
	assertHoldsLiveToken(t, again)
}
