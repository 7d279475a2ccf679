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
	// ConditionAdmitted says whether a CredentialPolicy allows the resource's current spec
	// for the requester recorded at admission: when False, nothing new is minted.
	ConditionAdmitted = "Admitted"
	// ConditionConsumersRestarted says whether the rolloutRestartTargets were restarted for
	// the current token.
	ConditionConsumersRestarted = "ConsumersRestarted"
	// ConditionUnused is True when a ServiceUser's current key has not been used for
	// spec.apiKey.unusedAfter; set only when unusedAfter is.
	ConditionUnused = "Unused"
)

// Condition reasons. They are part of the API: alerts and GitOps health checks match them.
const (
	// ReasonTokenIssued: the Secret holds a live token.
	ReasonTokenIssued = "TokenIssued"
	// ReasonIssuing: a token is being issued or the Secret written.
	ReasonIssuing = "Issuing"
	// ReasonAccountNotReady: the account spec.accountRef names does not exist, is not Ready,
	// or is not connected yet; the resource waits for it (nothing is minted or revoked).
	ReasonAccountNotReady = "AccountNotReady"
	// ReasonAccountInUse: the account is being deleted and waits for the resources that act
	// through it to revoke their credentials.
	ReasonAccountInUse = "AccountInUse"
	// ReasonSuspended: spec.suspend is true.
	ReasonSuspended = "Suspended"
	// ReasonSSOAccount: the user is linked to enterprise SSO and cannot have a PAT; use a
	// ServiceUser.
	ReasonSSOAccount = "SSOAccount"
	// ReasonFeatureNotEnabled: the user's account does not have the PAT feature (closed beta).
	ReasonFeatureNotEnabled = "FeatureNotEnabled"
	// ReasonPATAPIUnavailable: the Devin API has no endpoint that creates personal access
	// tokens (none is published yet); import the owner's token or use a ServiceUser.
	ReasonPATAPIUnavailable = "PATAPIUnavailable"
	// ReasonImportRefused: the token to import is not a personal access token of spec.user
	// (or not a token at all); nothing about its real owner is said.
	ReasonImportRefused = "ImportRefused"
	// ReasonImportSourceMissing: the Secret named by spec.importFrom, or its key, is missing.
	ReasonImportSourceMissing = "ImportSourceMissing"
	// ReasonUserNotFound: no such user upstream.
	ReasonUserNotFound = "UserNotFound"
	// ReasonUnknownRole: the role does not exist upstream or does not fit the scope.
	ReasonUnknownRole = "UnknownRole"
	// ReasonInvalidSpec: the backend rejected the request as invalid.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonBackendError: the Devin API failed or could not be reached; the operator retries.
	ReasonBackendError = "BackendError"
	// ReasonBackendUnauthorized: the operator's own credential was refused.
	ReasonBackendUnauthorized = "BackendUnauthorized"
	// ReasonSecretConflict: a Secret of that name exists and was not created by the operator.
	ReasonSecretConflict = "SecretConflict"
	// ReasonRevokedUpstream: the token (or the service user) was revoked upstream by
	// someone else; nothing new is issued until iam.devin.ai/rotate changes.
	ReasonRevokedUpstream = "RevokedUpstream"
	// ReasonIntentMalformed: the iam.devin.ai/issue-intent annotation, which only the operator
	// writes, holds something it never writes; nothing is created until it is removed.
	ReasonIntentMalformed = "IntentMalformed"
	// ReasonMintBudgetExhausted: the resource caused as many creates upstream in the last
	// hour as the operator's mint budget allows; it mints again once the oldest is an hour old.
	ReasonMintBudgetExhausted = "MintBudgetExhausted"
	// ReasonSecretRejected: the API server refuses the Secret (an invalid label, a full
	// ResourceQuota, an admission policy): nothing is minted until that changes.
	ReasonSecretRejected = "SecretRejected"
	// ReasonRevocationPending: deletion waits for the backend to revoke the tokens.
	ReasonRevocationPending = "RevocationPending"
	// ReasonServiceUserExpiring: the service user expires soon.
	ReasonServiceUserExpiring = "ServiceUserExpiring"
	// ReasonServiceUserValid: the service user is far from its expiry.
	ReasonServiceUserValid = "ServiceUserValid"
	// ReasonPolicyDenied: no CredentialPolicy allows the resource's spec for its requester
	// any more; nothing is minted or rotated until one does.
	ReasonPolicyDenied = "PolicyDenied"
	// ReasonNotAdmitted: the resource carries no valid admission record for its current
	// spec (the admission webhook did not run, or the record was altered); nothing is
	// minted until the spec is admitted.
	ReasonNotAdmitted = "NotAdmitted"
	// ReasonPolicyAllowed: a CredentialPolicy allows the resource's spec (Admitted=True).
	ReasonPolicyAllowed = "PolicyAllowed"
	// ReasonRestarted: the rolloutRestartTargets were restarted for the current token.
	ReasonRestarted = "Restarted"
	// ReasonRestartFailed: a rolloutRestartTarget does not exist or cannot be patched; the
	// rotation itself went on.
	ReasonRestartFailed = "RestartFailed"
	// ReasonKeyUnused: the current key has not been used for spec.apiKey.unusedAfter (Unused=True).
	ReasonKeyUnused = "KeyUnused"
	// ReasonKeyUsed: the current key was used within spec.apiKey.unusedAfter (Unused=False).
	ReasonKeyUsed = "KeyUsed"
	// ReasonReconcileError: something other than the Devin API failed (the Kubernetes API,
	// say); the operator retries with backoff.
	ReasonReconcileError = "ReconcileError"
)

// Rotation reasons, recorded in status.lastRotationReason and in the rotation event.
const (
	RotationRenewal         = "Renewal"
	RotationRequested       = "RotationRequested"
	RotationSecretDeleted   = "SecretDeleted"
	RotationSecretModified  = "SecretModified"
	RotationUpstreamRevoked = "UpstreamRevoked"
	RotationExpired         = "Expired"
	RotationServiceUserGone = "ServiceUserGone"
)

// Event reasons of the events the operator emits on its resources (besides these, the
// Warning event of a failed reconcile carries the condition reason). Like condition
// reasons, they are part of the API: alerts match them.
const (
	// EventTokenIssued (Normal): the first token was issued into the Secret.
	EventTokenIssued = "TokenIssued"
	// EventTokenRotated (Normal): a new token replaced the previous one in the Secret.
	EventTokenRotated = "TokenRotated"
	// EventTokenRevoked (Normal): replaced tokens (after their grace period) or every token
	// (on deletion) were revoked upstream.
	EventTokenRevoked = "TokenRevoked"
	// EventOrphanRevoked (Normal): a token of the resource that no Secret held (its value
	// was lost) was revoked upstream.
	EventOrphanRevoked = "OrphanRevoked"
	// EventTokenRevokedUpstream (Warning): the current token was revoked or expired out of
	// band.
	EventTokenRevokedUpstream = "TokenRevokedUpstream"
	// EventOwnershipUnproven (Warning): status named an upstream object whose name does not
	// carry this resource's marker; the operator leaves it alone.
	EventOwnershipUnproven = "OwnershipUnproven"
	// EventOrphanRefused (Warning): the resource was deleted with deletionPolicy Orphan, which
	// its admitted spec does not say (or no policy allows); its credentials are revoked.
	EventOrphanRefused = "OrphanRefused"
	// EventMintBudgetExhausted (Warning): the resource may not cause another create upstream
	// before the time the event names.
	EventMintBudgetExhausted = "MintBudgetExhausted"
	// EventTokenOrphaned (Normal): the resource was deleted with deletionPolicy Orphan and
	// its token left upstream.
	EventTokenOrphaned = "TokenOrphaned"
	// EventImportedTokenNotRevoked (Warning): an imported token's resource was deleted; the
	// token stays valid upstream until its owner revokes it in account settings.
	EventImportedTokenNotRevoked = "ImportedTokenNotRevoked"
	// EventServiceUserDeleted (Normal): the service user and its keys were deleted upstream.
	EventServiceUserDeleted = "ServiceUserDeleted"
	// EventServiceUserOrphaned (Normal): deleted with deletionPolicy Orphan; the service
	// user and its keys were left upstream.
	EventServiceUserOrphaned = "ServiceUserOrphaned"
	// EventServiceUserGone (Warning): the service user was deleted or expired upstream; a
	// new one is provisioned.
	EventServiceUserGone = "ServiceUserGone"
	// EventRoleUpdated (Normal): the service user's role was changed to the spec's.
	EventRoleUpdated = "RoleUpdated"
	// EventRoleDriftRepaired (Warning): the role was changed upstream and set back.
	EventRoleDriftRepaired = "RoleDriftRepaired"
	// EventConsumersRestarted (Normal): the rolloutRestartTargets were restarted.
	EventConsumersRestarted = "ConsumersRestarted"
	// EventRevokedWhileInUse (Warning): a replaced token was revoked at the end of its grace
	// period although its consumers had not all switched.
	EventRevokedWhileInUse = "RevokedWhileInUse"
	// EventExpiringSoon (Warning): the service user nears its own expiry.
	EventExpiringSoon = "ExpiringSoon"
	// EventKeyUnused (Warning): the current key has not been used for spec.apiKey.unusedAfter.
	EventKeyUnused = "KeyUnused"
	// EventRestoredAdopted (Normal): the resource adopted the token (and service user) of a
	// Secret restored from a backup, which a restore record of this operator names.
	EventRestoredAdopted = "RestoredAdopted"
	// EventAccountKeyRotated (Normal): an account's new key is in its Secret.
	EventAccountKeyRotated = "AccountKeyRotated"
	// EventAccountKeyRevoked (Normal): an account's previous key was revoked, unused.
	EventAccountKeyRevoked = "AccountKeyRevoked"
)
