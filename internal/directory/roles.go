package directory

import (
	"strings"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// MatchRole finds a role of roleType ("org" or "enterprise", see ServiceUserScope.RoleType)
// by ID or, ignoring case, by name. When none matches it returns the names of the roles of
// that type, for a message that says which ones would.
func MatchRole(roles []devinapi.Role, roleType, want string) (devinapi.Role, bool, []string) {
	var names []string
	for _, role := range roles {
		if role.Type != roleType {
			continue
		}
		names = append(names, role.Name)
		if role.ID == want || strings.EqualFold(role.Name, want) {
			return role, true, nil
		}
	}
	return devinapi.Role{}, false, names
}
