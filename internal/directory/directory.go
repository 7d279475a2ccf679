// Package directory answers who a user is and which roles exist, from the Devin API through
// short-lived caches shared by the admission webhooks and the controllers of one process:
// a GitOps sync of many PersonalAccessTokens costs one lookup per user, not one per webhook
// call and another per mint.
package directory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/utils/clock"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/ttlcache"
)

// API is what the directory asks the Devin API.
type API interface {
	GetUser(ctx context.Context, id string) (*devinapi.User, error)
	FindUserByEmail(ctx context.Context, email string) (*devinapi.User, error)
	ListRoles(ctx context.Context) ([]devinapi.Role, error)
}

// maxCachedUsers bounds each user cache (by email, by ID).
const maxCachedUsers = 4096

// errNoUser is an answer without a user and without an error, which the client does not give.
var errNoUser = errors.New("the Devin API client returned no user")

// Directory looks users and roles up, caching answers for a TTL, and "not found" for a few
// seconds; other errors are not cached. It is safe for concurrent use.
type Directory struct {
	api     API
	byEmail *ttlcache.Cache[*devinapi.User]
	byID    *ttlcache.Cache[*devinapi.User]
	// missing remembers, briefly, the emails and IDs no user has: a flood of lookups of
	// made-up users costs one call each per missingTTL, not one per request.
	missing     *ttlcache.Cache[struct{}]
	roles       *ttlcache.Cache[[]devinapi.Role]
	ssoEnforced bool
}

// Options configure a directory.
type Options struct {
	// TTL is how long answers live; zero caches nothing.
	TTL time.Duration
	// Clock tells the time; nil is the real clock.
	Clock clock.PassiveClock
	// SSOEnforced says the enterprise enforces SSO for every member (--sso-mode=enforced):
	// every user then counts as SSO-linked, whatever their record says.
	SSOEnforced bool
}

// New returns a directory answering from api.
func New(api API, o Options) *Directory {
	return &Directory{
		api:         api,
		byEmail:     ttlcache.New[*devinapi.User](o.TTL, maxCachedUsers, o.Clock),
		byID:        ttlcache.New[*devinapi.User](o.TTL, maxCachedUsers, o.Clock),
		roles:       ttlcache.New[[]devinapi.Role](o.TTL, 1, o.Clock),
		missing:     ttlcache.New[struct{}](min(o.TTL, missingTTL), maxCachedUsers, o.Clock),
		ssoEnforced: o.SSOEnforced,
	}
}

// SSOLinked reports whether u is linked to enterprise SSO (and so can have no personal
// access token), and why, in words for a message.
func (d *Directory) SSOLinked(u *devinapi.User) (bool, string) {
	switch {
	case d.ssoEnforced:
		return true, "the Devin enterprise enforces SSO for every member (--sso-mode=enforced, or the account's ssoMode)"
	case len(u.IDPRoleAssignments) > 0:
		return true, "the account's access comes from identity provider (SSO) groups"
	case u.SSOLinked():
		return true, "the account has a SAML (SSO) identity"
	}
	return false, ""
}

// UserByEmail finds a user by email, ignoring case.
func (d *Directory) UserByEmail(ctx context.Context, email string) (*devinapi.User, error) {
	key := devinapi.EmailKey(email)
	if key == "" {
		return nil, fmt.Errorf("email %q: only printable ASCII addresses are looked up: %w", email, devinapi.ErrInvalid)
	}
	return d.remembered(ctx, "email:"+key, d.byEmail, key, func(ctx context.Context) (*devinapi.User, error) {
		u, err := d.api.FindUserByEmail(ctx, email)
		if err == nil && u == nil {
			err = errNoUser
		}
		if err == nil {
			d.byID.Set(u.ID, u)
		}
		return u, err
	})
}

// UserByID gets a user by its upstream ID.
func (d *Directory) UserByID(ctx context.Context, id string) (*devinapi.User, error) {
	return d.remembered(ctx, "id:"+id, d.byID, id, func(ctx context.Context) (*devinapi.User, error) {
		u, err := d.api.GetUser(ctx, id)
		if err == nil && u == nil {
			err = errNoUser
		}
		if err == nil {
			if key := devinapi.EmailKey(u.Email); key != "" {
				d.byEmail.Set(key, u)
			}
		}
		return u, err
	})
}

// missingTTL is how long a user found missing is not looked up again: short, since the user
// may be created upstream a moment later.
const missingTTL = 10 * time.Second

// remembered answers a lookup from cache, or from what is known to be missing, or by
// fetching it (and remembering a "not found").
func (d *Directory) remembered(ctx context.Context, missingKey string, cache *ttlcache.Cache[*devinapi.User], key string,
	fetch func(context.Context) (*devinapi.User, error)) (*devinapi.User, error) {
	if _, ok := d.missing.Get(missingKey); ok {
		return nil, fmt.Errorf("%s: %w (looked up moments ago)", missingKey, devinapi.ErrNotFound)
	}
	u, err := cache.GetOrFetch(ctx, key, fetch)
	if errors.Is(err, devinapi.ErrNotFound) {
		d.missing.Set(missingKey, struct{}{})
	}
	return u, err
}

// Roles returns every role of the enterprise.
func (d *Directory) Roles(ctx context.Context) ([]devinapi.Role, error) {
	return d.roles.GetOrFetch(ctx, "roles", d.api.ListRoles)
}
