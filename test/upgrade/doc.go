// Package upgrade proves that upgrading from the previous release strands no token: resources
// the previous release's own code created and made Ready (built from the repository's
// history, run as a process with its CRDs and webhooks) keep their tokens after the new
// CRDs, webhooks and operator are installed with their default settings (CredentialPolicies
// enforced, and none written yet), and keep renewing while their spec is unchanged.
package upgrade
