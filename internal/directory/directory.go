// Package directory answers who a user is and which roles exist, from the Devin API through
// short-lived caches shared by the admission webhooks and the controllers of one process:
// a GitOps sync of many PersonalAccessTokens costs one lookup per user, not one per webhook
// call and another per mint.
package directory

import (
	"context"
	"errors"
	"strings"
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

// Directory looks users and roles up, caching answers for a TTL. Errors, "not found"
// included, are not cached. It is safe for concurrent use.
type Directory struct {
	api     API
	byEmail *ttlcache.Cache[*devinapi.User]
	byID    *ttlcache.Cache[*devinapi.User]
	roles   *ttlcache.Cache[[]devinapi.Role]
}

// New returns a directory whose answers live for ttl.
func New(api API, ttl time.Duration, clk clock.PassiveClock) *Directory {
	return &Directory{
		api:     api,
		byEmail: ttlcache.New[*devinapi.User](ttl, maxCachedUsers, clk),
		byID:    ttlcache.New[*devinapi.User](ttl, maxCachedUsers, clk),
		roles:   ttlcache.New[[]devinapi.Role](ttl, 1, clk),
	}
}

// UserByEmail finds a user by email, ignoring case.
func (d *Directory) UserByEmail(ctx context.Context, email string) (*devinapi.User, error) {
	return d.byEmail.GetOrFetch(ctx, strings.ToLower(email), func(ctx context.Context) (*devinapi.User, error) {
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
	return d.byID.GetOrFetch(ctx, id, func(ctx context.Context) (*devinapi.User, error) {
		u, err := d.api.GetUser(ctx, id)
		if err == nil && u == nil {
			err = errNoUser
		}
		if err == nil {
			d.byEmail.Set(strings.ToLower(u.Email), u)
		}
		return u, err
	})
}

// Roles returns every role of the enterprise.
func (d *Directory) Roles(ctx context.Context) ([]devinapi.Role, error) {
	return d.roles.GetOrFetch(ctx, "roles", d.api.ListRoles)
}
