package policy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestDecideAccounts: a policy without accounts allows the default account and the
// namespace's own DevinAccounts, and no ClusterDevinAccount; one with accounts allows the
// ClusterDevinAccounts it names or selects, and may take the default or the namespaced
// accounts away.
func TestDecideAccounts(t *testing.T) {
	plain := policyFor("plain", "team-a", serviceUsers("*"))
	shared := policyFor("shared", "team-a", serviceUsers("*"), func(s *iamv1alpha1.CredentialPolicySpec) {
		s.Accounts = &iamv1alpha1.AccountPolicy{ClusterAccounts: []string{"shared"}, Default: ptr(false), Namespaced: ptr(false)}
	})
	byLabel := policyFor("by-label", "team-a", serviceUsers("*"), func(s *iamv1alpha1.CredentialPolicySpec) {
		s.Accounts = &iamv1alpha1.AccountPolicy{ClusterAccountSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "team"}}}
	})
	broken := policyFor("broken", "team-a", serviceUsers("*"), func(s *iamv1alpha1.CredentialPolicySpec) {
		s.Accounts = &iamv1alpha1.AccountPolicy{ClusterAccountSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Bogus"}}}}
	})
	grants := rbac(use("plain"), use("shared"), use("by-label"), use("broken"))
	one := func(p iamv1alpha1.CredentialPolicy) []iamv1alpha1.CredentialPolicy {
		return []iamv1alpha1.CredentialPolicy{p}
	}
	account := func(kind, name string, labels map[string]string) func(*Request) {
		return func(r *Request) { r.Account, r.AccountLabels = &iamv1alpha1.AccountRef{Kind: kind, Name: name}, labels }
	}
	cluster := iamv1alpha1.KindClusterDevinAccount
	runDecide(t, map[string]decideCase{
		"no accounts: the default account": {policies: one(plain), req: serviceUser(), rbac: grants, policy: "plain", asked: []string{use("plain")}},
		"no accounts: the namespace's own account": {
			policies: one(plain), req: serviceUser(account(iamv1alpha1.KindDevinAccount, "mine", nil)), rbac: grants, policy: "plain", asked: []string{use("plain")},
		},
		"no accounts: no cluster account": {
			policies: one(plain), req: serviceUser(account(cluster, "shared", map[string]string{"tier": "team"})),
			msg: []string{`policy plain: it does not allow ClusterDevinAccount "shared"`},
		},
		"a named cluster account": {
			policies: one(shared), req: serviceUser(account(cluster, "shared", nil)), rbac: grants, policy: "shared", asked: []string{use("shared")},
		},
		"another cluster account": {
			policies: one(shared), req: serviceUser(account(cluster, "other", nil)), msg: []string{`it does not allow ClusterDevinAccount "other"`},
		},
		"default taken away": {
			policies: one(shared), req: serviceUser(), msg: []string{"it does not allow the operator's default account"},
		},
		"namespaced taken away": {
			policies: one(shared), req: serviceUser(account(iamv1alpha1.KindDevinAccount, "mine", nil)), msg: []string{`not DevinAccount "mine"`},
		},
		"a cluster account by label": {
			policies: one(byLabel), req: serviceUser(account(cluster, "team-x", map[string]string{"tier": "team"})), rbac: grants, policy: "by-label", asked: []string{use("by-label")},
		},
		"a cluster account without the label": {
			policies: one(byLabel), req: serviceUser(account(cluster, "team-x", map[string]string{"tier": "admin"})), msg: []string{`ClusterDevinAccount "team-x"`},
		},
		"a selector that does not parse allows nothing": {
			policies: one(broken), req: serviceUser(account(cluster, "team-x", map[string]string{"tier": "team"})), msg: []string{"clusterAccountSelector does not parse"},
		},
		"personal access tokens too": {
			policies: []iamv1alpha1.CredentialPolicy{policyFor("pats", "team-a", ownTokens)},
			req:      token(alice, "alice@example.com", account(cluster, "shared", nil)), msg: []string{`it does not allow ClusterDevinAccount "shared"`},
		},
	})
}
