package devinapi

import (
	"fmt"
	"time"
)

// Token is a one-time secret credential value (a "cog_" bearer token). Its String, GoString
// and Format methods redact it, so that it cannot reach a log line, an event or an error
// through %v, %s, %q or %#v by accident. Reveal returns the value, for the one place that
// writes it into a Kubernetes Secret.
type Token struct{ value string }

// NewToken wraps a token value.
func NewToken(value string) Token { return Token{value: value} }

// Reveal returns the secret value. Call it only to store the token in a Secret or to
// authenticate with it.
func (t Token) Reveal() string { return t.value }

// IsZero reports whether the token is empty.
func (t Token) IsZero() bool { return t.value == "" }

// String returns a redacted placeholder, never the value.
func (t Token) String() string {
	if t.value == "" {
		return "<empty>"
	}
	return "<redacted>"
}

// GoString returns a redacted placeholder, never the value.
func (t Token) GoString() string { return t.String() }

// Format implements fmt.Formatter so that every verb prints the redacted placeholder.
func (t Token) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(t.String())) }

// MarshalText encodes the redacted placeholder, so that a token never ends up in JSON or YAML
// by accident.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Scope is where a service user lives.
type Scope string

const (
	// ScopeOrganization is a service user of one organization with an org-level role.
	ScopeOrganization Scope = "Organization"
	// ScopeEnterprise is an enterprise service user with an account-level role.
	ScopeEnterprise Scope = "Enterprise"
)

// KeyStatus filters API key and PAT listings. The API's own default is "all"; the client
// always sends a status and sends "active" for an empty one.
type KeyStatus string

// Key status filters understood by the list endpoints.
const (
	KeyStatusActive  KeyStatus = "active"
	KeyStatusRevoked KeyStatus = "revoked"
	KeyStatusExpired KeyStatus = "expired"
	KeyStatusAll     KeyStatus = "all"
)

// Role is a role as the backend describes it.
type Role struct {
	ID   string
	Name string
	// Type is "org" or "enterprise" (account-level).
	Type string
}

// RoleAssignment binds a role to a principal, optionally within one organization.
type RoleAssignment struct {
	Role  Role
	OrgID string
}

// ServiceUser is a non-human principal.
type ServiceUser struct {
	ID              string
	Name            string
	ExpiresAt       *time.Time
	RoleAssignments []RoleAssignment
	IsActive        bool
}

// ProvisionServiceUserRequest asks for a new service user.
type ProvisionServiceUserRequest struct {
	Scope Scope
	// OrgID is required for ScopeOrganization.
	OrgID  string
	Name   string
	RoleID string
	// TTL is the life of the service user, required: from one second to one year
	// (MaxServiceUserTTL), sent in whole seconds. The API has no default.
	TTL time.Duration
}

// ProvisionedServiceUser is a new service user and its first API key, whose value is shown
// only once. The backend does not say which key ID that first key has; list the keys.
type ProvisionedServiceUser struct {
	ServiceUser ServiceUser
	Token       Token
}

// APIKey describes a service user API key or a personal access token, without its value.
type APIKey struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	IsActive   bool
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// IssuedKey is a newly created key and its value, shown only once.
type IssuedKey struct {
	ID        string
	Name      string
	ExpiresAt *time.Time
	Token     Token
}

// CreateKeyRequest asks for a new API key or PAT.
type CreateKeyRequest struct {
	Name string
	// ExpiresAt is optional and must be in the future.
	ExpiresAt *time.Time
}

// RotateKeyRequest asks the backend to issue a replacement for an active key.
type RotateKeyRequest struct {
	NewKeyExpiresAt *time.Time
	RevokeCurrent   bool
}

// IDPRoleAssignment is a role granted through an identity provider group.
type IDPRoleAssignment struct {
	IDPGroupName string
	Role         Role
	OrgID        string
}

// User is a human member of the enterprise.
type User struct {
	ID                 string
	Email              string
	Name               string
	RoleAssignments    []RoleAssignment
	IDPRoleAssignments []IDPRoleAssignment
	// SAMLID comes from the older v2 member record; nil when unlinked or unknown.
	SAMLID *string
}

// SSOLinked reports whether the account is linked to enterprise SSO: it has roles granted
// through IdP groups (every IdP-only member has), or a SAML identity. The vendor documents no
// explicit flag; this is the inference written down in the backend contract. SAMLID is only
// known when the client has an enterprise admin's personal key (Options.EnterpriseAdminKey):
// without it a directly assigned member with a SAML identity is not seen as SSO-linked.
func (u User) SSOLinked() bool {
	return (u.SAMLID != nil && *u.SAMLID != "") || len(u.IDPRoleAssignments) > 0
}

// Self tells who a credential is. Which fields are set depends on Kind, as GET /v3/self
// answers by principal type:
//   - PrincipalServiceUser: ServiceUserID, ServiceUserName, OrgID (APIKeyID stays empty: the
//     API does not say which key of the service user authenticated);
//   - PrincipalPATUser: APIKeyID, APIKeyName, UserID, UserName, OrgID;
//   - PrincipalDevinBrain, PrincipalWindsurfSession and kinds unknown to the client: UserID
//     and OrgID when the answer has them.
type Self struct {
	// Kind is the answer's principal_type.
	Kind            string
	ServiceUserID   string
	ServiceUserName string
	UserID          string
	UserName        string
	APIKeyID        string
	APIKeyName      string
	// OrgID is empty for an enterprise-level principal.
	OrgID string
}
