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
// personal access token, for anyone, anywhere, with RBAC `use` and `delegate` on it granted
// to every authenticated user. Suites that test the token lifecycle behind the real webhooks
// (policy enforced) run with it; the tenancy tests do not.
func (e *Env) InstallPermissivePolicy(ctx context.Context) error {
	p := &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: PermissivePolicy},
		Spec: iamv1alpha1.CredentialPolicySpec{
			ServiceUsers: &iamv1alpha1.ServiceUserPolicy{
				Scopes:        []iamv1alpha1.ServiceUserScope{iamv1alpha1.ScopeOrganization, iamv1alpha1.ScopeEnterprise},
				Organizations: []string{"*"},
				Roles:         []string{"*"},
			},
			PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{
				Delegation: &iamv1alpha1.DelegationPolicy{Domains: []string{"*"}},
			},
			Tokens: iamv1alpha1.TokenPolicy{AllowOrphan: true},
		},
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "use-credentialpolicy-" + PermissivePolicy},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"credentialpolicies"},
			ResourceNames: []string{PermissivePolicy}, Verbs: []string{"use", "delegate"},
		}},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:authenticated"}},
	}
	for _, obj := range []client.Object{p, role, binding} {
		if err := e.Client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}
