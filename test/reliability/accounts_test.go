package reliability

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

// TestAccountsUnderTheOperatorsRBAC: a DevinAccount and a ClusterDevinAccount become Ready
// with the operator running under its own ClusterRole only (TestZZLeastPrivilege then
// checks that their permissions are used, and nothing was refused).
func TestAccountsUnderTheOperatorsRBAC(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	supervise(t, operatorOptions())
	ns := newNamespace(t)
	value := map[string]string{"token": env.Devin.AdminToken().Reveal()}
	for _, sec := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-key"}, StringData: value},
		{ObjectMeta: metav1.ObjectMeta{Namespace: devenv.OperatorNamespace, Name: "shared-key"}, StringData: value},
	} {
		g.Expect(k8s.Create(ctx, sec)).To(Succeed())
	}
	spec := func(name string) iamv1alpha1.DevinAccountSpec {
		return iamv1alpha1.DevinAccountSpec{APIURL: env.Devin.URL, CredentialSecretRef: iamv1alpha1.AccountSecretRef{Name: name}}
	}
	team := &iamv1alpha1.DevinAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team"}, Spec: spec("team-key")}
	shared := &iamv1alpha1.ClusterDevinAccount{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: spec("shared-key")}
	for _, a := range []client.Object{team, shared} {
		g.Expect(k8s.Create(ctx, a)).To(Succeed())
	}
	t.Cleanup(func() { _ = k8s.Delete(ctx, shared) })
	for _, a := range []interface {
		client.Object
		AccountStatus() *iamv1alpha1.DevinAccountStatus
	}{team, shared} {
		g.Eventually(func() bool {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(a), a)
			return meta.IsStatusConditionTrue(a.AccountStatus().Conditions, iamv1alpha1.ConditionReady)
		}, timeout, interval).Should(BeTrue(), "%s Ready", a.GetName())
	}
}
