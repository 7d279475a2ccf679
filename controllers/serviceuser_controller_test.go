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
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func newSU(ns, name, role string, mutate ...func(*iamv1alpha1.ServiceUser)) *iamv1alpha1.ServiceUser {
	su := &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       iamv1alpha1.ServiceUserSpec{Role: role},
	}
	for _, m := range mutate {
		m(su)
	}
	return su
}

func waitSU(t *testing.T, su *iamv1alpha1.ServiceUser, cond func(*iamv1alpha1.ServiceUser) bool) *iamv1alpha1.ServiceUser {
	t.Helper()
	return waitFor(t, su, cond)
}

func suReady(s *iamv1alpha1.ServiceUser) bool {
	return conditions.IsReady(s.Status.Conditions, s.Generation) && s.Status.Token != nil
}

func suStalled(reason string) func(*iamv1alpha1.ServiceUser) bool {
	return func(s *iamv1alpha1.ServiceUser) bool {
		c := condition(s, iamv1alpha1.ConditionStalled)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason
	}
}

// upstreamSU returns the service user upstream, nil when it is gone.
func upstreamSU(id string) *devinapi.ServiceUser {
	for _, u := range env.Devin.ServiceUsers() {
		if u.ID == id {
			return &u
		}
	}
	return nil
}

// liveKeysOf lists the live API keys of a service user.
func liveKeysOf(serviceUserID string) []devinapitest.TokenRecord {
	var out []devinapitest.TokenRecord
	for _, r := range env.Devin.LiveTokens() {
		if r.Kind == "api_key" && r.OwnerID == serviceUserID {
			out = append(out, r)
		}
	}
	return out
}

// assertSUHoldsLiveKey checks the invariant for a ready ServiceUser: its Secret's key
// authenticates as its service user and is the key status names; no other live key of the
// service user exists except those in their grace period.
func assertSUHoldsLiveKey(t *testing.T, s *iamv1alpha1.ServiceUser) {
	t.Helper()
	g := NewWithT(t)
	sec := secretOf(t, s.Namespace, credential.SecretName(s))
	value := string(sec.Data[credential.SecretKey(s)])
	self, err := devinClient().SelfWithToken(context.Background(), devinapi.NewToken(value))
	g.Expect(err).NotTo(HaveOccurred(), "the Secret's key must authenticate")
	g.Expect(self.Kind).To(Equal(devinapi.PrincipalServiceUser))
	g.Expect(self.ServiceUserID).To(Equal(s.Status.ServiceUserID))
	// The published /v3/self answer of a service user names no key: ask the fake which one.
	keyID, ok := env.Devin.KeyIDOf(value)
	g.Expect(ok).To(BeTrue())
	g.Expect(keyID).To(Equal(s.Status.Token.ID))
	allowed := map[string]bool{keyID: true}
	for _, p := range s.Status.PendingRevocations {
		allowed[p.ID] = true
	}
	for _, k := range liveKeysOf(s.Status.ServiceUserID) {
		g.Expect(allowed).To(HaveKey(k.ID), "live key %s belongs to no Secret", k.ID)
	}
}

func TestServiceUserProvisioning(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	su := newSU(ns, "ci-bot", "member", func(s *iamv1alpha1.ServiceUser) {
		s.Spec.TTL = &metav1.Duration{Duration: 30 * 24 * time.Hour}
	})
	create(t, su)
	got := waitSU(t, su, suReady)

	g.Expect(got.Status.ServiceUserID).NotTo(BeEmpty())
	g.Expect(got.Status.ServiceUserName).To(HavePrefix(ns + "-ci-bot [k8s:"))
	g.Expect(got.Status.ServiceUserName).To(HaveSuffix(":" + string(got.UID) + "]"))
	g.Expect(got.Status.PendingProvision).To(BeNil())
	g.Expect(got.Status.ServiceUserExpiresAt).NotTo(BeNil())
	g.Expect(condition(got, iamv1alpha1.ConditionExpiringSoon).Status).To(Equal(metav1.ConditionFalse))
	up := upstreamSU(got.Status.ServiceUserID)
	g.Expect(up).NotTo(BeNil())
	g.Expect(up.RoleAssignments).To(ContainElement(And(
		HaveField("OrgID", "org-default"), HaveField("Role.Name", "Member"))))
	// The first key came with the provisioning: no second key was created.
	var made []string
	for _, r := range env.Devin.Tokens() {
		if r.Kind == "api_key" && r.OwnerID == got.Status.ServiceUserID {
			made = append(made, r.ID)
		}
	}
	g.Expect(made).To(HaveLen(1), "keys made for the service user, revoked ones included")
	g.Expect(liveKeysOf(got.Status.ServiceUserID)).To(HaveLen(1))
	sec := secretOf(t, ns, "ci-bot")
	g.Expect(metav1.IsControlledBy(sec, got)).To(BeTrue())
	assertSUHoldsLiveKey(t, got)
	// One event for the provisioning and its first key (an event is a write).
	expectEvent(t, got, iamv1alpha1.EventTokenIssued)
	g.Expect(eventNotes(got)).To(ContainElement(ContainSubstring("provisioned service user " + got.Status.ServiceUserID)))
	g.Expect(eventReasons(got)).To(ConsistOf(iamv1alpha1.EventTokenIssued))
}

func TestServiceUserRotationTriggers(t *testing.T) {
	cases := map[string]func(t *testing.T, s *iamv1alpha1.ServiceUser){
		"rotate annotation": func(t *testing.T, s *iamv1alpha1.ServiceUser) {
			update(t, s, func(s *iamv1alpha1.ServiceUser) {
				s.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "1"}
			})
		},
		"secret deleted": func(t *testing.T, s *iamv1alpha1.ServiceUser) {
			if err := k8s.Delete(context.Background(), secretOf(t, s.Namespace, s.Name)); err != nil {
				t.Fatal(err)
			}
		},
		"secret data altered": func(t *testing.T, s *iamv1alpha1.ServiceUser) {
			sec := secretOf(t, s.Namespace, s.Name)
			sec.Data["token"] = []byte("x")
			if err := k8s.Update(context.Background(), sec); err != nil {
				t.Fatal(err)
			}
		},
		"key revoked upstream, then a person asks for a new one": func(t *testing.T, s *iamv1alpha1.ServiceUser) {
			if err := env.Devin.RevokeKey(s.Status.Token.ID); err != nil {
				t.Fatal(err)
			}
			clk.Step(61 * time.Minute)
			poke(t, s)
			stopped := waitSU(t, s, suStalled(iamv1alpha1.ReasonRevokedUpstream))
			NewWithT(t).Expect(stopped.Status.Token).To(BeNil(), "status names no dead token")
			expectEvent(t, s, iamv1alpha1.EventTokenRevokedUpstream)
			update(t, stopped, func(s *iamv1alpha1.ServiceUser) {
				s.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "after-the-incident"}
			})
		},
		"renewal": func(t *testing.T, s *iamv1alpha1.ServiceUser) {
			clk.SetTime(s.Status.RenewAt.Add(time.Second))
			poke(t, s)
		},
	}
	for name, trigger := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			su := newSU(ns, "rot", "Member", func(s *iamv1alpha1.ServiceUser) {
				s.Spec.APIKey.ExpiresAfter = &metav1.Duration{Duration: 48 * time.Hour}
				s.Spec.APIKey.RotationGracePeriod = &metav1.Duration{Duration: 0}
			})
			create(t, su)
			first := waitSU(t, su, suReady)
			// The trigger reads the resource again (poke): what it was is kept apart first.
			firstToken, firstServiceUser := first.Status.Token.ID, first.Status.ServiceUserID
			trigger(t, first)
			rotated := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
				return suReady(s) && s.Status.Token.ID != firstToken && len(s.Status.PendingRevocations) == 0
			})
			g.Expect(rotated.Status.ServiceUserID).To(Equal(firstServiceUser), "a key rotation keeps the service user")
			assertSUHoldsLiveKey(t, rotated)
			g.Expect(liveKeysOf(rotated.Status.ServiceUserID)).To(ConsistOf(HaveField("ID", rotated.Status.Token.ID)))
		})
	}
}

func TestServiceUserRoleDriftIsRepaired(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	su := newSU(ns, "drift", "Member")
	create(t, su)
	got := waitSU(t, su, suReady)

	g.Expect(env.Devin.SetServiceUserRole(got.Status.ServiceUserID, "role-org-admin")).To(Succeed())
	clk.Step(61 * time.Minute)
	poke(t, got)
	g.Eventually(func() string {
		up := upstreamSU(got.Status.ServiceUserID)
		if up == nil || len(up.RoleAssignments) == 0 {
			return ""
		}
		return up.RoleAssignments[0].Role.Name
	}, timeout, interval).Should(Equal("Member"))
	expectEvent(t, got, "RoleDriftRepaired")

	// A role changed in the spec is applied at once.
	update(t, waitSU(t, su, suReady), func(s *iamv1alpha1.ServiceUser) { s.Spec.Role = "DeepWiki Only" })
	g.Eventually(func() string {
		up := upstreamSU(got.Status.ServiceUserID)
		if up == nil || len(up.RoleAssignments) == 0 {
			return ""
		}
		return up.RoleAssignments[0].Role.Name
	}, timeout, interval).Should(Equal("DeepWiki Only"))
	expectEvent(t, got, "RoleUpdated")
}

// TestServiceUserDeletedUpstreamWaitsForAPerson: a service user deleted upstream by someone
// else (answering a leak, say) is not provisioned again on its own: the resource stops
// until a person changes iam.devin.ai/rotate.
func TestServiceUserDeletedUpstreamWaitsForAPerson(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	su := newSU(ns, "gone", "Member")
	create(t, su)
	got := waitSU(t, su, suReady)
	oldID := got.Status.ServiceUserID

	g.Expect(env.Devin.DeleteServiceUser(oldID)).To(Succeed())
	clk.Step(61 * time.Minute)
	poke(t, got)
	stopped := waitSU(t, su, suStalled(iamv1alpha1.ReasonRevokedUpstream))
	g.Expect(stopped.Status.ServiceUserID).To(BeEmpty())
	g.Consistently(func() []devinapi.ServiceUser { return activeServiceUsersNamed(stopped.Status.ServiceUserName) }, time.Second, interval).
		Should(BeEmpty(), "nothing is provisioned before a person asks")
	update(t, stopped, func(s *iamv1alpha1.ServiceUser) {
		s.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "after-the-incident"}
	})
	again := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
		return suReady(s) && s.Status.ServiceUserID != "" && s.Status.ServiceUserID != oldID
	})
	assertSUHoldsLiveKey(t, again)
	expectEvent(t, again, "ServiceUserGone")
}

func TestServiceUserExpiry(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	su := newSU(ns, "short", "Member", func(s *iamv1alpha1.ServiceUser) {
		s.Spec.TTL = &metav1.Duration{Duration: 10 * time.Hour} // warned 2h ahead
		s.Spec.APIKey.ExpiresAfter = &metav1.Duration{Duration: 30 * time.Hour}
	})
	create(t, su)
	got := waitSU(t, su, suReady)
	expires := got.Status.ServiceUserExpiresAt.Time

	clk.SetTime(expires.Add(-90 * time.Minute))
	poke(t, got)
	// Waited for as one state: the warning and Ready, both for the object's generation (the
	// poke's update may be a new generation, and a reconcile that ran before it may already
	// have warned).
	warned := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
		c := condition(s, iamv1alpha1.ConditionExpiringSoon)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == s.Generation && suReady(s)
	})
	g.Expect(condition(warned, iamv1alpha1.ConditionExpiringSoon).Reason).To(Equal(iamv1alpha1.ReasonServiceUserExpiring))
	expectEvent(t, warned, "ExpiringSoon")

	// Once it has expired, a new service user takes its place.
	clk.SetTime(expires.Add(time.Minute))
	poke(t, warned)
	renewed := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
		return suReady(s) && s.Status.ServiceUserID != got.Status.ServiceUserID
	})
	assertSUHoldsLiveKey(t, renewed)
	g.Expect(condition(renewed, iamv1alpha1.ConditionExpiringSoon).Status).To(Equal(metav1.ConditionFalse))
}

func TestServiceUserDeletion(t *testing.T) {
	cases := map[string]struct {
		policy  iamv1alpha1.DeletionPolicy
		keepsSU bool
	}{
		"Delete deletes the service user": {policy: iamv1alpha1.DeletionPolicyDelete},
		"Orphan leaves it":                {policy: iamv1alpha1.DeletionPolicyOrphan, keepsSU: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			ns := newNamespace(t)
			su := newSU(ns, "del", "Member", func(s *iamv1alpha1.ServiceUser) { s.Spec.DeletionPolicy = tc.policy })
			create(t, su)
			got := waitSU(t, su, suReady)
			g.Expect(k8s.Delete(context.Background(), got)).To(Succeed())
			g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKeyFromObject(su), &iamv1alpha1.ServiceUser{}))
			}, timeout, interval).Should(BeTrue())
			g.Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "del"}, &corev1.Secret{}))
			}, timeout, interval).Should(BeTrue())
			if tc.keepsSU {
				g.Expect(upstreamSU(got.Status.ServiceUserID)).NotTo(BeNil())
				g.Expect(liveKeysOf(got.Status.ServiceUserID)).To(HaveLen(1))
			} else {
				g.Expect(upstreamSU(got.Status.ServiceUserID)).To(BeNil())
				g.Expect(liveKeysOf(got.Status.ServiceUserID)).To(BeEmpty())
			}
		})
	}
}

func TestServiceUserCrashBetweenProvisioningAndSecret(t *testing.T) {
	g := NewWithT(t)
	t.Cleanup(func() {
		env.Devin.SetHook(nil)
		restartOperator(t, nil)
	})
	ns := newNamespace(t)
	c := newCrasher()
	env.Devin.SetHook(func(ev devinapitest.Event) {
		if ev.Method == "POST" && ev.Route == "POST /v3beta1/organizations/{org_id}/service-users" {
			c.crash()
		}
	})
	restartOperator(t, nil)
	su := newSU(ns, "crash", "Member")
	create(t, su)
	select {
	case <-c.crashed:
	case <-time.After(timeout):
		t.Fatal("the operator never provisioned")
	}
	env.Devin.SetHook(nil)
	restartOperator(t, nil)

	got := waitSU(t, su, suReady)
	assertSUHoldsLiveKey(t, got)
	// One service user of that name, one live key: nothing leaked.
	var named []string
	for _, u := range env.Devin.ServiceUsers() {
		if strings.HasPrefix(u.Name, ns+"-crash ") && u.IsActive {
			named = append(named, u.ID)
		}
	}
	g.Expect(named).To(ConsistOf(got.Status.ServiceUserID))
	g.Expect(liveKeysOf(got.Status.ServiceUserID)).To(ConsistOf(HaveField("ID", got.Status.Token.ID)))
}

func TestServiceUserBadInput(t *testing.T) {
	t.Run("unknown role", func(t *testing.T) {
		g := NewWithT(t)
		ns := newNamespace(t)
		su := newSU(ns, "badrole", "Overlord")
		create(t, su)
		got := waitSU(t, su, suStalled(iamv1alpha1.ReasonUnknownRole))
		msg := condition(got, iamv1alpha1.ConditionReady).Message
		g.Expect(msg).To(ContainSubstring(`role "Overlord" does not exist`))
		g.Expect(msg).To(ContainSubstring("Member"))
		g.Expect(got.Status.ServiceUserID).To(BeEmpty())
	})
	t.Run("enterprise role in an organization scope", func(t *testing.T) {
		ns := newNamespace(t)
		su := newSU(ns, "wrongscope", "Enterprise Admin")
		create(t, su)
		waitSU(t, su, suStalled(iamv1alpha1.ReasonUnknownRole))
	})
	invalid := map[string]func(*iamv1alpha1.ServiceUser){
		"ttl above one year": func(s *iamv1alpha1.ServiceUser) { s.Spec.TTL = &metav1.Duration{Duration: 9000 * time.Hour} },
		"ttl below an hour":  func(s *iamv1alpha1.ServiceUser) { s.Spec.TTL = &metav1.Duration{Duration: time.Minute} },
		"organization with enterprise scope": func(s *iamv1alpha1.ServiceUser) {
			s.Spec.Scope = iamv1alpha1.ScopeEnterprise
			s.Spec.OrganizationID = "org-default"
		},
		"renewBefore longer than the lifetime": func(s *iamv1alpha1.ServiceUser) {
			s.Spec.APIKey.ExpiresAfter = &metav1.Duration{Duration: 2 * time.Hour}
			s.Spec.APIKey.RenewBefore = &metav1.Duration{Duration: 3 * time.Hour}
		},
		"bad secret name":                         func(s *iamv1alpha1.ServiceUser) { s.Spec.APIKey.SecretName = "Not_A_Name" },
		"a name that mimics the ownership marker": func(s *iamv1alpha1.ServiceUser) { s.Spec.Name = "bot [k8s:c1:uid]" },
		"a key renewed before its service user's ttl ends": func(s *iamv1alpha1.ServiceUser) {
			s.Spec.TTL = &metav1.Duration{Duration: 10 * time.Hour}
			s.Spec.APIKey.ExpiresAfter = &metav1.Duration{Duration: 100 * time.Hour}
			s.Spec.APIKey.RenewBefore = &metav1.Duration{Duration: 20 * time.Hour}
		},
		"a label value the API server refuses": func(s *iamv1alpha1.ServiceUser) {
			s.Spec.APIKey.SecretTemplate = &iamv1alpha1.SecretTemplate{Labels: map[string]iamv1alpha1.LabelValue{"team": "a b"}}
		},
		"a label key the API server refuses": func(s *iamv1alpha1.ServiceUser) {
			s.Spec.APIKey.SecretTemplate = &iamv1alpha1.SecretTemplate{Labels: map[string]iamv1alpha1.LabelValue{"a b": "x"}}
		},
	}
	for name, mutate := range invalid {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := k8s.Create(context.Background(), newSU(newNamespace(t), "invalid", "Member", mutate))
			g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		})
	}
	t.Run("scope is immutable", func(t *testing.T) {
		g := NewWithT(t)
		ns := newNamespace(t)
		su := newSU(ns, "immutable", "Member")
		create(t, su)
		got := waitSU(t, su, suReady)
		var err error
		g.Eventually(func() bool {
			_ = k8s.Get(context.Background(), client.ObjectKeyFromObject(got), got)
			got.Spec.Scope = iamv1alpha1.ScopeEnterprise
			got.Spec.Role = "Enterprise Member"
			err = k8s.Update(context.Background(), got)
			return !apierrors.IsConflict(err)
		}, timeout, interval).Should(BeTrue())
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		g.Expect(err.Error()).To(ContainSubstring("scope is immutable"))
	})
}

// activeServiceUsersNamed lists the active service users upstream with that name.
func activeServiceUsersNamed(name string) []devinapi.ServiceUser {
	var out []devinapi.ServiceUser
	for _, u := range env.Devin.ServiceUsers() {
		if u.Name == name && u.IsActive {
			out = append(out, u)
		}
	}
	return out
}
