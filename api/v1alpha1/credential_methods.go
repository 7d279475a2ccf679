package v1alpha1

// Credential returns the spec of the token (lifetime, rotation, Secret).
func (p *PersonalAccessToken) Credential() *CredentialSpec { return &p.Spec.CredentialSpec }

// CredentialStatus returns the status of the token.
func (p *PersonalAccessToken) CredentialStatus() *CredentialStatus { return &p.Status.CredentialStatus }

// Suspended reports whether rotation and repair are paused.
func (p *PersonalAccessToken) Suspended() bool { return p.Spec.Suspend }

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

// UpstreamName is the name of the service user upstream.
func (s *ServiceUser) UpstreamName() string {
	if s.Spec.Name != "" {
		return s.Spec.Name
	}
	return s.Namespace + "-" + s.Name
}

// TokenDisplayName is the readable part of the upstream API key name.
func (s *ServiceUser) TokenDisplayName() string { return s.Namespace + "/" + s.Name }
