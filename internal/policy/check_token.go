package policy

import (
	"fmt"
	"strings"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// checkPersonalAccessToken returns what pat (not nil) is missing to allow the
// PersonalAccessToken of req, and whether it allows it as a delegation (which needs the RBAC
// verb delegate).
func checkPersonalAccessToken(pat *iamv1alpha1.PersonalAccessTokenPolicy, req Request) (missing []string, delegated bool) {
	owner := normalEmail(req.OwnerEmail)
	if owner == "" {
		return []string{fmt.Sprintf("the owner's email %s is unknown or not a plain ASCII address", quote(req.OwnerEmail))}, false
	}
	own := devinapi.SameEmail(req.Requester.Email, owner)
	allowOwner := pat.AllowOwner == nil || *pat.AllowOwner
	if own && allowOwner {
		return nil, false
	}
	if pat.Delegation != nil && delegationCovers(pat.Delegation, owner) {
		return nil, true
	}
	switch {
	case own:
		return []string{fmt.Sprintf("it does not let people ask for their own tokens (allowOwner: false), and its delegation does not cover %s", quote(owner))}, false
	case pat.Delegation == nil:
		return []string{fmt.Sprintf("the token belongs to %s, not to you (%s), and it allows no delegation", quote(owner), describeEmail(req.Requester.Email))}, false
	}
	return []string{fmt.Sprintf("the token belongs to %s, not to you (%s), and its delegation covers neither that user nor that domain", quote(owner), describeEmail(req.Requester.Email))}, false
}

// delegationCovers reports whether owner (a normalEmail) is one of d's users or in one of its
// domains: "example.com" is that domain only, "*.example.com" its subdomains at any depth,
// "*" every domain.
func delegationCovers(d *iamv1alpha1.DelegationPolicy, owner string) bool {
	for _, u := range d.Users {
		if devinapi.SameEmail(u, owner) {
			return true
		}
	}
	domain := owner[strings.IndexByte(owner, '@')+1:]
	for _, want := range d.Domains {
		switch {
		case want == anyValue:
			return true
		case strings.HasPrefix(want, "*."):
			suffix := want[1:] // ".example.com"
			if len(domain) > len(suffix) && devinapi.EqualFoldASCII(domain[len(domain)-len(suffix):], suffix) {
				return true
			}
		case devinapi.EqualFoldASCII(domain, want):
			return true
		}
	}
	return false
}

// checkTokens returns what t is missing to allow the token settings of req. An imported
// token's lifetime and revocation are its owner's, so the bounds do not apply to it.
func checkTokens(t *iamv1alpha1.TokenPolicy, req Request) []string {
	if req.Imported {
		return nil
	}
	field := ""
	if req.Kind == KindServiceUser {
		field = "apiKey."
	}
	var missing []string
	if t.MaxExpiresAfter != nil && req.ExpiresAfter > t.MaxExpiresAfter.Duration {
		missing = append(missing, fmt.Sprintf("%sexpiresAfter %s is above maxExpiresAfter %s", field, FormatDuration(req.ExpiresAfter), FormatDuration(t.MaxExpiresAfter.Duration)))
	}
	if t.MaxRotationGracePeriod != nil && req.RotationGracePeriod > t.MaxRotationGracePeriod.Duration {
		missing = append(missing, fmt.Sprintf("%srotationGracePeriod %s is above maxRotationGracePeriod %s", field, FormatDuration(req.RotationGracePeriod), FormatDuration(t.MaxRotationGracePeriod.Duration)))
	}
	if t.MinRenewalInterval != nil && req.RenewalInterval < t.MinRenewalInterval.Duration {
		missing = append(missing, fmt.Sprintf("%sexpiresAfter minus renewBefore is %s, below minRenewalInterval %s", field, FormatDuration(req.RenewalInterval), FormatDuration(t.MinRenewalInterval.Duration)))
	}
	if req.DeletionPolicy == iamv1alpha1.DeletionPolicyOrphan && !t.AllowOrphan {
		missing = append(missing, "deletionPolicy Orphan is not allowed (tokens.allowOrphan is false)")
	}
	return missing
}
