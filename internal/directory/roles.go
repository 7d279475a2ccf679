package directory

import (
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// MatchRole finds a role of roleType ("org" or "enterprise", see ServiceUserScope.RoleType)
// by ID or by name, ignoring the case of ASCII letters only. When none matches it returns the names of the roles of
// that type, for a message that says which ones would.
func MatchRole(roles []devinapi.Role, roleType, want string) (devinapi.Role, bool, []string) {
	var names []string
	for _, role := range roles {
		if role.Type != roleType {
			continue
		}
		names = append(names, role.Name)
		if role.ID == want || devinapi.EqualFoldASCII(role.Name, want) {
			return role, true, nil
		}
	}
	return devinapi.Role{}, false, names
}
