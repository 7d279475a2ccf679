package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceUserScope is where a service user lives.
// +kubebuilder:validation:Enum=Organization;Enterprise
type ServiceUserScope string

const (
	// ScopeOrganization: a service user of one organization, with an organization role.
	ScopeOrganization ServiceUserScope = "Organization"
	// ScopeEnterprise: an enterprise service user, with an account-level role.
	ScopeEnterprise ServiceUserScope = "Enterprise"
)

// ServiceUserSpec is the desired state of a ServiceUser.
// +kubebuilder:validation:XValidation:rule="has(self.organizationID) == has(oldSelf.organizationID) && (!has(self.organizationID) || self.organizationID == oldSelf.organizationID)",message="organizationID is immutable"
// +kubebuilder:validation:XValidation:rule="self.scope != 'Enterprise' || !has(self.organizationID)",message="organizationID must not be set for scope Enterprise"
// +kubebuilder:validation:XValidation:rule="!has(self.ttl) || !has(self.apiKey) || !has(self.apiKey.renewBefore) || duration(self.apiKey.renewBefore) < duration(self.ttl)",message="apiKey.renewBefore must be shorter than ttl: a key lives at most as long as its service user, so it would be renewed at once, again and again"
// +kubebuilder:validation:XValidation:rule="has(self.accountRef) == has(oldSelf.accountRef) && (!has(self.accountRef) || self.accountRef == oldSelf.accountRef)",message="accountRef is immutable: the service user already provisioned belongs to the account that provisioned it"
type ServiceUserSpec struct {
	// AccountRef names the Devin account the operator acts through for this resource.
	// Absent: the operator's default account (its flags). Immutable.
	// +optional
	AccountRef *AccountRef `json:"accountRef,omitempty"`

	// Name of the service user upstream. Default: <namespace>-<name>. The operator appends
	// " [k8s:<cluster-id>:<resource-uid>]", which proves which resource the service user
	// belongs to, and shortens the name to fit the Devin API's 256 characters. Immutable.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="name is immutable"
	// +kubebuilder:validation:XValidation:rule="!self.contains('[k8s:')",message="name may not contain '[k8s:', which marks the operator's ownership"
	// +optional
	Name string `json:"name,omitempty"`

	// Scope is Organization (an org role in one organization) or Enterprise (an account
	// role). Immutable.
	// +kubebuilder:default=Organization
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="scope is immutable"
	// +optional
	Scope ServiceUserScope `json:"scope,omitempty"`

	// OrganizationID for scope Organization; default: the operator's --default-organization.
	// Immutable.
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^org-[A-Za-z0-9_-]+$`
	// +optional
	OrganizationID string `json:"organizationID,omitempty"`

	// Role is the name or ID of the role the service user holds (e.g. Member). A role
	// changed upstream is set back to this one.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Role string `json:"role"`

	// TTL is the lifetime of the service user itself, from 1h to 8760h (the backend's limit).
	// The operator warns (condition ExpiringSoon) ahead of it and provisions a new service
	// user when it has expired.
	// +kubebuilder:default="8760h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="ttl must be between 1h and 8760h"
	// +optional
	TTL *metav1.Duration `json:"ttl,omitempty"`

	// APIKey: lifetime, rotation and the Secret of the service user's API key.
	// +optional
	APIKey CredentialSpec `json:"apiKey,omitempty"`

	// DeletionPolicy: Delete revokes the keys and deletes the service user when the resource
	// is deleted; Orphan leaves both upstream.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Suspend stops rotation and repair; deletion still revokes.
	// +optional
	Suspend bool `json:"suspend,omitempty"`
}

// ServiceUserStatus is the observed state of a ServiceUser.
type ServiceUserStatus struct {
	CredentialStatus `json:",inline"`

	// ServiceUserID is the upstream ID.
	// +optional
	ServiceUserID string `json:"serviceUserID,omitempty"`

	// ServiceUserName is the upstream name.
	// +optional
	ServiceUserName string `json:"serviceUserName,omitempty"`

	// PendingProvision is recorded before the service user is provisioned upstream, so that
	// one whose answer was lost is found by its name.
	// +optional
	PendingProvision *PendingIssue `json:"pendingProvision,omitempty"`

	// RoleID is the upstream ID of the role.
	// +optional
	RoleID string `json:"roleID,omitempty"`

	// ServiceUserExpiresAt is when the service user itself expires.
	// +optional
	ServiceUserExpiresAt *metav1.Time `json:"serviceUserExpiresAt,omitempty"`
}

// ServiceUser is a Devin API service user (a non-human principal with a role) and its API
// key, kept in a Secret of the same namespace and rotated before it expires.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=su,categories=devin
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Role",type=string,JSONPath=`.spec.role`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ServiceUserSpec `json:"spec"`
	// Defaulted, so that a resource the operator has not seen yet reads as
	// observedGeneration 0: kstatus (Flux's wait) sees it in progress, not current.
	// +kubebuilder:default={}
	Status ServiceUserStatus `json:"status,omitempty"`
}

// ServiceUserList is a list of ServiceUsers.
// +kubebuilder:object:root=true
type ServiceUserList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceUser `json:"items"`
}
