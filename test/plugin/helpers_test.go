package plugin

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
)

// tenant is a namespace for one test with a CredentialPolicy that selects it: Member
// service users, everyone's own personal access token, and delegates (RBAC delegate: the
// admin, through cluster-admin's wildcard) for anyone at example.com. Alice may edit tokens
// there and `use` the policy; she may not `delegate`.
type tenant struct {
	ns     string
	policy string
}

func newTenant(t *testing.T) tenant {
	t.Helper()
	ctx := context.Background()
	g := NewWithT(t)
	ns := "t-" + rand.String(6)
	g.Expect(env.EnsureNamespace(ctx, ns)).To(Succeed())
	p := &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "team-" + rand.String(6)},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchLabels: map[string]iamv1alpha1.LabelValue{
				"kubernetes.io/metadata.name": iamv1alpha1.LabelValue(ns),
			}},
			ServiceUsers: &iamv1alpha1.ServiceUserPolicy{Roles: []string{"Member"}},
			PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{
				Delegation: &iamv1alpha1.DelegationPolicy{Domains: []string{"example.com"}},
			},
		},
	}
	g.Expect(k8s.Create(ctx, p)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(ctx, p) })
	g.Eventually(func() bool {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), p)
		return conditions.IsReady(p.Status.Conditions, p.Generation)
	}, timeout, interval).Should(BeTrue(), "policy %s not Ready", p.Name)
	bind(t, ns, "ClusterRole", tenantRole, alice)
	use := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "use-" + p.Name, Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"credentialpolicies"},
			ResourceNames: []string{p.Name}, Verbs: []string{iamv1alpha1.PolicyVerbUse}}},
	}
	g.Expect(k8s.Create(ctx, use)).To(Succeed())
	bind(t, ns, "Role", use.Name, alice)
	return tenant{ns: ns, policy: p.Name}
}

// bind binds a Role or ClusterRole to a user in ns.
func bind(t *testing.T, ns, kind, role, user string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role + "-" + rand.String(5), Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	NewWithT(t).Expect(k8s.Create(context.Background(), rb)).To(Succeed())
}

func newPAT(ns, name, email string) *iamv1alpha1.PersonalAccessToken {
	return &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: email}},
	}
}

// readyPAT creates alice's personal access token as the admin (a delegate) and waits until
// it is Ready with a token.
func readyPAT(t *testing.T, ns, name string) *iamv1alpha1.PersonalAccessToken {
	t.Helper()
	pat := newPAT(ns, name, alice)
	NewWithT(t).Expect(k8s.Create(context.Background(), pat)).To(Succeed())
	return waitFor(t, pat, isReady[*iamv1alpha1.PersonalAccessToken], "Ready with a token")
}

// waitFor waits until obj (re-read) satisfies ok, and returns it.
func waitFor[T credential.Object](t *testing.T, obj T, ok func(T) bool, what string) T {
	t.Helper()
	NewWithT(t).Eventually(func() bool {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return false
		}
		return ok(obj)
	}, timeout, interval).Should(BeTrue(), "%s/%s: %s; conditions: %+v", obj.GetNamespace(), obj.GetName(), what, obj.CredentialStatus().Conditions)
	return obj
}

func isReady[T credential.Object](obj T) bool {
	st := obj.CredentialStatus()
	return conditions.IsReady(st.Conditions, obj.GetGeneration()) && st.Token != nil
}

// liveToken reports whether the in-memory Devin API holds id as a live token.
func liveToken(id string) bool {
	for _, tok := range env.Devin.LiveTokens() {
		if tok.ID == id {
			return true
		}
	}
	return false
}

// stalledFor is the reason of a Stalled=True condition of the current generation, or "".
func stalledFor(conds []metav1.Condition, generation int64) string {
	for _, c := range conds {
		if c.Type == iamv1alpha1.ConditionStalled && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation {
			return c.Reason
		}
	}
	return ""
}

// patNames lists the PersonalAccessTokens of ns.
func patNames(t *testing.T, ns string) []string {
	t.Helper()
	list := &iamv1alpha1.PersonalAccessTokenList{}
	NewWithT(t).Expect(k8s.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
	}
	return names
}

// waitEvent waits until an event of reason about obj is stored: events are written in the
// background, after the status that tells of them.
func waitEvent(t *testing.T, obj client.Object, reason string) {
	t.Helper()
	NewWithT(t).Eventually(func() []string {
		evs := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), evs, client.InNamespace(obj.GetNamespace())); err != nil {
			return nil
		}
		var reasons []string
		for _, ev := range evs.Items {
			if ev.Regarding.UID == obj.GetUID() {
				reasons = append(reasons, ev.Reason)
			}
		}
		return reasons
	}, timeout, interval).Should(ContainElement(reason), "no %s event about %s", reason, obj.GetName())
}
