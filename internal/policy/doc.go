// Package policy decides, under the cluster's CredentialPolicies, whether a ServiceUser or a
// PersonalAccessToken may be issued to the person who asked for it. The admission webhook and
// the controllers both call Decide, so that the policy holds with the webhook disabled.
//
// # The rule
//
// A request is allowed when at least one CredentialPolicy
//
//  1. selects the request's namespace: the namespace matches spec.namespaceSelector AND, if
//     spec.namespaces is set, is listed there (both must hold; `{}` selects every namespace);
//  2. allows all of the request: the kind (serviceUsers / personalAccessTokens present), the
//     scope, organization, role and ttl of a ServiceUser, the owner of a PersonalAccessToken,
//     and the token bounds (maxExpiresAfter, maxRotationGracePeriod, allowOrphan);
//  3. may be used by the requester: RBAC grants them the verb `use` on
//     credentialpolicies/<name> in the request's namespace (a RoleBinding there suffices, or
//     a ClusterRoleBinding) and, for a personal access token of someone else, also the verb
//     `delegate`.
//
// Policies never combine field by field: one policy must allow the whole request. They are
// tried in name order and the first that allows the request admits it (Decision.Policy); the
// authorizer is asked only about policies that pass 1 and 2, so most requests cost one
// SubjectAccessReview. With no policy that selects the namespace, nothing is allowed.
//
// # Personal access tokens
//
// A token of one's own (the requester's Devin email, see Mapping, is the owner's) is allowed
// by personalAccessTokens.allowOwner. Any other token (including one's own under a policy
// with allowOwner false) needs a delegation that covers the owner's email (delegation.users,
// or delegation.domains: "example.com" for that domain, "*.example.com" for its subdomains)
// and the RBAC verbs `use` and `delegate`. Emails are compared as devinapi.SameEmail does:
// ASCII only, letters ignoring case. Every PersonalAccessToken decision carries a warning that
// whoever can read Secrets in the namespace acts as the owner.
//
// # Admission records
//
// The webhook seals a Record (who asked, which policy admitted, a hash of the spec) into the
// iam.devin.ai/admission annotation with an HMAC key only the operator holds (KeyRing); the
// controller opens it, checks that it names the object and its current spec, and decides
// again with the recorded requester before every upstream create.
package policy
