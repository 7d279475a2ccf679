package policy

import (
	"context"
	"errors"
	"fmt"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Authorizer answers whether the requester of one request may <verb> (use or delegate) the
// named CredentialPolicy in the request's namespace. It is bound to one requester and one
// namespace (SubjectAccessReviewer.For). An error means no answer, not a refusal.
type Authorizer interface {
	Can(ctx context.Context, verb, policyName string) (bool, error)
}

// AuthorizerFunc adapts a function to Authorizer (tests, and callers with their own cache).
type AuthorizerFunc func(ctx context.Context, verb, policyName string) (bool, error)

// Can calls f.
func (f AuthorizerFunc) Can(ctx context.Context, verb, policyName string) (bool, error) {
	return f(ctx, verb, policyName)
}

var _ Authorizer = AuthorizerFunc(nil)

// errNoAuthorizer makes a nil Authorizer deny with a reason.
var errNoAuthorizer = errors.New("no authorizer configured")

// authorize asks auth for each verb and returns, when one is refused, the reason for humans.
func authorize(ctx context.Context, auth Authorizer, policy, namespace string, verbs []string) (string, error) {
	if auth == nil {
		return "", errNoAuthorizer
	}
	for _, verb := range verbs {
		ok, err := auth.Can(ctx, verb, policy)
		if err != nil {
			return "", fmt.Errorf("check RBAC verb %s on credentialpolicies/%s: %w", verb, policy, err)
		}
		if !ok {
			return denied(verb, policy, namespace), nil
		}
	}
	return "", nil
}

func denied(verb, policy, namespace string) string {
	what := "use it"
	if verb == iamv1alpha1.PolicyVerbDelegate {
		what = "ask for other people's tokens under it"
	}
	return fmt.Sprintf("you may not %s (RBAC verb %s on credentialpolicies/%s in namespace %s)", what, verb, policy, namespace)
}
