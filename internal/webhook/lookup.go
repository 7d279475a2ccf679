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

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/tenancy"
)

// maxEcho bounds what a message repeats of a value from the request.
const maxEcho = 256

// lookup answers the webhooks' questions to the Devin API through the directory shared with
// the controllers, within the time an admission request may take.
type lookup struct {
	dir      *directory.Directory
	accounts tenancy.Accounts
	timeout  time.Duration
}

// directory is the directory of the account a resource in namespace names (ref; nil: the
// default account). An account that cannot be used now refuses the request, saying which.
func (l *lookup) directory(ctx context.Context, namespace string, ref *iamv1alpha1.AccountRef) (*directory.Directory, error) {
	if ref == nil {
		return l.dir, nil
	}
	if l.accounts == nil {
		return nil, accountRefused(fmt.Errorf("%w: %s: this operator serves only its default account", account.ErrNotReady, ref))
	}
	b, err := l.accounts.For(ctx, namespace, ref)
	switch {
	case errors.Is(err, account.ErrNotReady):
		return nil, accountRefused(err)
	case err != nil:
		return nil, unverifiable("spec.accountRef "+echo(ref.String()), err, l.timeout)
	}
	return b.Directory, nil
}

// accountRefused is the denial of a request whose account cannot be used now.
func accountRefused(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
		Message: fmt.Sprintf("spec.accountRef: %v; apply again once the account is Ready", err),
	}}
}

// withTimeout bounds the lookups of one admission request, and marks them as admission
// requests: they have a share of the Devin API rate limit that reconciles cannot use up.
func (l *lookup) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(devinapi.ForAdmission(ctx), l.timeout)
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
