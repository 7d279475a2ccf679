package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Decision is the answer of Decide.
type Decision struct {
	// Allowed is true when a policy allows the whole request.
	Allowed bool
	// Policy is the name of the policy that allowed it: the first, in name order.
	Policy string
	// OnUpstreamRevocation is that policy's tokens.onUpstreamRevocation (Stop when unset).
	OnUpstreamRevocation iamv1alpha1.UpstreamRevocationAction
	// Message is for humans: which policy allowed the request or, when refused, what each
	// candidate policy is missing.
	Message string
	// Warnings are for the requester whatever the answer (admission warnings).
	Warnings []string
	// Err is set when the request was refused and at least one policy could not be checked
	// (the authorizer failed): the refusal may be temporary, so retry rather than stall.
	Err error
}

// Decide applies the rule of the package documentation: the request is allowed when at least
// one policy that selects its namespace, that allows all of it and that the requester may use
// (and, for someone else's personal access token, delegate) through RBAC, exists. Policies
// are tried in name order; policies being deleted allow nothing. auth is asked only about
// policies that select the namespace and allow the spec; a nil auth denies.
func Decide(ctx context.Context, req Request, policies []iamv1alpha1.CredentialPolicy, auth Authorizer) Decision {
	warnings := warningsFor(req)
	var refusals []string
	var errs []error
	candidates := 0
	for _, p := range byName(policies) {
		selected, err := Selects(p, req.Namespace, req.NamespaceLabels)
		if err != nil {
			candidates++
			refusals = append(refusals, refusal(p.Name, err.Error()))
			continue
		}
		if !selected {
			continue
		}
		candidates++
		if p.DeletionTimestamp != nil {
			refusals = append(refusals, refusal(p.Name, "it is being deleted"))
			continue
		}
		missing, verbs := check(p, req)
		if len(missing) > 0 {
			refusals = append(refusals, refusal(p.Name, strings.Join(missing, "; ")))
			continue
		}
		why, err := authorize(ctx, auth, p.Name, req.Namespace, verbs)
		if err != nil {
			errs = append(errs, err)
			why = fmt.Sprintf("could not check RBAC: %v", err)
		}
		if why != "" {
			refusals = append(refusals, refusal(p.Name, why))
			continue
		}
		return Decision{
			Allowed:              true,
			Policy:               p.Name,
			OnUpstreamRevocation: onUpstreamRevocation(p),
			Message:              fmt.Sprintf("allowed by CredentialPolicy %s", p.Name),
			Warnings:             warnings,
		}
	}
	d := Decision{Warnings: warnings, Err: errors.Join(errs...)}
	if candidates == 0 {
		d.Message = fmt.Sprintf("no CredentialPolicy selects namespace %q: a cluster administrator must create one that selects it and allows this %s", req.Namespace, req.Kind)
		return d
	}
	d.Message = fmt.Sprintf("no CredentialPolicy allows this %s in namespace %q for %s: %s",
		req.Kind, req.Namespace, describeRequester(req.Requester), strings.Join(refusals, " | "))
	return d
}

// check returns what policy p is missing to allow req's spec, and the RBAC verbs the
// requester needs on p when nothing is missing. A policy that does not allow the kind at all
// says only that.
func check(p *iamv1alpha1.CredentialPolicy, req Request) (missing []string, verbs []string) {
	verbs = []string{iamv1alpha1.PolicyVerbUse}
	switch req.Kind {
	case KindServiceUser:
		if p.Spec.ServiceUsers == nil {
			return []string{"it allows no ServiceUser"}, nil
		}
		missing = checkServiceUser(p.Spec.ServiceUsers, req)
	case KindPersonalAccessToken:
		if p.Spec.PersonalAccessTokens == nil {
			return []string{"it allows no PersonalAccessToken"}, nil
		}
		var delegated bool
		missing, delegated = checkPersonalAccessToken(p.Spec.PersonalAccessTokens, req)
		if delegated {
			verbs = append(verbs, iamv1alpha1.PolicyVerbDelegate)
		}
	default:
		return []string{fmt.Sprintf("unknown kind %q", req.Kind)}, nil
	}
	if why := checkAccount(p.Spec.Accounts, req); why != "" {
		missing = append(missing, why)
	}
	return append(missing, checkTokens(&p.Spec.Tokens, req)...), verbs
}

// byName returns the policies sorted by name, without changing the caller's slice.
func byName(policies []iamv1alpha1.CredentialPolicy) []*iamv1alpha1.CredentialPolicy {
	out := make([]*iamv1alpha1.CredentialPolicy, len(policies))
	for i := range policies {
		out[i] = &policies[i]
	}
	slices.SortStableFunc(out, func(a, b *iamv1alpha1.CredentialPolicy) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func onUpstreamRevocation(p *iamv1alpha1.CredentialPolicy) iamv1alpha1.UpstreamRevocationAction {
	if p.Spec.Tokens.OnUpstreamRevocation == "" {
		return iamv1alpha1.UpstreamRevocationStop
	}
	return p.Spec.Tokens.OnUpstreamRevocation
}

// warningsFor says, for every personal access token, that it is personal.
func warningsFor(req Request) []string {
	if req.Kind != KindPersonalAccessToken {
		return nil
	}
	owner := req.OwnerEmail
	if owner == "" {
		owner = "its owner"
	}
	return []string{fmt.Sprintf("anyone who can read Secrets in namespace %s acts as %s with this token: personal access tokens are personal and must not be shared (Devin docs); use a ServiceUser for workloads",
		req.Namespace, quote(owner))}
}
