package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Who refused a manifest.
const (
	refusedByAdmission  = "admission"
	refusedByRBAC       = "rbac"
	refusedByValidation = "validation"
)

// refusal fills in who refused the dry run and why; an answer that is no refusal (no such
// namespace, the webhook unreachable, impersonation not allowed) is returned as an error.
func (s *session) refusal(d *decision, err error) error {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return fmt.Errorf("ask the API server about %s %s: %w", d.Kind, d.Name, err)
	}
	msg := status.Status().Message
	switch {
	case strings.Contains(msg, "cannot impersonate"):
		return fmt.Errorf("you may not act as %s: --as needs the impersonate verb on users (and on groups with --as-group): %s", s.user, msg)
	case strings.Contains(msg, "denied the request"):
		d.RefusedBy = refusedByAdmission
	case apierrors.IsForbidden(err):
		d.RefusedBy = refusedByRBAC
	case apierrors.IsInvalid(err):
		d.RefusedBy = refusedByValidation
	case strings.Contains(msg, "failed calling webhook"):
		return fmt.Errorf("the admission webhook could not answer (is the operator running and reachable?): %s", msg)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s (create the namespace, or pass -n)", msg)
	default:
		return fmt.Errorf("ask the API server about %s %s: %w", d.Kind, d.Name, err)
	}
	d.Reason = msg
	return nil
}

// whoAmI names the user the API server sees (after impersonation), for the answer. A
// refused impersonation is an error: nothing else could be asked as that user.
func (s *session) whoAmI(ctx context.Context) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	err := s.client.Create(ctx, review)
	switch {
	case err != nil && s.user != "" && apierrors.IsForbidden(err):
		return "", fmt.Errorf("you may not act as %s: --as needs the impersonate verb on users (and on groups with --as-group)", s.user)
	case err != nil || review.Status.UserInfo.Username == "":
		// An API server without SelfSubjectReview (before Kubernetes 1.28): say who was asked for.
		if s.user != "" {
			return s.user, nil
		}
		return "you", nil
	}
	return review.Status.UserInfo.Username, nil
}

// renderDecisions writes one line per object, then its reason and warnings.
func renderDecisions(w io.Writer, ds []decision) {
	for _, d := range ds {
		what := fmt.Sprintf("%s %s in namespace %s, as %s", d.Kind, d.Name, d.Namespace, d.As)
		if d.Allowed {
			admitted := ""
			if d.Policy != "" {
				admitted = ": admitted by CredentialPolicy " + d.Policy
			}
			fmt.Fprintf(w, "allowed: %s%s\n", what, admitted)
		} else {
			fmt.Fprintf(w, "refused: %s, by %s:\n  %s\n", what, d.RefusedBy, d.Reason)
		}
		for _, warning := range d.Warnings {
			fmt.Fprintf(w, "  warning: %s\n", warning)
		}
	}
}
