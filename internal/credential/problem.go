package credential

import (
	"errors"
	"fmt"
	"time"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// Problem is an error that says what to report: a condition reason, a message for humans,
// whether only a change of the spec or of the upstream account can help (Stalled), and when
// to look again.
type Problem struct {
	// Reason is a condition reason constant of the API.
	Reason string
	// Message is for humans; it never contains a token value.
	Message string
	// Stalled is true when retrying soon cannot help.
	Stalled bool
	// RetryAfter is when to look again; zero uses the controller's backoff.
	RetryAfter time.Duration
	// Err is the cause.
	Err error
}

func (p *Problem) Error() string {
	if p.Err != nil {
		return fmt.Sprintf("%s: %v", p.Message, p.Err)
	}
	return p.Message
}

func (p *Problem) Unwrap() error { return p.Err }

// RefusalRecheck is how long a Stalled resource waits before it looks again on its own: an
// upstream account may change (a feature enabled, an SSO link removed) without any event.
const RefusalRecheck = 30 * time.Minute

// Classify turns any error of a reconcile into a Problem. Errors of the Devin API are sorted
// by class; anything else is an internal error retried with backoff.
func Classify(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	retryAfter, _ := devinapi.RetryAfter(err)
	switch {
	case errors.Is(err, devinapi.ErrSSOAccount):
		return &Problem{Reason: iamv1alpha1.ReasonSSOAccount, Stalled: true, RetryAfter: RefusalRecheck, Err: err,
			Message: "the user is linked to enterprise SSO, and SSO accounts cannot have personal access tokens; use a ServiceUser instead"}
	case errors.Is(err, devinapi.ErrFeatureNotEnabled):
		return &Problem{Reason: iamv1alpha1.ReasonFeatureNotEnabled, Stalled: true, RetryAfter: RefusalRecheck, Err: err,
			Message: "the user's account does not have the personal access token feature (closed beta); ask Cognition to enable it or use a ServiceUser"}
	case errors.Is(err, devinapi.ErrUnauthorized):
		return &Problem{Reason: iamv1alpha1.ReasonBackendUnauthorized, Err: err, RetryAfter: retryAfter,
			Message: "the Devin API refused the operator's credential; check the operator's credentials Secret"}
	case errors.Is(err, devinapi.ErrInvalid):
		return &Problem{Reason: iamv1alpha1.ReasonInvalidSpec, Stalled: true, RetryAfter: RefusalRecheck, Err: err,
			Message: "the Devin API rejected the request as invalid"}
	case errors.Is(err, devinapi.ErrForbidden):
		return &Problem{Reason: iamv1alpha1.ReasonBackendUnauthorized, Err: err, RetryAfter: retryAfter,
			Message: "the Devin API refused the request; check the permissions of the operator's credential"}
	case errors.Is(err, devinapi.ErrRetryable), errors.Is(err, devinapi.ErrNotFound), errors.Is(err, devinapi.ErrConflict):
		return &Problem{Reason: iamv1alpha1.ReasonBackendError, Err: err, RetryAfter: retryAfter,
			Message: "the Devin API failed; retrying"}
	default:
		var apiErr *devinapi.APIError
		if errors.As(err, &apiErr) {
			return &Problem{Reason: iamv1alpha1.ReasonBackendError, Err: err, RetryAfter: retryAfter, Message: "the Devin API failed; retrying"}
		}
		return &Problem{Reason: iamv1alpha1.ReasonReconcileError, Err: err, Message: "reconcile failed; retrying"}
	}
}

func asProblem(err error, p **Problem) bool { return errors.As(err, p) }
