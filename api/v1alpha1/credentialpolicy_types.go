package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Names of the tenancy policy shared by the admission webhooks, the controllers and users.
const (
	// AdmissionAnnotation holds the sealed admission record of a ServiceUser or
	// PersonalAccessToken: who asked for its current spec and which CredentialPolicy
	// admitted it, with an HMAC only the operator can compute (see internal/policy). The
	// admission webhook writes it on create and on every change of the spec.
	AdmissionAnnotation = "iam.devin.ai/admission"

	// PolicyVerbUse is the RBAC verb on credentialpolicies/<name>, in the namespace of a
	// resource, that lets a requester rely on that policy.
	PolicyVerbUse = "use"
	// PolicyVerbDelegate is the RBAC verb on credentialpolicies/<name> that lets a requester
	// ask for personal access tokens of others (within the policy's delegation).
	PolicyVerbDelegate = "delegate"
)

// Reasons of the tenancy policy: of the CredentialPolicy's own Ready condition, and of the
// Stalled/Ready conditions of the resources it governs.
const (
	// ReasonPolicyAccepted: the CredentialPolicy is valid and in force.
	ReasonPolicyAccepted = "Accepted"
	// ReasonPolicyInvalid: the CredentialPolicy cannot be applied (a selector the API server
	// accepted but that does not parse, say); it admits nothing.
	ReasonPolicyInvalid = "Invalid"
)

// UpstreamRevocationAction says what the operator does when it finds a token revoked
// upstream by someone else.
// +kubebuilder:validation:Enum=Stop;Reissue
type UpstreamRevocationAction string

const (
	// UpstreamRevocationStop issues nothing new until a person changes iam.devin.ai/rotate.
	UpstreamRevocationStop UpstreamRevocationAction = "Stop"
	// UpstreamRevocationReissue issues a new token at once.
	UpstreamRevocationReissue UpstreamRevocationAction = "Reissue"
)

// CredentialPolicySpec says where, for whom and within which bounds Devin credentials may be
// issued. A request (the spec of a ServiceUser or PersonalAccessToken, and its requester) is
// allowed when at least one policy that selects its namespace, and that its requester may
// `use` through RBAC, allows all of it.
// +kubebuilder:validation:XValidation:rule="has(self.serviceUsers) || has(self.personalAccessTokens)",message="a policy must allow serviceUsers, personalAccessTokens or both: one that allows neither admits nothing"
type CredentialPolicySpec struct {
	// NamespaceSelector selects the namespaces the policy applies to, by their labels. `{}`
	// selects every namespace. Select by labels that tenants cannot set (namespace labels
	// are usually written by cluster admins), or by kubernetes.io/metadata.name.
	NamespaceSelector NamespaceSelector `json:"namespaceSelector"`

	// Namespaces, when set, narrows the policy to these namespaces: a namespace is selected
	// when it matches namespaceSelector and, if namespaces is set, is listed here.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="namespaces must be DNS-1123 labels"
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// ServiceUsers says which ServiceUsers the policy allows. Absent: none.
	// +optional
	ServiceUsers *ServiceUserPolicy `json:"serviceUsers,omitempty"`

	// PersonalAccessTokens says which PersonalAccessTokens the policy allows. Absent: none.
	// +optional
	PersonalAccessTokens *PersonalAccessTokenPolicy `json:"personalAccessTokens,omitempty"`

	// Accounts says which Devin accounts the resources the policy allows may act through.
	// Absent: the operator's default account and the DevinAccounts of the resource's own
	// namespace, no ClusterDevinAccount.
	// +optional
	Accounts *AccountPolicy `json:"accounts,omitempty"`

	// Tokens bounds the lifetime and handling of every token the policy allows, of both kinds.
	// +kubebuilder:default={}
	// +optional
	Tokens TokenPolicy `json:"tokens,omitempty"`
}

// NamespaceSelector is a label selector, written as a metav1.LabelSelector is, with bounded
// sizes so that the API server can check every key, operator and value of it. The
// requirements are ANDed; an empty selector selects everything.
type NamespaceSelector struct {
	// MatchLabels: each key must have this value.
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && !format.qualifiedName().validate(k).hasValue())",message="matchLabels keys must be valid label keys: an optional DNS subdomain prefix and '/', then at most 63 characters of alphanumerics, '-', '_' or '.'"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.labelValue().validate(self[k]).hasValue())",message="matchLabels values must be valid label values: at most 63 characters of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
	// +optional
	MatchLabels map[string]LabelValue `json:"matchLabels,omitempty"`

	// MatchExpressions are requirements on labels.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	MatchExpressions []NamespaceSelectorRequirement `json:"matchExpressions,omitempty"`
}

// NamespaceSelectorRequirement is one requirement of a NamespaceSelector, as in a
// metav1.LabelSelector.
// +kubebuilder:validation:XValidation:rule="(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",message="values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist"
type NamespaceSelectorRequirement struct {
	// Key is the label key.
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:XValidation:rule="!format.qualifiedName().validate(self).hasValue()",message="key must be a valid label key: an optional DNS subdomain prefix and '/', then at most 63 characters of alphanumerics, '-', '_' or '.'"
	Key string `json:"key"`

	// Operator is In, NotIn, Exists or DoesNotExist.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`

	// Values for In and NotIn.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="values must be valid label values: at most 63 characters of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric"
	// +listType=atomic
	// +optional
	Values []string `json:"values,omitempty"`
}

// LabelSelector is the selector as a metav1.LabelSelector, for labels.Selector and
// metav1.LabelSelectorAsSelector.
func (s *NamespaceSelector) LabelSelector() *metav1.LabelSelector {
	out := &metav1.LabelSelector{}
	if s.MatchLabels != nil {
		out.MatchLabels = make(map[string]string, len(s.MatchLabels))
		for k, v := range s.MatchLabels {
			out.MatchLabels[k] = string(v)
		}
	}
	for _, e := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: e.Key, Operator: e.Operator, Values: append([]string(nil), e.Values...),
		})
	}
	return out
}

// ServiceUserPolicy bounds the ServiceUsers a policy allows.
type ServiceUserPolicy struct {
	// Scopes the service users may have. Default: [Organization].
	// +kubebuilder:default={Organization}
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	Scopes []ServiceUserScope `json:"scopes,omitempty"`

	// Organizations (IDs) in which scope Organization service users may live. Empty: only
	// the operator's --default-organization. ["*"]: any organization.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^(\*|org-[A-Za-z0-9_-]+)$`
	// +kubebuilder:validation:XValidation:rule="!self.exists(o, o == '*') || size(self) == 1",message="'*' (any organization) must be the only entry"
	// +listType=set
	// +optional
	Organizations []string `json:"organizations,omitempty"`

	// Roles the service users may hold: role names (matched ignoring the case of ASCII
	// letters) or role IDs (matched exactly), compared with the role the request resolves
	// to. ["*"]: any role, including account admin roles. A name applies to every allowed
	// scope: write a policy per scope to allow different roles in each.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:Pattern=`^\S(.*\S)?$`
	// +kubebuilder:validation:XValidation:rule="!self.exists(r, r == '*') || size(self) == 1",message="'*' (any role) must be the only entry"
	// +listType=set
	Roles []string `json:"roles"`

	// MaxTTL bounds spec.ttl of the service users, from 1h to 8760h. Absent: 8760h, the
	// Devin API's limit.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="maxTTL must be between 1h and 8760h"
	// +optional
	MaxTTL *metav1.Duration `json:"maxTTL,omitempty"`
}

// PersonalAccessTokenPolicy bounds the PersonalAccessTokens a policy allows. A personal
// access token acts as its owner: whoever can read its Secret acts as that person.
// +kubebuilder:validation:XValidation:rule="(!has(self.allowOwner) || self.allowOwner) || has(self.delegation)",message="with allowOwner false a policy needs a delegation, or it allows no personal access token"
type PersonalAccessTokenPolicy struct {
	// AllowOwner lets a person ask for a token of their own (the requester's Devin email,
	// mapped from their Kubernetes identity, is the owner's). Default: true.
	// +kubebuilder:default=true
	// +optional
	AllowOwner *bool `json:"allowOwner,omitempty"`

	// Delegation lets requesters with the RBAC verb `delegate` on this policy (a GitOps
	// identity, say) ask for tokens of the people it lists. Absent: nobody may ask for
	// another person's token.
	// +optional
	Delegation *DelegationPolicy `json:"delegation,omitempty"`
}

// DelegationPolicy lists the people whose tokens a delegate may ask for. Who is a delegate is
// decided by RBAC (verbs `use` and `delegate` on the policy), not by this list.
// +kubebuilder:validation:XValidation:rule="has(self.users) || has(self.domains)",message="delegation must list users, domains or both"
type DelegationPolicy struct {
	// Users are email addresses (printable ASCII; letters matched case-insensitively).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=254
	// +kubebuilder:validation:items:Pattern=`^[!-?A-~]+@[!-?A-~]+$`
	// +listType=set
	// +optional
	Users []string `json:"users,omitempty"`

	// Domains match the domain of the owner's email: "example.com" matches
	// someone@example.com only; "*.example.com" matches every subdomain
	// (someone@eu.example.com), not example.com itself. Lower-case. ["*"]: anyone.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^(\*|(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+)$`
	// +kubebuilder:validation:XValidation:rule="!self.exists(d, d == '*') || size(self) == 1",message="'*' (anyone) must be the only entry"
	// +listType=set
	// +optional
	Domains []string `json:"domains,omitempty"`
}

// AccountPolicy says which Devin accounts a policy's resources may act through.
type AccountPolicy struct {
	// Default allows the operator's default account (a resource without accountRef).
	// Default: true.
	// +kubebuilder:default=true
	// +optional
	Default *bool `json:"default,omitempty"`

	// Namespaced allows the DevinAccounts of the resource's own namespace: the tenant's own
	// credential (the policy still bounds what is asked of it). Default: true.
	// +kubebuilder:default=true
	// +optional
	Namespaced *bool `json:"namespaced,omitempty"`

	// ClusterAccounts names the ClusterDevinAccounts allowed.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	ClusterAccounts []string `json:"clusterAccounts,omitempty"`

	// ClusterAccountSelector allows the ClusterDevinAccounts whose labels it selects (besides
	// those clusterAccounts names). Absent: none by label.
	// +optional
	ClusterAccountSelector *metav1.LabelSelector `json:"clusterAccountSelector,omitempty"`
}

// AllowsDefault reports whether the default account is allowed (absent: yes).
func (a *AccountPolicy) AllowsDefault() bool { return a == nil || a.Default == nil || *a.Default }

// AllowsNamespaced reports whether the namespace's own DevinAccounts are allowed (absent: yes).
func (a *AccountPolicy) AllowsNamespaced() bool {
	return a == nil || a.Namespaced == nil || *a.Namespaced
}

// TokenPolicy bounds the tokens of both kinds.
type TokenPolicy struct {
	// MaxExpiresAfter bounds expiresAfter (apiKey.expiresAfter of a ServiceUser), from 1h to
	// 8760h. Absent: no bound beyond the resources' own (8760h).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h') && duration(self) <= duration('8760h')",message="maxExpiresAfter must be between 1h and 8760h"
	// +optional
	MaxExpiresAfter *metav1.Duration `json:"maxExpiresAfter,omitempty"`

	// MaxRotationGracePeriod bounds rotationGracePeriod, from 0s to 168h. Absent: no bound
	// beyond the resources' own (168h).
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('168h')",message="maxRotationGracePeriod must be at most 168h"
	// +optional
	MaxRotationGracePeriod *metav1.Duration `json:"maxRotationGracePeriod,omitempty"`

	// MinRenewalInterval is the shortest time between a token's issue and its renewal
	// (expiresAfter minus renewBefore) a resource may ask for, from 30m (the resources' own
	// bound) to 8760h: fewer renewals, fewer tokens. Absent: 30m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('30m') && duration(self) <= duration('8760h')",message="minRenewalInterval must be between 30m and 8760h"
	// +optional
	MinRenewalInterval *metav1.Duration `json:"minRenewalInterval,omitempty"`

	// AllowOrphan allows deletionPolicy Orphan, which leaves credentials valid upstream when
	// their resource is deleted. Default: false.
	// +optional
	AllowOrphan bool `json:"allowOrphan,omitempty"`

	// OnUpstreamRevocation is what the operator does when it finds a token revoked upstream
	// by someone else (a person responding to a leak): Stop (issue nothing until a person
	// changes iam.devin.ai/rotate) or Reissue (a new token at once). Default: Stop.
	// +kubebuilder:default=Stop
	// +optional
	OnUpstreamRevocation UpstreamRevocationAction `json:"onUpstreamRevocation,omitempty"`
}

// CredentialPolicyStatus is the observed state of a CredentialPolicy.
type CredentialPolicyStatus struct {
	// Conditions: Ready is True when the policy is valid and in force.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Namespaces summarises which namespaces the policy selects (its selector and list).
	// +optional
	Namespaces string `json:"namespaces,omitempty"`

	// Resources is how many ServiceUsers and PersonalAccessTokens were admitted by this
	// policy and rely on it.
	// +optional
	Resources int32 `json:"resources,omitempty"`
}

// CredentialPolicy is a cluster administrator's rule for which Devin credentials may be
// issued in which namespaces, and to whom. Requesters rely on it through the RBAC verb `use`
// (and `delegate`, to ask for other people's tokens) on credentialpolicies/<name>, granted
// in the namespace of the resource. Without a policy that allows it, nothing is issued.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cpol,categories=devin
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Namespaces",type=string,JSONPath=`.status.namespaces`
// +kubebuilder:printcolumn:name="Resources",type=integer,JSONPath=`.status.resources`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type CredentialPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CredentialPolicySpec   `json:"spec"`
	Status CredentialPolicyStatus `json:"status,omitempty"`
}

// CredentialPolicyList is a list of CredentialPolicies.
// +kubebuilder:object:root=true
type CredentialPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CredentialPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, &CredentialPolicy{}, &CredentialPolicyList{})
		return nil
	})
}
