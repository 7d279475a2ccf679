package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Credential returns the spec of the token (lifetime, rotation, Secret).
func (p *PersonalAccessToken) Credential() *CredentialSpec { return &p.Spec.CredentialSpec }

// CredentialStatus returns the status of the token.
func (p *PersonalAccessToken) CredentialStatus() *CredentialStatus { return &p.Status.CredentialStatus }

// Suspended reports whether rotation and repair are paused.
func (p *PersonalAccessToken) Suspended() bool { return p.Spec.Suspend }

// Imported reports whether the token is imported from a Secret (spec.importFrom) instead of
// minted: the operator can neither renew nor revoke it.
func (p *PersonalAccessToken) Imported() bool { return p.Spec.ImportFrom != nil }

// ImportKey is the data key of the imported token in its source Secret.
func (i *ImportSource) ImportKey() string {
	if i.Key == "" {
		return DefaultSecretKey
	}
	return i.Key
}

// TokenDisplayName is the readable part of the upstream token name.
func (p *PersonalAccessToken) TokenDisplayName() string {
	if p.Spec.TokenName != "" {
		return p.Spec.TokenName
	}
	return p.Namespace + "/" + p.Name
}

// Credential returns the spec of the service user's API key.
func (s *ServiceUser) Credential() *CredentialSpec { return &s.Spec.APIKey }

// CredentialStatus returns the status of the service user's API key.
func (s *ServiceUser) CredentialStatus() *CredentialStatus { return &s.Status.CredentialStatus }

// Suspended reports whether rotation and repair are paused.
func (s *ServiceUser) Suspended() bool { return s.Spec.Suspend }

// OwnerExpiresAt is when the service user expires: none of its keys outlives it.
func (s *ServiceUser) OwnerExpiresAt() *metav1.Time { return s.Status.ServiceUserExpiresAt }

// OwnerExpiresAt is nil: a person does not expire.
func (p *PersonalAccessToken) OwnerExpiresAt() *metav1.Time { return nil }

// Imported is false: a service user's keys are always minted by the operator.
func (s *ServiceUser) Imported() bool { return false }

// DisplayName is the readable part of the service user's upstream name (the operator
// appends a marker that proves which resource it belongs to).
func (s *ServiceUser) DisplayName() string {
	if s.Spec.Name != "" {
		return s.Spec.Name
	}
	return s.Namespace + "-" + s.Name
}

// TokenDisplayName is the readable part of the upstream API key name.
func (s *ServiceUser) TokenDisplayName() string { return s.Namespace + "/" + s.Name }

// OrganizationID is the organization a ServiceUser's spec names ("" for the operator's
// default, or for scope Enterprise).
func (s *ServiceUser) OrganizationID() string { return s.Spec.OrganizationID }

// OrganizationID is "": a personal access token acts in every organization of its owner.
func (p *PersonalAccessToken) OrganizationID() string { return "" }

// AccountReference is the account the PersonalAccessToken acts through (nil: the default).
func (p *PersonalAccessToken) AccountReference() *AccountRef { return p.Spec.AccountRef }

// AccountReference is the account the ServiceUser acts through (nil: the default).
func (s *ServiceUser) AccountReference() *AccountRef { return s.Spec.AccountRef }
