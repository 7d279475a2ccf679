package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
)

// patIssuer is the upstream side of one PersonalAccessToken: the PATs of its user whose
// names carry the resource's UID.
type patIssuer struct {
	api PATAPI
	// users looks users up through the cache shared with the webhook.
	users *directory.Directory
	// listings shares the periodic token listing between the PATs of one user.
	listings *credential.ListingCache
	clock    clock.PassiveClock
	// marker proves which upstream tokens are this resource's (its marker, or a restored one).
	marker func() credential.Owner
	pat    *iamv1alpha1.PersonalAccessToken
	// owner is the user Prepare found, not linked to SSO.
	owner *devinapi.User
}

var _ credential.Issuer = &patIssuer{}

// user resolves the resource's user (cached briefly) and records it in status.
func (i *patIssuer) user(ctx context.Context) (*devinapi.User, error) {
	ref := i.pat.Spec.User
	var u *devinapi.User
	var err error
	if ref.Email != "" {
		u, err = i.users.UserByEmail(ctx, ref.Email)
	} else {
		u, err = i.users.UserByID(ctx, ref.ID)
	}
	if isNotFound(err) {
		return nil, credential.Stall(iamv1alpha1.ReasonUserNotFound, fmt.Sprintf("no user %s exists in the Devin enterprise", describeUser(ref)), err)
	}
	if err != nil {
		return nil, fmt.Errorf("look up user %s: %w", describeUser(ref), err)
	}
	i.pat.Status.UserID = u.ID
	i.pat.Status.UserEmail = u.Email
	return u, nil
}

func (i *patIssuer) userID(ctx context.Context) (string, error) {
	if i.pat.Status.UserID != "" {
		return i.pat.Status.UserID, nil
	}
	u, err := i.user(ctx)
	if err != nil {
		return "", err
	}
	return u.ID, nil
}

// Prepare looks the user up and checks again that it is not linked to SSO (the webhook may
// not be installed).
func (i *patIssuer) Prepare(ctx context.Context) error {
	u, err := i.user(ctx)
	if err != nil {
		return err
	}
	if linked, why := i.users.SSOLinked(u); linked {
		return fmt.Errorf("user %s: %s: %w", u.Email, why, devinapi.ErrSSOAccount)
	}
	i.owner = u
	return nil
}

// Issue creates the PAT for the user Prepare found.
func (i *patIssuer) Issue(ctx context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error) {
	if i.owner == nil {
		if err := i.Prepare(ctx); err != nil {
			return nil, err
		}
	}
	defer i.listings.Invalidate(i.owner.ID)
	return i.api.CreatePAT(ctx, i.owner.ID, devinapi.CreateKeyRequest{Name: name, ExpiresAt: &expiresAt})
}

// Owned lists the user's active PATs that carry this resource's UID.
func (i *patIssuer) Owned(ctx context.Context, fresh bool) (credential.Listing, error) {
	uid, err := i.userID(ctx)
	if isProblem(err, iamv1alpha1.ReasonUserNotFound) {
		return credential.Listing{At: i.clock.Now()}, nil // no user, no tokens
	}
	if err != nil {
		return credential.Listing{}, err
	}
	all, err := i.listings.Get(ctx, uid, fresh, func(ctx context.Context) ([]devinapi.APIKey, error) {
		keys, err := i.api.ListPATs(ctx, uid, devinapi.KeyStatusActive)
		if isNotFound(err) || errors.Is(err, devinapi.ErrPATAPIUnavailable) {
			// The user is gone, and so are their tokens; or the API has no PAT endpoint,
			// so none was ever created through it.
			return nil, nil
		}
		return keys, err
	})
	if err != nil {
		return credential.Listing{}, err
	}
	own, marker := credential.Listing{At: all.At}, i.marker()
	for _, k := range all.Keys {
		if marker.OwnsToken(k.Name) {
			own.Keys = append(own.Keys, k)
		}
	}
	return own, nil
}

// Revoke revokes one PAT, once the user's listing proves it is this resource's (its name
// carries the resource's marker): the ID comes from status, which others may write. One
// that is gone, or not provably this resource's, is done with: left alone.
func (i *patIssuer) Revoke(ctx context.Context, id string) error {
	uid, err := i.userID(ctx)
	if err != nil {
		return err
	}
	ours, err := i.owns(ctx, id)
	if err != nil || !ours {
		return err
	}
	defer i.listings.Invalidate(uid)
	if err := i.api.RevokePAT(ctx, uid, id); err != nil && !devinapi.IsGone(err) {
		return err
	}
	return nil
}

// owns reports whether the resource's active tokens, as listed (a fresh listing when the
// shared one does not show it), include id.
func (i *patIssuer) owns(ctx context.Context, id string) (bool, error) {
	for _, fresh := range []bool{false, true} {
		own, err := i.Owned(ctx, fresh)
		if err != nil {
			return false, err
		}
		for _, k := range own.Keys {
			if k.ID == id {
				return true, nil
			}
		}
	}
	return false, nil
}

func describeUser(ref iamv1alpha1.UserReference) string {
	if ref.Email != "" {
		return ref.Email
	}
	return "with ID " + ref.ID
}

// Revoked tells whether the PAT was revoked (or deleted) rather than expired.
func (i *patIssuer) Revoked(ctx context.Context, id string) (bool, error) {
	uid, err := i.userID(ctx)
	if err != nil {
		return false, err
	}
	keys, err := i.api.ListPATs(ctx, uid, devinapi.KeyStatusAll)
	if err != nil && !isNotFound(err) {
		return false, err
	}
	return revokedNotExpired(keys, id, i.clock.Now()), nil
}

// revokedNotExpired reads from a listing of every status why key id is not active: an
// expired key is not revoked; one revoked, or no longer listed at all, is.
func revokedNotExpired(keys []devinapi.APIKey, id string, now time.Time) bool {
	for _, k := range keys {
		if k.ID != id {
			continue
		}
		return k.RevokedAt != nil || k.ExpiresAt == nil || now.Before(*k.ExpiresAt)
	}
	return true
}

// sweep revokes the tokens of a PersonalAccessToken deleted without its finalizer's work:
// the user's active tokens that carry its marker.
func (r *PersonalAccessTokenReconciler) sweep(ctx context.Context, key types.NamespacedName, t credential.Tombstone) error {
	if t.UserID == "" {
		return nil // its user was never found: nothing was created
	}
	stub := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, UID: t.UID}}
	stub.Status.UserID, stub.Status.RestoredFrom, stub.Spec.AccountRef = t.UserID, t.RestoredFrom, t.Account
	up, err := r.upstream(ctx, stub)
	if err != nil {
		return err
	}
	iss := &patIssuer{api: up.api, users: up.users, listings: up.listings, clock: r.Clock, marker: func() credential.Owner { return r.Lifecycle.Owner(stub) }, pat: stub}
	own, err := iss.Owned(ctx, true)
	if err != nil {
		return err
	}
	for _, k := range own.Keys {
		if err := up.api.RevokePAT(ctx, t.UserID, k.ID); err != nil && !devinapi.IsGone(err) {
			return fmt.Errorf("revoke token %s: %w", k.ID, err)
		}
	}
	up.listings.Invalidate(t.UserID)
	return nil
}
