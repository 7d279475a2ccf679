package tenancy

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// sharedAccount creates a ClusterDevinAccount on a new enterprise, its Secret in the
// operator's namespace, and waits until it is Ready.
func sharedAccount(t *testing.T) (*iamv1alpha1.ClusterDevinAccount, *devinapitest.Enterprise) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	name := "shared-" + rand.String(6)
	ent := env.Devin.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName(name))
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: devenv.OperatorNamespace, Name: name},
		StringData: map[string]string{"token": ent.AdminToken().Reveal()}}
	g.Expect(k8s.Create(ctx, sec)).To(Succeed())
	acct := &iamv1alpha1.ClusterDevinAccount{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: name},
			DefaultOrganization: ent.Organizations()[0]}}
	g.Expect(k8s.Create(ctx, acct)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(acct), acct)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(acct.Status.Conditions, iamv1alpha1.ConditionReady)).To(BeTrue())
	}, timeout, interval).Should(Succeed())
	return acct, ent
}

// TestClusterAccountNeedsThePolicy: a ClusterDevinAccount is usable only where a policy
// names it. A tenant whose policy does not is refused at admission; one whose policy does
// gets a service user in the shared account's enterprise; when the policy stops naming it,
// the controller's own decision says so (nothing new is minted through it).
func TestClusterAccountNeedsThePolicy(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	shared, ent := sharedAccount(t)
	onShared := func(su *iamv1alpha1.ServiceUser) *iamv1alpha1.ServiceUser {
		su.Spec.AccountRef = &iamv1alpha1.AccountRef{Kind: iamv1alpha1.KindClusterDevinAccount, Name: shared.Name}
		return su
	}
	plainNS, sharedNS := newNamespace(t, nil), newNamespace(t, nil)
	plain := createPolicy(t, teamPolicy(plainNS))
	withShared := teamPolicy(sharedNS)
	withShared.Spec.Accounts = &iamv1alpha1.AccountPolicy{ClusterAccounts: []string{shared.Name}}
	withShared = createPolicy(t, withShared)
	a := newMember(t, alice, nil, plainNS, sharedNS)
	allowPolicy(t, plainNS, plain.Name, alice, "use")
	allowPolicy(t, sharedNS, withShared.Name, alice, "use")

	refused(t, a.Create(ctx, onShared(newSU(plainNS, "bot", "Member"))),
		"no CredentialPolicy allows this ServiceUser", `it does not allow ClusterDevinAccount "`+shared.Name+`"`)

	su := onShared(newSU(sharedNS, "bot", "Member"))
	g.Expect(a.Create(ctx, su)).To(Succeed())
	su = waitReady(t, su)
	g.Expect(su.Status.Account).To(Equal("ClusterDevinAccount/" + shared.Name))
	users, err := ent.Client().ListServiceUsers(ctx, false)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(users).To(ContainElement(HaveField("ID", su.Status.ServiceUserID)), "provisioned in the shared account's enterprise")

	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(withShared), withShared)).To(Succeed())
	withShared.Spec.Accounts = nil
	g.Expect(k8s.Update(ctx, withShared)).To(Succeed())
	waitAdmitted(t, su, "False", iamv1alpha1.ReasonPolicyDenied, `it does not allow ClusterDevinAccount "`+shared.Name+`"`)
}
