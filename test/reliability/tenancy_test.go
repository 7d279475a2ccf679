package reliability

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// TestTenantIsolation: a user with rights only in namespace A cannot get a token into B,
// cannot make the operator overwrite a Secret it does not own (an app's Secret, a
// service-account-token Secret), cannot mint a PAT for another person, and cannot read the
// operator's admin credentials.
func TestTenantIsolation(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	supervise(t, operatorOptions())
	a, b := newNamespace(t), newNamespace(t)
	const tenant = "erin@example.com"
	env.Devin.UpsertUser(devinapitest.SeedUser{ID: "user-erin", Email: tenant, Name: "Erin", PATEnabled: true})

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: a},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{iamv1alpha1.GroupVersion.Group}, Resources: []string{"personalaccesstokens", "serviceusers"}, Verbs: []string{"*"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tokens", Namespace: a},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "tokens"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: tenant}},
	}
	g.Expect(k8s.Create(ctx, role)).To(Succeed())
	g.Expect(k8s.Create(ctx, binding)).To(Succeed())
	erin, err := env.ImpersonatingClient(tenant)
	g.Expect(err).NotTo(HaveOccurred())

	// Positive control: Erin may have her own token in A.
	mine := newPAT(a, "mine", tenant)
	g.Expect(erin.Create(ctx, mine)).To(Succeed())
	waitSettled(t, a)

	t.Run("no token into another namespace", func(t *testing.T) {
		err := erin.Create(ctx, newPAT(b, "sneaky", tenant))
		newG(t).Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
	})

	t.Run("no PAT for another person", func(t *testing.T) {
		err := erin.Create(ctx, newPAT(a, "for-alice", "alice@example.com"))
		g := newG(t)
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		g.Expect(err.Error()).To(ContainSubstring("you may not ask for other people's tokens under it"))
	})

	t.Run("the operator never overwrites a Secret it does not own", func(t *testing.T) {
		g := newG(t)
		app := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "app-config", Namespace: a},
			Data:       map[string][]byte{"password": []byte("hunter2")},
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: a}}
		saToken := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "builder-token", Namespace: a,
				Annotations: map[string]string{corev1.ServiceAccountNameKey: "builder"}},
			Type: corev1.SecretTypeServiceAccountToken,
		}
		for _, o := range []client.Object{app, sa, saToken} {
			g.Expect(k8s.Create(ctx, o)).To(Succeed())
		}
		before := map[string]*corev1.Secret{}
		for _, s := range []*corev1.Secret{app, saToken} {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(s), s)).To(Succeed())
			before[s.Name] = s.DeepCopy()
			p := newPAT(a, "grab-"+s.Name, tenant)
			p.Spec.SecretName = s.Name
			g.Expect(erin.Create(ctx, p)).To(Succeed())
			g.Eventually(func() string {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), p)
				if c := meta.FindStatusCondition(p.Status.Conditions, iamv1alpha1.ConditionStalled); c != nil {
					return c.Reason
				}
				return ""
			}, timeout, interval).Should(Equal(iamv1alpha1.ReasonSecretConflict))
			g.Expect(p.Status.Token).To(BeNil(), "no token was minted for a Secret it may not write")
			g.Expect(erin.Delete(ctx, p)).To(Succeed())
		}
		for name, was := range before {
			now := &corev1.Secret{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: a, Name: name}, now)).To(Succeed())
			g.Expect(now.ResourceVersion).To(Equal(was.ResourceVersion), "Secret %s was modified", name)
			g.Expect(devenv.Fingerprints(now.Data)).To(Equal(devenv.Fingerprints(was.Data)), "Secret %s was modified", name)
		}
	})

	t.Run("the admin credential is out of reach", func(t *testing.T) {
		g := newG(t)
		o := operator.DefaultOptions()
		err := erin.Get(ctx, client.ObjectKey{Namespace: devenv.OperatorNamespace, Name: o.CredentialsSecretName}, &corev1.Secret{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		err = erin.List(ctx, &corev1.SecretList{}, client.InNamespace(devenv.OperatorNamespace))
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "got %v", err)
		// And no resource can point the operator at it: a Secret name has no namespace.
		p := newPAT(a, "creds", tenant)
		p.Spec.SecretName = devenv.OperatorNamespace + "/" + o.CredentialsSecretName
		err = erin.Create(ctx, p)
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
	})

	deleteAll(t, a, b)
	expectInvariant(t)
}
