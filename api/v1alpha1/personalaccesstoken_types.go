package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UserReference names a human member of the enterprise, by email or by user ID.
// +kubebuilder:validation:XValidation:rule="has(self.email) != has(self.id)",message="exactly one of email or id must be set"
type UserReference struct {
	// Email of the user (printable ASCII; letters matched case-insensitively).
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[!-?A-~]+@[!-?A-~]+$`
	// +optional
	Email string `json:"email,omitempty"`

	// ID is the upstream user ID.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +optional
	ID string `json:"id,omitempty"`
}

// ImportSource names the Secret, in the resource's own namespace, that holds a token to
// import.
type ImportSource struct {
	// SecretName is the Secret, in the resource's namespace, that holds the token.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="secretName must be a DNS-1123 subdomain"
	SecretName string `json:"secretName"`

	// Key is the data key of the token in that Secret. Default: token.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	Key string `json:"key,omitempty"`
}

// PersonalAccessTokenSpec is the desired state of a PersonalAccessToken.
// +kubebuilder:validation:XValidation:rule="!has(self.unusedAfter)",message="unusedAfter applies to ServiceUsers only: the Devin API reports no use of personal access tokens"
// +kubebuilder:validation:XValidation:rule="has(self.accountRef) == has(oldSelf.accountRef) && (!has(self.accountRef) || self.accountRef == oldSelf.accountRef)",message="accountRef is immutable: the tokens already issued belong to the account that issued them"
type PersonalAccessTokenSpec struct {
	// AccountRef names the Devin account the operator acts through for this resource.
	// Absent: the operator's default account (its flags). Immutable.
	// +optional
	AccountRef *AccountRef `json:"accountRef,omitempty"`

	// User is the person the token belongs to and acts as. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="user is immutable"
	User UserReference `json:"user"`

	// TokenName is the display name of the token upstream; the operator appends a suffix
	// that makes it unique. Default: <namespace>/<name>.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	TokenName string `json:"tokenName,omitempty"`

	// ImportFrom imports a personal access token that its owner generated in the Devin web
	// app (account settings) instead of minting one: the Devin API publishes no endpoint
	// that creates personal access tokens yet. The operator checks that the token belongs to
	// spec.user, copies it into its own Secret (with secretTemplate), checks it periodically
	// and re-imports it on iam.devin.ai/rotate. It cannot renew or revoke it: the owner does,
	// in account settings.
	// +optional
	ImportFrom *ImportSource `json:"importFrom,omitempty"`

	// CredentialSpec: lifetime, rotation and the Secret.
	CredentialSpec `json:",inline"`

	// DeletionPolicy: Delete revokes the tokens when the resource is deleted; Orphan leaves
	// them upstream.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Suspend stops rotation and repair; deletion still revokes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// PersonalAccessTokenStatus is the observed state of a PersonalAccessToken.
type PersonalAccessTokenStatus struct {
	CredentialStatus `json:",inline"`

	// UserID is the upstream ID of the user.
	// +optional
	UserID string `json:"userID,omitempty"`

	// UserEmail is the email of the user.
	// +optional
	UserEmail string `json:"userEmail,omitempty"`
}

// PersonalAccessToken is a Devin API personal access token of one person, kept in a Secret
// of the same namespace and rotated before it expires.
// +kubebuilder:validation:XValidation:rule="!has(self.spec.importFrom) || self.spec.importFrom.secretName != (has(self.spec.secretName) ? self.spec.secretName : self.metadata.name)",message="spec.importFrom.secretName must name another Secret than the one the operator writes"
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pat,categories=devin
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.status.userEmail`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PersonalAccessToken struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PersonalAccessTokenSpec `json:"spec"`
	// Defaulted, so that a resource the operator has not seen yet reads as
	// observedGeneration 0: kstatus (Flux's wait) sees it in progress, not current.
	// +kubebuilder:default={}
	Status PersonalAccessTokenStatus `json:"status,omitempty"`
}

// PersonalAccessTokenList is a list of PersonalAccessTokens.
// +kubebuilder:object:root=true
type PersonalAccessTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PersonalAccessToken `json:"items"`
}
