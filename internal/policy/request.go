package policy

import (
	"time"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Kind is the kind of resource a Request asks for.
type Kind string

// The kinds a CredentialPolicy governs.
const (
	KindServiceUser         Kind = "ServiceUser"
	KindPersonalAccessToken Kind = "PersonalAccessToken"
)

// Requester is who asked for a resource, as the API server authenticated them (the admission
// request's userInfo, or the sealed Record of it), and the Devin user they map to.
type Requester struct {
	// User is the Kubernetes user name.
	User string
	// Groups are the user's groups.
	Groups []string
	// UID is the user's UID, if the authenticator sets one.
	UID string
	// Extra is the authenticator's extra information (claims, scopes).
	Extra map[string][]string
	// Email is the Devin email the requester maps to (Mapping.Email), or "" for none: then
	// only a delegation can allow a personal access token.
	Email string
}

// Request is what Decide judges: one resource's spec, where it lives and who asked for it.
// Durations are effective values (defaults applied), as the controller would use them.
type Request struct {
	Kind            Kind
	Namespace       string
	NamespaceLabels map[string]string
	Requester       Requester

	// Account is the account the resource acts through (its accountRef); nil is the
	// operator's default account. AccountLabels are a ClusterDevinAccount's labels, for
	// clusterAccountSelector (the caller reads them).
	Account       *iamv1alpha1.AccountRef
	AccountLabels map[string]string

	// OwnerEmail is the email of the PersonalAccessToken's owner, resolved upstream when the
	// spec names a user ID. "" refuses the request.
	OwnerEmail string
	// Imported is true for a PersonalAccessToken imported from a Secret (spec.importFrom):
	// the operator neither sets its lifetime nor revokes it, so the token bounds do not apply.
	Imported bool

	// Scope, OrganizationID (for scope Organization) and DefaultOrganization (whether that
	// organization is the operator's --default-organization) of a ServiceUser.
	Scope               iamv1alpha1.ServiceUserScope
	OrganizationID      string
	DefaultOrganization bool
	// RoleID and RoleName are the upstream role the ServiceUser's spec.role resolves to; a
	// role not (yet) resolved may leave one of them empty.
	RoleID   string
	RoleName string
	// TTL is the ServiceUser's own lifetime.
	TTL time.Duration

	// ExpiresAfter, RotationGracePeriod and DeletionPolicy of the token (both kinds).
	ExpiresAfter        time.Duration
	RotationGracePeriod time.Duration
	// RenewalInterval is how long after its issue each token is renewed.
	RenewalInterval time.Duration
	DeletionPolicy  iamv1alpha1.DeletionPolicy
}

// ServiceUserTarget is what the operator resolved a ServiceUser's spec to: the organization
// (spec.organizationID or the default one) and the upstream role.
type ServiceUserTarget struct {
	OrganizationID      string
	DefaultOrganization bool
	RoleID              string
	RoleName            string
}

// ForServiceUser builds the Request of a ServiceUser with its effective scope, ttl and token
// settings. The caller sets NamespaceLabels.
func ForServiceUser(su *iamv1alpha1.ServiceUser, who Requester, target ServiceUserTarget) Request {
	req := Request{
		Kind:                KindServiceUser,
		Namespace:           su.Namespace,
		Account:             su.Spec.AccountRef,
		Requester:           who,
		Scope:               su.EffectiveScope(),
		RoleID:              target.RoleID,
		RoleName:            target.RoleName,
		TTL:                 su.EffectiveTTL(),
		ExpiresAfter:        su.Spec.APIKey.Lifetime(),
		RotationGracePeriod: su.Spec.APIKey.GracePeriod(),
		RenewalInterval:     su.Spec.APIKey.RenewalInterval(),
		DeletionPolicy:      effectiveDeletionPolicy(su.Spec.DeletionPolicy),
	}
	if req.Scope == iamv1alpha1.ScopeOrganization {
		req.OrganizationID = target.OrganizationID
		req.DefaultOrganization = target.DefaultOrganization
	}
	return req
}

// ForPersonalAccessToken builds the Request of a PersonalAccessToken whose owner has the
// given email. The caller sets NamespaceLabels.
func ForPersonalAccessToken(pat *iamv1alpha1.PersonalAccessToken, who Requester, ownerEmail string) Request {
	return Request{
		Kind:                KindPersonalAccessToken,
		Namespace:           pat.Namespace,
		Account:             pat.Spec.AccountRef,
		Requester:           who,
		OwnerEmail:          ownerEmail,
		Imported:            pat.Imported(),
		ExpiresAfter:        pat.Spec.Lifetime(),
		RotationGracePeriod: pat.Spec.GracePeriod(),
		RenewalInterval:     pat.Spec.RenewalInterval(),
		DeletionPolicy:      effectiveDeletionPolicy(pat.Spec.DeletionPolicy),
	}
}

func effectiveDeletionPolicy(p iamv1alpha1.DeletionPolicy) iamv1alpha1.DeletionPolicy {
	if p == "" {
		return iamv1alpha1.DeletionPolicyDelete
	}
	return p
}
