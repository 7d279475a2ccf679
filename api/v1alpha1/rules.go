package v1alpha1

import "time"

// Domain rules that the admission webhooks and the controllers both apply. They live here,
// below both, so that neither imports the other and both read the same numbers.
const (
	// DefaultServiceUserTTL is the lifetime of a service user whose spec names none.
	DefaultServiceUserTTL = 8760 * time.Hour
	// MaxServiceUserTTL is the Devin API's limit on a service user's lifetime
	// (ttl_seconds <= 31,536,000).
	MaxServiceUserTTL = 8760 * time.Hour

	// MaxIssueCount bounds the numbers of a resource's creates upstream (status.issueCount
	// and the iam.devin.ai/issue-intent annotation): a billion creates at the most a mint
	// budget allows takes millennia, and a number no one can push past it never overflows.
	MaxIssueCount = 1_000_000_000
	// MinRenewalInterval is the shortest time between a token's issue and its renewal the
	// CRD accepts (expiresAfter minus renewBefore); the lifecycle holds to it even for a
	// spec stored before that rule.
	MinRenewalInterval = 30 * time.Minute
	// DefaultExpiresAfter is the lifetime of a token whose spec names none.
	DefaultExpiresAfter = 2160 * time.Hour
	// DefaultRotationGracePeriod is how long a replaced token stays valid by default.
	DefaultRotationGracePeriod = time.Hour

	// maxExpiryWarning bounds how early a service user is reported ExpiringSoon.
	maxExpiryWarning = 30 * 24 * time.Hour
)

// RoleType is the type of role that fits the scope, as the Devin API names it: "org" for
// Organization (the default), "enterprise" for Enterprise (an account-level role).
func (s ServiceUserScope) RoleType() string {
	if s == ScopeEnterprise {
		return "enterprise"
	}
	return "org"
}

// EffectiveScope is the scope of the service user, Organization when the spec names none.
func (s *ServiceUser) EffectiveScope() ServiceUserScope {
	if s.Spec.Scope == "" {
		return ScopeOrganization
	}
	return s.Spec.Scope
}

// EffectiveTTL is the lifetime the controller asks for when it provisions the service user.
func (s *ServiceUser) EffectiveTTL() time.Duration {
	if s.Spec.TTL == nil || s.Spec.TTL.Duration <= 0 {
		return DefaultServiceUserTTL
	}
	return s.Spec.TTL.Duration
}

// ExpiryWarning is how long before its expiry a service user is reported ExpiringSoon: a
// fifth of its lifetime, at most 30 days.
func (s *ServiceUser) ExpiryWarning() time.Duration {
	return min(s.EffectiveTTL()/5, maxExpiryWarning)
}

// Lifetime is how long each token of the spec lives.
func (c *CredentialSpec) Lifetime() time.Duration {
	if c.ExpiresAfter != nil && c.ExpiresAfter.Duration > 0 {
		return c.ExpiresAfter.Duration
	}
	return DefaultExpiresAfter
}

// RenewalInterval is how long after its issue each token of the spec is renewed: its
// lifetime less renewBefore (by default two thirds of the lifetime), at least
// MinRenewalInterval.
func (c *CredentialSpec) RenewalInterval() time.Duration {
	before := c.Lifetime() / 3
	if c.RenewBefore != nil && c.RenewBefore.Duration > 0 {
		before = c.RenewBefore.Duration
	}
	return max(c.Lifetime()-before, MinRenewalInterval)
}

// GracePeriod is how long a replaced token stays valid before it is revoked.
func (c *CredentialSpec) GracePeriod() time.Duration {
	if c.RotationGracePeriod != nil && c.RotationGracePeriod.Duration >= 0 {
		return c.RotationGracePeriod.Duration
	}
	return DefaultRotationGracePeriod
}
