package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The KeyRotation condition of an account with credentialRotation, and its reasons.
const (
	ConditionKeyRotation = "KeyRotation"
	// ReasonKeyCurrent (True): the key is current; the message says when it is replaced.
	ReasonKeyCurrent = "KeyCurrent"
	// ReasonKeyReplacing (True): a new key is in the Secret; the previous one is revoked once
	// unused for quietPeriod.
	ReasonKeyReplacing = "KeyReplacing"
	// ReasonRotationForbidden (False): the account's credential may not list, create or
	// revoke its own service user's keys (enterprise ManageAccountServiceUsers); nothing
	// changes.
	ReasonRotationForbidden = "RotationForbidden"
)

// CredentialRotation says how the operator replaces an account's own API key.
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.expiresAfter) || duration(self.renewBefore) < duration(self.expiresAfter)",message="renewBefore must be shorter than expiresAfter"
type CredentialRotation struct {
	// ExpiresAfter is the lifetime of each new key, 24h to 8760h.
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('24h') && duration(self) <= duration('8760h')",message="expiresAfter must be between 24h and 8760h"
	// +optional
	ExpiresAfter *metav1.Duration `json:"expiresAfter,omitempty"`

	// RenewBefore is how long before the key expires it is replaced; a key without an
	// expiry is replaced expiresAfter minus renewBefore after it was created. Default: a
	// third of expiresAfter; at least 1h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="renewBefore must be at least 1h"
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// QuietPeriod is how long the previous key must go unused after the new one is in the
	// Secret before it is revoked: every replica of every process that reads the Secret has
	// switched by then. 1m to 24h.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m') && duration(self) <= duration('24h')",message="quietPeriod must be between 1m and 24h"
	// +optional
	QuietPeriod *metav1.Duration `json:"quietPeriod,omitempty"`
}

// AccountKey is an API key of the account's own service user.
type AccountKey struct {
	// ID is the key's ID upstream.
	ID string `json:"id"`
	// ExpiresAt is when the key expires; empty when it does not.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// CreatedAt is when the key was created.
	// +optional
	CreatedAt *metav1.Time `json:"createdAt,omitempty"`
}

// AccountKeyRotation is a rotation of the account's key under way, recorded before each step
// so that a crash at any point leaves a working key and no leaked one.
type AccountKeyRotation struct {
	// PendingName is the name of the key about to be created: a key of that name found
	// upstream that the Secret does not hold was never handed out, and is revoked.
	// +optional
	PendingName string `json:"pendingName,omitempty"`
	// PreviousKeyID is the key the new one replaced, revoked once unused for quietPeriod.
	// +optional
	PreviousKeyID string `json:"previousKeyID,omitempty"`
	// SecretWrittenAt is when the new key was written into the Secret.
	// +optional
	SecretWrittenAt *metav1.Time `json:"secretWrittenAt,omitempty"`
}

// Effective values of a CredentialRotation.
const (
	defaultAccountKeyLifetime = 2160 * time.Hour
	defaultAccountQuietPeriod = 10 * time.Minute
)

// Lifetime is expiresAfter or its default.
func (r *CredentialRotation) Lifetime() metav1.Duration {
	if r.ExpiresAfter != nil {
		return *r.ExpiresAfter
	}
	return metav1.Duration{Duration: defaultAccountKeyLifetime}
}

// RenewWindow is renewBefore or a third of the lifetime.
func (r *CredentialRotation) RenewWindow() metav1.Duration {
	if r.RenewBefore != nil {
		return *r.RenewBefore
	}
	return metav1.Duration{Duration: r.Lifetime().Duration / 3}
}

// Quiet is quietPeriod or its default.
func (r *CredentialRotation) Quiet() metav1.Duration {
	if r.QuietPeriod != nil {
		return *r.QuietPeriod
	}
	return metav1.Duration{Duration: defaultAccountQuietPeriod}
}

// AccountKeyIDAnnotation is written on an account's Secret with each key the operator puts
// there: which key the Secret holds.
const AccountKeyIDAnnotation = "iam.devin.ai/account-key-id"
