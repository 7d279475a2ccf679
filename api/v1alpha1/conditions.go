package v1alpha1

// Condition types, following kstatus: Ready summarises, Reconciling is True while the
// operator works towards the spec, Stalled is True when it cannot go on without a change of
// the spec or of the upstream account.
const (
	ConditionReady       = "Ready"
	ConditionReconciling = "Reconciling"
	ConditionStalled     = "Stalled"
	// ConditionExpiringSoon is True when a service user nears its own expiry.
	ConditionExpiringSoon = "ExpiringSoon"
)

// Condition reasons. They are part of the API: alerts and GitOps health checks match them.
const (
	// ReasonTokenIssued: the Secret holds a live token.
	ReasonTokenIssued = "TokenIssued"
	// ReasonIssuing: a token is being issued or the Secret written.
	ReasonIssuing = "Issuing"
	// ReasonRotating: a token is being replaced.
	ReasonRotating = "Rotating"
	// ReasonProvisioning: a service user is being provisioned.
	ReasonProvisioning = "Provisioning"
	// ReasonSuspended: spec.suspend is true.
	ReasonSuspended = "Suspended"
	// ReasonSSOAccount: the user is linked to enterprise SSO and cannot have a PAT; use a
	// ServiceUser.
	ReasonSSOAccount = "SSOAccount"
	// ReasonFeatureNotEnabled: the user's account does not have the PAT feature (closed beta).
	ReasonFeatureNotEnabled = "FeatureNotEnabled"
	// ReasonUserNotFound: no such user upstream.
	ReasonUserNotFound = "UserNotFound"
	// ReasonUnknownRole: the role does not exist upstream or does not fit the scope.
	ReasonUnknownRole = "UnknownRole"
	// ReasonNameConflict: a service user with this name exists upstream and is not ours.
	ReasonNameConflict = "NameConflict"
	// ReasonInvalidSpec: the backend rejected the request as invalid.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonBackendError: the Devin API failed or could not be reached; the operator retries.
	ReasonBackendError = "BackendError"
	// ReasonBackendUnauthorized: the operator's own credential was refused.
	ReasonBackendUnauthorized = "BackendUnauthorized"
	// ReasonSecretConflict: a Secret of that name exists and was not created by the operator.
	ReasonSecretConflict = "SecretConflict"
	// ReasonRevocationPending: deletion waits for the backend to revoke the tokens.
	ReasonRevocationPending = "RevocationPending"
	// ReasonServiceUserExpiring: the service user expires soon.
	ReasonServiceUserExpiring = "ServiceUserExpiring"
	// ReasonServiceUserValid: the service user is far from its expiry.
	ReasonServiceUserValid = "ServiceUserValid"
)

// Rotation reasons, recorded in status.lastRotationReason and in the rotation event.
const (
	RotationRenewal         = "Renewal"
	RotationRequested       = "RotationRequested"
	RotationSecretDeleted   = "SecretDeleted"
	RotationSecretModified  = "SecretModified"
	RotationUpstreamRevoked = "UpstreamRevoked"
	RotationSpecChanged     = "SpecChanged"
	RotationServiceUserGone = "ServiceUserGone"
	RotationLostIssue       = "LostIssue"
)
