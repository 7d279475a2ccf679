package devenv

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// PermissivePolicy is the name of the policy InstallPermissivePolicy installs.
const PermissivePolicy = "permissive"

// InstallPermissivePolicy installs what a single-tenant cluster runs with (the chart's
// opt-in permissive policy): a CredentialPolicy that allows every ServiceUser and every
// personal access token, in every namespace, with RBAC `use` on it granted to every
// authenticated user, and `delegate` (asking for other people's tokens) to the members of
// delegateGroups only. Suites that test the token lifecycle behind the real webhooks
// (policy enforced) run with it; the tenancy tests do not.
func (e *Env) InstallPermissivePolicy(ctx context.Context, delegateGroups ...string) error {
	p := &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: PermissivePolicy},
		Spec:       PermissiveSpec(),
	}
	objs := []client.Object{p}
	objs = append(objs, clusterGrant("use-credentialpolicy-"+PermissivePolicy, []string{"use"}, "system:authenticated")...)
	if len(delegateGroups) > 0 {
		objs = append(objs, clusterGrant("delegate-credentialpolicy-"+PermissivePolicy, []string{"use", "delegate"}, delegateGroups...)...)
	}
	for _, obj := range objs {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}

// clusterGrant is a ClusterRole with verbs on the permissive policy, bound to groups.
func clusterGrant(name string, verbs []string, groups ...string) []client.Object {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"credentialpolicies"},
			ResourceNames: []string{PermissivePolicy}, Verbs: verbs,
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
	}
	for _, g := range groups {
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: g})
	}
	return []client.Object{role, binding}
}

// PermissiveSpec is the spec of the permissive policy of a single-tenant cluster: every
// scope, organization and role, delegation to anyone, Orphan allowed. The chart's and the
// kustomize config's opt-in policy is checked against it.
func PermissiveSpec() iamv1alpha1.CredentialPolicySpec {
	return iamv1alpha1.CredentialPolicySpec{
		ServiceUsers: &iamv1alpha1.ServiceUserPolicy{
			Scopes:        []iamv1alpha1.ServiceUserScope{iamv1alpha1.ScopeOrganization, iamv1alpha1.ScopeEnterprise},
			Organizations: []string{"*"},
			Roles:         []string{"*"},
		},
		PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{
			Delegation: &iamv1alpha1.DelegationPolicy{Domains: []string{"*"}},
		},
		Tokens: iamv1alpha1.TokenPolicy{AllowOrphan: true},
	}
}
