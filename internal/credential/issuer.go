package credential

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// Object is a resource whose credential the lifecycle manages.
type Object interface {
	client.Object
	// Credential returns the spec of the credential (lifetime, rotation, Secret).
	Credential() *iamv1alpha1.CredentialSpec
	// CredentialStatus returns the status of the credential, which the lifecycle updates.
	CredentialStatus() *iamv1alpha1.CredentialStatus
	// Suspended reports whether rotation and repair are paused.
	Suspended() bool
	// Imported reports whether the token is imported rather than minted: the operator can
	// neither renew nor revoke it, so nothing is scheduled for it.
	Imported() bool
	// OwnerExpiresAt is when the upstream owner of the tokens expires (a service user), nil
	// when it does not: no token outlives it, so renewing one near it gains nothing.
	OwnerExpiresAt() *metav1.Time
	// AccountReference is the account the resource acts through (nil: the default).
	AccountReference() *iamv1alpha1.AccountRef
}

// Issuer is the upstream side of one resource's credential: the personal access tokens of
// one user, or the API keys of one service user. Implementations are built per reconcile.
type Issuer interface {
	// Prepare looks up what Issue needs (the user, the service user) before the intent to
	// issue is recorded. Nothing it sends can create a token, so when it fails there is no
	// intent to resolve and nothing to look for upstream.
	Prepare(ctx context.Context) error
	// Issue creates a token with the given unique name, expiring at expiresAt, and returns it
	// with its one-time value.
	Issue(ctx context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error)
	// Owned lists the active upstream tokens that belong to this resource, and when the list
	// was read (it may come from a short-lived cache shared by resources of one owner).
	Owned(ctx context.Context, fresh bool) (Listing, error)
	// Revoke revokes one token; a token that is already gone is not an error.
	Revoke(ctx context.Context, id string) error
	// Revoked tells why a token is no longer active upstream: revoked (true), by someone
	// other than the operator since it is the current one, or expired (false).
	Revoked(ctx context.Context, id string) (bool, error)
}

// Listing is a list of upstream tokens and the time it was read.
type Listing struct {
	Keys []devinapi.APIKey
	At   time.Time
}

// has reports whether the listing holds the token id.
func (l Listing) has(id string) bool {
	_, ok := currentKey(l, id)
	return ok
}

// Persister makes a reconcile's progress durable. Each write is locked on the
// resourceVersion the reconcile works from, and fails with a conflict when the resource has
// changed since: the reconcile works from a stale cache or races another writer, and must
// start again from the latest state.
type Persister interface {
	// PatchMetadata writes mutate's change of the resource's annotations and finalizers in
	// one metadata write (see recordIntent).
	PatchMetadata(ctx context.Context, mutate func(client.Object)) error
	// Confirm proves that the reconcile works from the latest state, before it revokes a
	// token that status does not name (one it may just not have heard of yet).
	Confirm(ctx context.Context) error
	// AfterWrite runs fn once the reconcile's status changes so far are written, and never
	// when that write fails or conflicts: what the lifecycle remembers in memory beside
	// status follows status, and a lost write is done again from the latest state.
	AfterWrite(fn func())
}
