package webhook

import (
	"context"
	"net/http"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestRestartTargetsNeedThePowerToRestart: naming a workload as a rolloutRestartTarget
// makes the operator restart it; a requester who may not patch it themselves is refused,
// for both kinds, on create and when a target is added later.
func TestRestartTargetsNeedThePowerToRestart(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	ctx := context.Background()
	const alice = "alice@example.com"
	target := []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "app"}}
	withTargets := func(p *iamv1alpha1.PersonalAccessToken) *iamv1alpha1.PersonalAccessToken {
		p.Spec.RolloutRestartTargets = target
		return p
	}

	pat := withTargets(newPAT(ns, "restarts", byEmail(alice)))
	wantRefused(t, e.clientAs(alice).Create(ctx, pat), http.StatusForbidden, `may not patch Deployment/app in namespace `+ns)
	su := &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bot"}, Spec: iamv1alpha1.ServiceUserSpec{
		Role: "Member", APIKey: iamv1alpha1.CredentialSpec{RolloutRestartTargets: []iamv1alpha1.RolloutRestartTarget{
			{Kind: "StatefulSet", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
		}},
	}}
	wantRefused(t, e.clientAs(alice).Create(ctx, su), http.StatusForbidden, "may not patch every StatefulSet")

	// Without targets, then adding one: refused too.
	plain := newPAT(ns, "plain", byEmail(alice))
	mustCreate(t, e.clientAs(alice), plain)
	plain.Spec.RolloutRestartTargets = target
	wantRefused(t, e.clientAs(alice).Update(ctx, plain), http.StatusForbidden, "may not patch Deployment/app")

	// Allowed to patch Deployments in the namespace: admitted.
	grantPatch(t, e, ns, alice, "deployments")
	mustCreate(t, e.clientAs(alice), withTargets(newPAT(ns, "allowed", byEmail(alice))))
}

// grantPatch lets user patch the resource (apps) in ns, and waits until the authorizer knows.
func grantPatch(t *testing.T, e *testEnv, ns, user, resource string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "patch-" + resource},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{resource}, Verbs: []string{"patch"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "patch-" + resource},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}}
	for _, obj := range []client.Object{role, binding} {
		if err := e.admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Group: "apps", Resource: resource}}}
		return e.admin.Create(ctx, sar) == nil && sar.Status.Allowed, nil
	}); err != nil {
		t.Fatal(err)
	}
}
