package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/ttlcache"
)

const (
	// maxCachedUsers bounds each user cache (by email, by ID).
	maxCachedUsers = 4096
	// rolesKey is the only key of the role cache: the enterprise has one list of roles.
	rolesKey = "roles"
	// maxEcho bounds what a message repeats of a value from the request.
	maxEcho = 256
)

// errNoUser is an answer without a user and without an error, which the client does not give.
var errNoUser = errors.New("the Devin API client returned no user")

// lookup answers the webhooks' questions to the Devin API through short-lived caches, so that
// a burst of admission requests (a GitOps sync) does not become a burst of API calls. Errors,
// including "not found", are not cached.
type lookup struct {
	api     API
	timeout time.Duration
	byEmail *ttlcache.Cache[*devinapi.User]
	byID    *ttlcache.Cache[*devinapi.User]
	roles   *ttlcache.Cache[[]devinapi.Role]
}

func newLookup(api API, ttl time.Duration, clk clock.PassiveClock, timeout time.Duration) *lookup {
	return &lookup{
		api:     api,
		timeout: timeout,
		byEmail: ttlcache.New[*devinapi.User](ttl, maxCachedUsers, clk),
		byID:    ttlcache.New[*devinapi.User](ttl, maxCachedUsers, clk),
		roles:   ttlcache.New[[]devinapi.Role](ttl, 1, clk),
	}
}

// withTimeout bounds the lookups of one admission request.
func (l *lookup) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.timeout)
}

// userByEmail finds a user by email, ignoring case.
func (l *lookup) userByEmail(ctx context.Context, email string) (*devinapi.User, error) {
	return l.byEmail.GetOrFetch(ctx, strings.ToLower(email), func(ctx context.Context) (*devinapi.User, error) {
		u, err := l.api.FindUserByEmail(ctx, email)
		if err == nil && u == nil {
			err = errNoUser
		}
		if err == nil {
			l.byID.Set(u.ID, u)
		}
		return u, err
	})
}

// userByID gets a user by its upstream ID.
func (l *lookup) userByID(ctx context.Context, id string) (*devinapi.User, error) {
	return l.byID.GetOrFetch(ctx, id, func(ctx context.Context) (*devinapi.User, error) {
		u, err := l.api.GetUser(ctx, id)
		if err == nil && u == nil {
			err = errNoUser
		}
		if err == nil {
			l.byEmail.Set(strings.ToLower(u.Email), u)
		}
		return u, err
	})
}

// listRoles returns every role of the enterprise.
func (l *lookup) listRoles(ctx context.Context) ([]devinapi.Role, error) {
	return l.roles.GetOrFetch(ctx, rolesKey, l.api.ListRoles)
}

// unverifiable is the denial of a request whose check needed the Devin API and did not get
// an answer: 503 when the API could not be reached (the request may succeed when retried),
// 500 for an answer the operator does not understand. what names the thing that could not
// be checked, e.g. `user "alice@example.com"`. The message never carries the error text, so
// no part of an upstream answer (let alone a credential) reaches the requester.
func unverifiable(what string, err error, timeout time.Duration) error {
	if !unreachable(err) {
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
			Message: fmt.Sprintf("cannot verify %s: the Devin API gave an answer the operator does not understand; retry later, and tell the operator's administrators if it persists", what),
		}}
	}
	retry := "retry in a moment"
	if d, ok := devinapi.RetryAfter(err); ok {
		retry = fmt.Sprintf("retry in %s", max(d.Round(time.Second), time.Second))
	}
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusServiceUnavailable, Reason: metav1.StatusReasonServiceUnavailable,
		Message: fmt.Sprintf("cannot verify %s: the Devin API could not be reached (%s); %s", what, unreachableReason(err, timeout), retry),
	}}
}

// unreachable reports whether err means the Devin API could not be asked: a transient
// failure, no answer in time, or the operator's own credential refused (401/403 to a lookup
// that only needs read access).
func unreachable(err error) bool {
	return errors.Is(err, devinapi.ErrRetryable) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, devinapi.ErrUnauthorized) || errors.Is(err, devinapi.ErrForbidden)
}

func unreachableReason(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, devinapi.ErrUnauthorized), errors.Is(err, devinapi.ErrForbidden):
		return "the operator's own Devin API credential was refused"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, context.Canceled):
		return "the admission request was canceled"
	}
	return "it is temporarily unavailable"
}

// echo shortens a value of the request for a message.
func echo(s string) string {
	if len(s) <= maxEcho {
		return s
	}
	return strings.ToValidUTF8(s[:maxEcho], "") + "..."
}
