package policy

import (
	"fmt"
	"slices"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// anyValue, as the only entry of organizations, roles or delegation domains, allows every
// value.
const anyValue = "*"

// checkServiceUser returns what su (not nil) is missing to allow the ServiceUser of req.
func checkServiceUser(su *iamv1alpha1.ServiceUserPolicy, req Request) []string {
	var missing []string
	scopes := su.Scopes
	if len(scopes) == 0 {
		scopes = []iamv1alpha1.ServiceUserScope{iamv1alpha1.ScopeOrganization}
	}
	if !slices.Contains(scopes, req.Scope) {
		missing = append(missing, fmt.Sprintf("scope %s is not among %s", quote(string(req.Scope)), listOf(scopes)))
	}
	if req.Scope == iamv1alpha1.ScopeOrganization {
		if why := checkOrganization(su.Organizations, req); why != "" {
			missing = append(missing, why)
		}
	}
	if !roleAllowed(su.Roles, req.RoleID, req.RoleName) {
		missing = append(missing, fmt.Sprintf("role %s is not among %s", describeRole(req), listOf(su.Roles)))
	}
	if su.MaxTTL != nil && req.TTL > su.MaxTTL.Duration {
		missing = append(missing, fmt.Sprintf("ttl %s is above maxTTL %s", FormatDuration(req.TTL), FormatDuration(su.MaxTTL.Duration)))
	}
	return missing
}

// checkOrganization: an empty list allows the operator's default organization only.
func checkOrganization(allowed []string, req Request) string {
	switch {
	case slices.Contains(allowed, anyValue):
		return ""
	case len(allowed) == 0 && req.DefaultOrganization:
		return ""
	case len(allowed) == 0:
		return fmt.Sprintf("organization %s is not the operator's default organization, the only one it allows", quote(req.OrganizationID))
	case req.OrganizationID != "" && slices.Contains(allowed, req.OrganizationID):
		return ""
	}
	return fmt.Sprintf("organization %s is not among %s", quote(req.OrganizationID), listOf(allowed))
}

// roleAllowed matches the role by ID exactly or by name ignoring the case of ASCII letters
// only (Unicode folding would let a crafted name match another, as devinapi.SameEmail says).
func roleAllowed(allowed []string, id, name string) bool {
	for _, r := range allowed {
		if r == anyValue || (id != "" && r == id) || (name != "" && devinapi.EqualFoldASCII(r, name)) {
			return true
		}
	}
	return false
}

func describeRole(req Request) string {
	switch {
	case req.RoleName != "" && req.RoleID != "":
		return fmt.Sprintf("%s (ID %s)", quote(req.RoleName), quote(req.RoleID))
	case req.RoleName != "":
		return quote(req.RoleName)
	case req.RoleID != "":
		return fmt.Sprintf("ID %s", quote(req.RoleID))
	}
	return "(unresolved)"
}
