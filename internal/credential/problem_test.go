package credential

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

func TestClassify(t *testing.T) {
	cases := map[string]struct {
		err        error
		reason     string
		stalled    bool
		retryAfter time.Duration
		message    string
	}{
		"no PAT endpoint upstream": {
			err:    fmt.Errorf("issue: %w", &devinapi.APIError{Op: "CreatePAT", Status: http.StatusNotFound, RouteMissing: true}),
			reason: iamv1alpha1.ReasonPATAPIUnavailable, stalled: true, retryAfter: RefusalRecheck, message: "account settings",
		},
		"a permission missing": {
			err:    &devinapi.APIError{Op: "ListServiceUsers", Status: http.StatusForbidden, Permission: devinapi.PermViewAccountMembership},
			reason: iamv1alpha1.ReasonBackendUnauthorized, message: "lacks the permission ViewAccountMembership",
		},
		"SSO account": {
			err:    &devinapi.APIError{Status: http.StatusForbidden, Type: "https://api.devin.ai/problems/sso-account"},
			reason: iamv1alpha1.ReasonSSOAccount, stalled: true, retryAfter: RefusalRecheck,
		},
		"feature not enabled": {
			err:    fmt.Errorf("issue: %w", &devinapi.APIError{Status: http.StatusForbidden, Type: "x/feature-not-enabled"}),
			reason: iamv1alpha1.ReasonFeatureNotEnabled, stalled: true, retryAfter: RefusalRecheck,
		},
		"rate limited": {
			err:    &devinapi.APIError{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second},
			reason: iamv1alpha1.ReasonBackendError, retryAfter: 7 * time.Second,
		},
		"server error": {
			err:    &devinapi.APIError{Status: http.StatusBadGateway},
			reason: iamv1alpha1.ReasonBackendError,
		},
		"operator credential refused": {
			err:    &devinapi.APIError{Status: http.StatusUnauthorized},
			reason: iamv1alpha1.ReasonBackendUnauthorized,
		},
		"invalid": {
			err:    &devinapi.APIError{Status: http.StatusUnprocessableEntity},
			reason: iamv1alpha1.ReasonInvalidSpec, stalled: true, retryAfter: RefusalRecheck,
		},
		"a problem stays itself": {
			err:    fmt.Errorf("wrapped: %w", secretConflict("app")),
			reason: iamv1alpha1.ReasonSecretConflict, stalled: true, retryAfter: time.Minute,
		},
		"anything else": {
			err:    errors.New("boom"),
			reason: iamv1alpha1.ReasonReconcileError,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := Classify(tc.err)
			if p.Reason != tc.reason || p.Stalled != tc.stalled || p.RetryAfter != tc.retryAfter {
				t.Errorf("Classify = %s stalled=%v retryAfter=%v, want %s stalled=%v retryAfter=%v",
					p.Reason, p.Stalled, p.RetryAfter, tc.reason, tc.stalled, tc.retryAfter)
			}
			if p.Message == "" || !strings.Contains(p.Message, tc.message) {
				t.Errorf("message %q, want it to say %q", p.Message, tc.message)
			}
		})
	}
}
