package policy

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// checkAccount says why a policy does not allow the account req acts through, or "" when it
// does. Absent accounts allow the default account and the namespace's own DevinAccounts
// (an accountRef cannot name another namespace's), no ClusterDevinAccount.
func checkAccount(a *iamv1alpha1.AccountPolicy, req Request) string {
	ref := req.Account
	switch {
	case ref == nil:
		if a.AllowsDefault() {
			return ""
		}
		return "it does not allow the operator's default account (accounts.default is false): name an account in spec.accountRef"
	case ref.Kind == iamv1alpha1.KindDevinAccount:
		if a.AllowsNamespaced() {
			return ""
		}
		return fmt.Sprintf("it does not allow the namespace's own DevinAccounts (accounts.namespaced is false), so not DevinAccount %s", quote(ref.Name))
	case ref.Kind == iamv1alpha1.KindClusterDevinAccount:
		return checkClusterAccount(a, ref.Name, req.AccountLabels)
	}
	return fmt.Sprintf("unknown account kind %s", quote(ref.Kind))
}

func checkClusterAccount(a *iamv1alpha1.AccountPolicy, name string, accountLabels map[string]string) string {
	if a != nil && slices.Contains(a.ClusterAccounts, name) {
		return ""
	}
	if a != nil && a.ClusterAccountSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(a.ClusterAccountSelector)
		if err != nil {
			return fmt.Sprintf("its accounts.clusterAccountSelector does not parse (%v)", err)
		}
		if sel.Matches(labels.Set(accountLabels)) {
			return ""
		}
	}
	return fmt.Sprintf("it does not allow ClusterDevinAccount %s (accounts.clusterAccounts and accounts.clusterAccountSelector)", quote(name))
}
