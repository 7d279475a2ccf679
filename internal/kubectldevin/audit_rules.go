package kubectldevin

import (
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// policyResource is the resource whose `use` and `delegate` verbs decide who may rely on a
// CredentialPolicy (docs/tenancy.md).
const policyResource = "credentialpolicies"

// ruleGrant is what one RBAC rule grants on CredentialPolicies.
type ruleGrant struct {
	verbs []string
	// wildcard is true when a `*` (verb, resource or API group) made the rule match: such a
	// grant includes `use` and `delegate` whether or not its author meant them.
	wildcard bool
	// policies are the resourceNames; empty means every policy.
	policies []string
}

// policyGrants returns what the rules grant on CredentialPolicies: `use`, `delegate`, or both.
func policyGrants(rules []rbacv1.PolicyRule) []ruleGrant {
	var out []ruleGrant
	for _, r := range rules {
		group, groupWild := matches(r.APIGroups, iamv1alpha1.GroupVersion.Group)
		resource, resourceWild := matches(r.Resources, policyResource)
		if !group || !resource {
			continue
		}
		g := ruleGrant{wildcard: groupWild || resourceWild, policies: r.ResourceNames}
		for _, verb := range []string{iamv1alpha1.PolicyVerbUse, iamv1alpha1.PolicyVerbDelegate} {
			ok, wild := matches(r.Verbs, verb)
			if ok {
				g.verbs = append(g.verbs, verb)
				g.wildcard = g.wildcard || wild
			}
		}
		if len(g.verbs) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// matches reports whether list names want, and whether only through `*`.
func matches(list []string, want string) (ok, wildcard bool) {
	if slices.Contains(list, want) {
		return true, false
	}
	if slices.Contains(list, rbacv1.ResourceAll) {
		return true, true
	}
	return false, false
}
