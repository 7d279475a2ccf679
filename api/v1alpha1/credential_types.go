package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names shared by the operator and its users.
const (
	// Finalizer is set on every resource before the first upstream call and removed last,
	// after the upstream credentials were revoked (or orphaned, by policy).
	Finalizer = "iam.devin.ai/revoke"

	// RotateAnnotation asks for a new token: any change of its value rotates once. A value
	// that starts with RotateCompromised also revokes the previous token at once.
	RotateAnnotation = "iam.devin.ai/rotate"

	// RotateCompromised starts the value of RotateAnnotation for a token that may have
	// leaked: the previous one is revoked at once, whoever still uses it.
	RotateCompromised = "compromised"

	// IssueIntentAnnotation says that create number n of the resource's tokens is about to
	// be, or was, sent upstream. The operator writes it, with its finalizer, in one write
	// before every create; create n is still pending while status.issueCount is below n.
	// It carries nothing else: every upstream name is derived from the resource's UID.
	IssueIntentAnnotation = "iam.devin.ai/issue-intent"

	// RequestedByAnnotation records who created a PersonalAccessToken. The admission webhook
	// sets it at creation and refuses any change to it afterwards.
	RequestedByAnnotation = "iam.devin.ai/requested-by"

	// ManagedByLabel and ManagedByValue mark every Secret the operator writes; the operator's
	// cache holds only Secrets with this label.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "token-operator"

	// Annotations the operator writes on its Secrets: which token the Secret holds. They never
	// carry the token value.
	TokenIDAnnotation        = "iam.devin.ai/token-id"
	TokenNameAnnotation      = "iam.devin.ai/token-name"
	TokenExpiresAtAnnotation = "iam.devin.ai/expires-at"
	TokenIssuedAtAnnotation  = "iam.devin.ai/issued-at"

	// RestoreRecordAnnotation, on a Secret the operator writes, is a record the operator
	// seals (with its admission key ring) naming the resource (kind, namespace, name), the
	// owner markers of its upstream objects and the IDs of the token the Secret holds and of
	// its service user. After a restore from a backup, with --adopt-restored, a new resource
	// of the same kind, namespace and name adopts them by it.
	RestoreRecordAnnotation = "iam.devin.ai/restore-record"

	// TemplateKeysAnnotation lists, on a Secret the operator writes, the label and
	// annotation keys its secretTemplate set, so that keys dropped from the template are
	// removed and every other key (Argo CD's tracking label, Reloader's annotations) is kept.
	TemplateKeysAnnotation = "iam.devin.ai/template-keys"

	// DefaultSecretKey is the Secret data key of the token unless secretTemplate.key says otherwise.
	DefaultSecretKey = "token"
)

// DeletionPolicy says what happens upstream when a resource is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete revokes every token of the resource (and deletes a service user).
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the upstream credentials alone.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// CredentialSpec says how one credential is issued, stored and rotated.
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.expiresAfter) || duration(self.renewBefore) < duration(self.expiresAfter)",message="renewBefore must be shorter than expiresAfter"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.expiresAfter) || duration(self.expiresAfter) - duration(self.renewBefore) >= duration('30m')",message="renewBefore must leave at least 30m between renewals (expiresAfter minus renewBefore): a token renewed sooner after its issue would be replaced again and again"
// +kubebuilder:validation:XValidation:rule="!has(self.rotationGracePeriod) || !has(self.expiresAfter) || duration(self.rotationGracePeriod) < duration(self.expiresAfter)",message="rotationGracePeriod must be shorter than expiresAfter"
type CredentialSpec struct {
	// ExpiresAfter is the lifetime of each token, from 1h to 8760h (one year).
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="expiresAfter must be between 1h and 8760h"
	// +optional
	ExpiresAfter *metav1.Duration `json:"expiresAfter,omitempty"`

	// RenewBefore is how long before expiry the token is replaced. Default: a third of
	// expiresAfter.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('5m')",message="renewBefore must be at least 5m"
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// RotationGracePeriod is the longest the previous token stays valid after a rotation, so
	// that workloads can pick up the new one: after a renewal or a requested rotation it is
	// revoked as soon as its consumers have switched (see revocationQuietPeriod and
	// rolloutRestartTargets), otherwise at the end of this period. 0s revokes at once.
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('168h')",message="rotationGracePeriod must be at most 168h"
	// +optional
	RotationGracePeriod *metav1.Duration `json:"rotationGracePeriod,omitempty"`

	// SecretName is the Secret, in the resource's namespace, that receives the token.
	// Default: the resource's name. The operator never writes into a Secret it did not create.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="secretName must be a DNS-1123 subdomain"
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// SecretTemplate adds labels and annotations to the Secret (e.g. for Reloader) and names
	// the data key of the token.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`

	// RolloutRestartTargets are the workloads, in the resource's namespace, that consume the
	// Secret and are restarted (as kubectl rollout restart does) once it holds a new token:
	// environment variables change only when pods restart. A burst of rotations restarts
	// them once. The requester must be allowed to patch each of them (checked at
	// admission). Until they have rolled out, the previous token is not revoked (at most
	// rotationGracePeriod).
	// +kubebuilder:validation:MaxItems=16
	// +optional
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`

	// RevocationQuietPeriod: after a renewal or a requested rotation, a service user's
	// previous key is revoked once it has not been used (its last_used_at upstream) for this
	// long, and its restart targets have rolled out; at the latest when rotationGracePeriod
	// ends. Default 5m. Personal access tokens report no use: the grace period applies.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('10s') && duration(self) <= duration('24h')",message="revocationQuietPeriod must be between 10s and 24h"
	// +optional
	RevocationQuietPeriod *metav1.Duration `json:"revocationQuietPeriod,omitempty"`

	// UnusedAfter (ServiceUser only: personal access tokens report no use) sets the
	// condition Unused to True when the current key has not been used (its last_used_at
	// upstream, or its issue when it was never used) for this long, as the periodic check
	// finds it; nothing else changes: the key stays valid. From 1h to 8760h. Unset: no
	// condition Unused.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="unusedAfter must be between 1h and 8760h"
	// +optional
	UnusedAfter *metav1.Duration `json:"unusedAfter,omitempty"`
}

// RolloutRestartTarget names workloads to restart: one by name, or those a label selector
// matches.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.selector)",message="exactly one of name or selector must be set"
type RolloutRestartTarget struct {
	// Kind is Deployment, StatefulSet, DaemonSet, or Rollout (Argo Rollouts, when its CRD
	// is installed and the operator may patch rollouts).
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Rollout
	Kind string `json:"kind"`
	// Name of the workload.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`
	// Selector matches workloads of the kind by their labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// LabelValue is the value of a Kubernetes label.
// +kubebuilder:validation:MaxLength=63
type LabelValue string

// SecretTemplate shapes the Secret the operator writes.
// +kubebuilder:validation:XValidation:rule="!has(self.extraKeys) || ((!has(self.extraKeys.apiURL) || self.extraKeys.apiURL != (has(self.key) ? self.key : 'token')) && (!has(self.extraKeys.organizationID) || self.extraKeys.organizationID != (has(self.key) ? self.key : 'token')) && (!has(self.extraKeys.tokenID) || self.extraKeys.tokenID != (has(self.key) ? self.key : 'token')))",message="extraKeys may not name the token's own key (key, default token): the extra entry would overwrite the token"
type SecretTemplate struct {
	// Labels are added to the Secret. Keys and values must be valid Kubernetes labels: the
	// API server would refuse the Secret otherwise, after a token was minted for it.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('iam.devin.ai/') && !k.startsWith('cache.iam.devin.ai/') && k != 'app.kubernetes.io/managed-by')",message="labels may not use the iam.devin.ai/ or cache.iam.devin.ai/ prefixes or app.kubernetes.io/managed-by"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && !format.qualifiedName().validate(k).hasValue())",message="label keys must be valid Kubernetes label keys: an optional DNS subdomain prefix and '/', then at most 63 characters of alphanumerics, '-', '_' or '.'"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.labelValue().validate(self[k]).hasValue())",message="label values must be valid Kubernetes label values: at most 63 characters of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
	// +optional
	Labels map[string]LabelValue `json:"labels,omitempty"`

	// Annotations are added to the Secret; at most 32, each value at most 4096 characters.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('iam.devin.ai/') && !k.startsWith('cache.iam.devin.ai/'))",message="annotations may not use the iam.devin.ai/ or cache.iam.devin.ai/ prefixes (the operator's own, and its cache's)"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && !format.qualifiedName().validate(k).hasValue())",message="annotation keys must be valid Kubernetes annotation keys: an optional DNS subdomain prefix and '/', then at most 63 characters of alphanumerics, '-', '_' or '.'"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 4096)",message="annotation values must be at most 4096 characters"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// Key is the data key that holds the token. Default: token.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`

	// ExtraKeys adds fixed entries to the Secret beside the token, so that a workload needs
	// this one Secret only (e.g. envFrom). Each names the data key that receives the value.
	// +optional
	ExtraKeys *SecretExtraKeys `json:"extraKeys,omitempty"`
}

// SecretExtraKeys names the data keys of the extra entries of a Secret.
// +kubebuilder:validation:XValidation:rule="(!has(self.apiURL) || !has(self.tokenID) || self.apiURL != self.tokenID) && (!has(self.apiURL) || !has(self.organizationID) || self.apiURL != self.organizationID) && (!has(self.tokenID) || !has(self.organizationID) || self.tokenID != self.organizationID)",message="extraKeys must name different keys"
type SecretExtraKeys struct {
	// APIURL receives the base URL of the Devin API the token is for (e.g. DEVIN_API_URL).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	APIURL string `json:"apiURL,omitempty"`

	// OrganizationID receives a ServiceUser's organization ID (nothing for a
	// PersonalAccessToken or an enterprise service user).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	OrganizationID string `json:"organizationID,omitempty"`

	// TokenID receives the upstream ID of the token the Secret holds.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	TokenID string `json:"tokenID,omitempty"`
}

// CredentialStatus is the observed state of one credential, shared by both kinds.
type CredentialStatus struct {
	// Conditions: Ready summarises; Reconciling while work is under way; Stalled when only a
	// change of the spec or of the upstream account can help.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation the status describes; 0 until the operator has
	// seen the resource.
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Token is the token the Secret holds.
	// +optional
	Token *IssuedToken `json:"token,omitempty"`

	// PendingIssue is recorded before a token is created upstream, so that a token whose
	// value was lost (crash, lost answer) is found by its name and revoked.
	// +optional
	PendingIssue *PendingIssue `json:"pendingIssue,omitempty"`

	// LastInterruptedIssue is when the last create whose answer was lost was sent. Such a
	// create may still land upstream for a while; the operator checks again once that time
	// has passed, and waits for it before revoking on deletion.
	// +optional
	LastInterruptedIssue *metav1.Time `json:"lastInterruptedIssue,omitempty"`

	// IssueCount counts the tokens issued for this resource; it makes upstream names unique.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000000
	// +optional
	IssueCount int64 `json:"issueCount,omitempty"`

	// RecentIssues is when the creates of the last hour were sent, oldest first: the mint
	// budget (at most the operator's --mint-budget creates per resource per hour, whatever
	// the reason) counts them across restarts.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	RecentIssues []metav1.Time `json:"recentIssues,omitempty"`

	// ExpiresAt is when the current token expires.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// RenewAt is when the current token will be replaced.
	// +optional
	RenewAt *metav1.Time `json:"renewAt,omitempty"`

	// SecretName is the Secret that holds the token.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// SecretHash is a SHA-256 of the Secret's token entry, to notice changes made by others.
	// +optional
	SecretHash string `json:"secretHash,omitempty"`

	// Account is the Devin account the resource acts through: DevinAccount/NAME,
	// ClusterDevinAccount/NAME, or default (the operator's flags).
	// +optional
	Account string `json:"account,omitempty"`

	// PendingRevocations are previous tokens, kept valid for the grace period.
	// +listType=map
	// +listMapKey=id
	// +optional
	PendingRevocations []PendingRevocation `json:"pendingRevocations,omitempty"`

	// LastRotationTime is when a token last replaced another.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// LastRotationReason says why: Renewal, RotationRequested, SecretDeleted, SecretModified,
	// UpstreamRevoked, ServiceUserGone.
	// +optional
	LastRotationReason string `json:"lastRotationReason,omitempty"`

	// RotateRequest is the last value of the iam.devin.ai/rotate annotation acted upon.
	// +optional
	RotateRequest string `json:"rotateRequest,omitempty"`

	// Policy is the CredentialPolicy that allows the current spec ("" when none, or for a
	// resource that held a token before it carried an admission record).
	// +optional
	Policy string `json:"policy,omitempty"`

	// UnsealedSpecHash is the hash of the spec of a resource that held a token before it
	// carried an admission record (made before records existed): it keeps renewing while its
	// spec stays this one.
	// +optional
	UnsealedSpecHash string `json:"unsealedSpecHash,omitempty"`

	// Restart records the last restart of the rolloutRestartTargets.
	// +optional
	Restart *RestartStatus `json:"restart,omitempty"`

	// RevokedUpstream is when the operator found the token revoked upstream by someone else
	// (a person responding to a leak, say). The operator then issues no new token into the
	// same Secret on its own: it waits for iam.devin.ai/rotate to change (or
	// --on-upstream-revocation=reissue). An expired token is replaced as usual.
	// +optional
	RevokedUpstream *metav1.Time `json:"revokedUpstream,omitempty"`

	// LastVerifiedTime is when the upstream token was last seen active.
	// +optional
	LastVerifiedTime *metav1.Time `json:"lastVerifiedTime,omitempty"`

	// RestoredFrom is the sealed restore record (the operator's own, verified at every use)
	// by which this resource adopted upstream objects created for an earlier resource of the
	// same kind, namespace and name, restored from a backup (--adopt-restored). Ownership
	// upstream then means this resource's marker or one the record names.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	RestoredFrom string `json:"restoredFrom,omitempty"`
}

// IssuedToken identifies an upstream token without its value.
type IssuedToken struct {
	// ID is the upstream key ID.
	ID string `json:"id"`
	// Name is the upstream name.
	Name string `json:"name"`
	// IssuedAt is when the token was created.
	IssuedAt metav1.Time `json:"issuedAt"`
	// ExpiresAt is when the token expires upstream; unset when it does not.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
}

// PendingIssue is the intent to create a token with a given upstream name.
type PendingIssue struct {
	// Name is the deterministic upstream name of the token being created.
	Name string `json:"name"`
	// Since is when the intent was recorded.
	Since metav1.Time `json:"since"`
}

// PendingRevocation is a previous token waiting for the end of its grace period.
type PendingRevocation struct {
	// ID is the upstream key ID.
	ID string `json:"id"`
	// Name is the upstream name.
	Name string `json:"name,omitempty"`
	// RevokeAt is when the operator revokes it at the latest (the end of the grace period).
	RevokeAt metav1.Time `json:"revokeAt"`
	// Since is when it was replaced.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// WaitForConsumers is set when the revocation waits for the consumers to switch (after a
	// renewal or a requested rotation), rather than for RevokeAt only.
	// +optional
	WaitForConsumers bool `json:"waitForConsumers,omitempty"`
	// WaitingFor says, while the revocation waits for the consumers, what it waits for.
	// +optional
	WaitingFor string `json:"waitingFor,omitempty"`
}

// RestartStatus is the last restart of a resource's rolloutRestartTargets.
type RestartStatus struct {
	// TokenID is the token the workloads were restarted for.
	TokenID string `json:"tokenID"`
	// At is when they were restarted.
	At metav1.Time `json:"at"`
	// Targets lists the workloads restarted.
	// +optional
	Targets []string `json:"targets,omitempty"`
}
