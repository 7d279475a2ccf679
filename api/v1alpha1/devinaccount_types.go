package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Account condition types and reasons, beside Ready and Stalled.
const (
	// ReasonCredentialValid: the account's credential is a live service user's API key
	// (Ready=True).
	ReasonCredentialValid = "CredentialValid"
	// ReasonSecretMissing: the Secret the account names, or its key, does not exist.
	ReasonSecretMissing = "SecretMissing"
	// ReasonSecretNamespaceNotAllowed: a ClusterDevinAccount names a Secret outside the
	// operator's namespace and the namespaces --cluster-account-secret-namespaces allows.
	ReasonSecretNamespaceNotAllowed = "SecretNamespaceNotAllowed"
	// ReasonAPIURLNotAllowed: a DevinAccount names an API URL the operator's
	// --account-api-urls does not list (the operator calls no URL a tenant chooses).
	ReasonAPIURLNotAllowed = "APIURLNotAllowed"
	// ReasonTooManyAccounts: the operator already keeps as many account connections (a
	// client and a watch each) as its bound allows; an account that goes frees one.
	ReasonTooManyAccounts = "TooManyAccounts"
	// ReasonCredentialRefused: the Devin API refuses the account's credential (401).
	ReasonCredentialRefused = "CredentialRefused"
	// ReasonNotAServiceUser: the credential is not a service user's API key (a personal
	// token acts as a person).
	ReasonNotAServiceUser = "NotAServiceUser"
	// ReasonCredentialExpiring / ReasonCredentialValid: the account's service user nears (or
	// is far from) its own expiry (ExpiringSoon).
	ReasonCredentialExpiring = "CredentialExpiring"
)

// AccountSecretRef names the data key of a Secret that holds a Devin API key.
type AccountSecretRef struct {
	// Namespace of the Secret: for a ClusterDevinAccount only (default: the operator's
	// namespace; others only where the operator's --cluster-account-secret-namespaces allows).
	// A DevinAccount reads its Secret from its own namespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="namespace must be a DNS-1123 label"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="name must be a DNS-1123 subdomain"
	Name string `json:"name"`

	// Key is the data key of the credential. Default: token.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// AccountRateLimit bounds the requests the operator sends with one account's credential.
type AccountRateLimit struct {
	// RequestsPerSecond, 1 to 1000.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	RequestsPerSecond int32 `json:"requestsPerSecond"`
	// Burst above requestsPerSecond, 1 to 1000. Default: requestsPerSecond.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Burst int32 `json:"burst,omitempty"`
}

// DevinAccountSpec is a Devin API account: where the API is and which service user's key the
// operator acts with.
type DevinAccountSpec struct {
	// APIURL is the base URL of the Devin API (a dedicated deployment has its own). https,
	// or http to a loopback address only. Default: https://api.devin.ai.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.matches('^http://(127\\\\.0\\\\.0\\\\.1|localhost|\\\\[::1\\\\])(:[0-9]+)?(/.*)?$')",message="apiURL must be https (http only to a loopback address)"
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getHostname() != ''",message="apiURL must be a URL"
	// +optional
	APIURL string `json:"apiURL,omitempty"`

	// CredentialSecretRef names the Secret that holds the API key of the service user the
	// operator acts as for this account. Changes of the Secret are picked up without a
	// restart.
	CredentialSecretRef AccountSecretRef `json:"credentialSecretRef"`

	// DefaultOrganization (org-...) of ServiceUsers of this account whose spec names none.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^org-[A-Za-z0-9_-]+$`
	// +optional
	DefaultOrganization string `json:"defaultOrganization,omitempty"`

	// RateLimit bounds the requests sent with this account's credential. Default: unlimited
	// per account (the operator's --devin-api-qps still bounds the process).
	// +optional
	RateLimit *AccountRateLimit `json:"rateLimit,omitempty"`

	// EnterpriseAdminKeySecretRef names an optional Secret holding an enterprise admin's
	// personal API key (apk_user_...), used only to read users' SAML identities from the v2
	// member record (SSO detection for PersonalAccessTokens through the account), as the
	// operator's --enterprise-admin-key-secret-name does for its default account. The same
	// namespace rules as credentialSecretRef apply. Absent: the v2 API is never called.
	// +optional
	EnterpriseAdminKeySecretRef *AccountSecretRef `json:"enterpriseAdminKeySecretRef,omitempty"`

	// SSOMode says how the account's enterprise links users to SSO, for PersonalAccessTokens
	// through it: detect (a user is SSO-linked when the Devin API says so) or enforced (the
	// enterprise enforces SSO for every member: no personal access token at all).
	// +kubebuilder:validation:Enum=detect;enforced
	// +kubebuilder:default=detect
	// +optional
	SSOMode string `json:"ssoMode,omitempty"`

	// CredentialRotation, when set, lets the operator replace the account's API key before it
	// expires, writing the new key into the account's Secret: setting it states that the
	// Secret is the operator's to write (it never writes one it was merely pointed at).
	// +optional
	CredentialRotation *CredentialRotation `json:"credentialRotation,omitempty"`
}

// DevinAccountStatus is what the Devin API says of the account's credential.
type DevinAccountStatus struct {
	// Conditions: Ready when the credential is a live service user's key; Stalled when only a
	// change of the spec, the Secret or the upstream account helps; Reconciling (reason
	// BackendError) while the Devin API cannot be asked; ExpiringSoon when the service user
	// nears its own expiry.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation the conditions describe; 0 until the operator
	// has seen the account.
	// +kubebuilder:default=0
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Principal is the kind of principal GET /v3/self reports for the credential.
	// +optional
	Principal string `json:"principal,omitempty"`

	// ServiceUserID is the service user the credential belongs to.
	// +optional
	ServiceUserID string `json:"serviceUserID,omitempty"`

	// OrganizationID is the organization of an organization service user; empty for an
	// enterprise one.
	// +optional
	OrganizationID string `json:"organizationID,omitempty"`

	// CredentialExpiresAt is when the service user expires (at most a year after it was
	// provisioned); empty when it never does or is not known.
	// +optional
	CredentialExpiresAt *metav1.Time `json:"credentialExpiresAt,omitempty"`

	// HeldSecret is the Secret (namespace/name) on which the operator holds a finalizer for
	// this account, so that the credential outlives the resources that act through it.
	// +optional
	HeldSecret string `json:"heldSecret,omitempty"`

	// CredentialKey is the account's current API key, as the operator identified it (for
	// credentialRotation).
	// +optional
	CredentialKey *AccountKey `json:"credentialKey,omitempty"`

	// Rotation is a rotation of the account's key under way.
	// +optional
	Rotation *AccountKeyRotation `json:"rotation,omitempty"`

	// Users counts the PersonalAccessTokens and ServiceUsers that name the account, while it
	// is being deleted: it goes when the last of them has revoked its credentials.
	// +optional
	Users int32 `json:"users,omitempty"`
}

// DevinAccount is a Devin API account usable by the resources of its own namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=dacct,categories=devin
// +kubebuilder:validation:XValidation:rule="!has(self.spec.credentialSecretRef.__namespace__)",message="a DevinAccount reads its Secret from its own namespace: credentialSecretRef.namespace is for ClusterDevinAccounts"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.enterpriseAdminKeySecretRef) || !has(self.spec.enterpriseAdminKeySecretRef.__namespace__)",message="a DevinAccount reads its Secrets from its own namespace: enterpriseAdminKeySecretRef.namespace is for ClusterDevinAccounts"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Service User",type=string,JSONPath=`.status.serviceUserID`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.credentialExpiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DevinAccount struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec DevinAccountSpec `json:"spec"`
	// Defaulted, so that an account the operator has not seen yet reads as
	// observedGeneration 0: kstatus (Flux's wait) sees it in progress, not current.
	// +kubebuilder:default={}
	Status DevinAccountStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// DevinAccountList is a list of DevinAccounts.
type DevinAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DevinAccount `json:"items"`
}

// ClusterDevinAccount is a Devin API account that CredentialPolicies may let any namespace
// use.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cdacct,categories=devin
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Service User",type=string,JSONPath=`.status.serviceUserID`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.credentialExpiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterDevinAccount struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec DevinAccountSpec `json:"spec"`
	// Defaulted, so that an account the operator has not seen yet reads as
	// observedGeneration 0: kstatus (Flux's wait) sees it in progress, not current.
	// +kubebuilder:default={}
	Status DevinAccountStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterDevinAccountList is a list of ClusterDevinAccounts.
type ClusterDevinAccountList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterDevinAccount `json:"items"`
}

// AccountSpec returns the account's spec.
func (a *DevinAccount) AccountSpec() *DevinAccountSpec { return &a.Spec }

// AccountStatus returns the account's status.
func (a *DevinAccount) AccountStatus() *DevinAccountStatus { return &a.Status }

// AccountSpec returns the account's spec.
func (a *ClusterDevinAccount) AccountSpec() *DevinAccountSpec { return &a.Spec }

// AccountStatus returns the account's status.
func (a *ClusterDevinAccount) AccountStatus() *DevinAccountStatus { return &a.Status }
