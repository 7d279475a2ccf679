// Package tenancy proves the cluster administrators' CredentialPolicies hold against
// tenants: through the real webhooks (impersonating users and groups), with the webhooks
// removed (the controllers refuse to mint what no sealed admission record and no policy
// allows), and when a policy is tightened after resources exist. The operator runs with its
// default settings (--policy-mode=enforce), as cluster admin, against the in-memory Devin API.
package tenancy
