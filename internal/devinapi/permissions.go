package devinapi

// Permissions the vendor's docs name for the operations of this client (enterprise level
// unless said). Where doc snapshots disagree, the newer localized pages win; the sources are
// in contract/SOURCES.md, "Per operation".
const (
	// PermReadAccountMeta: GET /v3/self. Current localized docs need no permission at all
	// (any valid v3 credential); an English snapshot says ReadAccountMeta, which every
	// service user has by default, so a 403 there can only mean this one.
	PermReadAccountMeta = "ReadAccountMeta"
	// PermManageAccountServiceUsers: enterprise service-user provisioning and every
	// service-user API key operation.
	PermManageAccountServiceUsers = "ManageAccountServiceUsers"
	// PermManageOrgServiceUsers: organization service-user provisioning (organization level).
	PermManageOrgServiceUsers = "ManageOrgServiceUsers"
	// PermViewAccountMembership: reading service users, users, IdP users and roles (older
	// English snapshots say ManageAccountMembership).
	PermViewAccountMembership = "ViewAccountMembership"
	// PermManageAccountMembership: changing a service user's role, deleting a service user.
	PermManageAccountMembership = "ManageAccountMembership"
	// PermEnterpriseAdminKey is not a permission but the only credential the v2 member record
	// accepts: an enterprise admin's personal API key.
	PermEnterpriseAdminKey = "an enterprise admin's personal API key (apk_user_)"
)

// operationPermissions maps the client's operations (APIError.Op) to the permission their
// endpoints need. The PAT operations have none: their endpoints are not published.
var operationPermissions = map[string]string{
	"Self":                    PermReadAccountMeta,
	"SelfWithToken":           PermReadAccountMeta,
	"ProvisionServiceUser":    PermManageAccountServiceUsers, // ScopeOrganization: see RequiredPermission
	"GetServiceUser":          PermViewAccountMembership,
	"ListServiceUsers":        PermViewAccountMembership,
	"UpdateServiceUserRole":   PermManageAccountMembership,
	"DeleteServiceUser":       PermManageAccountMembership,
	"CreateServiceUserAPIKey": PermManageAccountServiceUsers,
	"ListServiceUserAPIKeys":  PermManageAccountServiceUsers,
	"RevokeServiceUserAPIKey": PermManageAccountServiceUsers,
	"RotateServiceUserAPIKey": PermManageAccountServiceUsers,
	"GetUser":                 PermViewAccountMembership,
	"FindUserByEmail":         PermViewAccountMembership,
	"ListRoles":               PermViewAccountMembership,
}

// RequiredPermission returns the permission the vendor's docs name for a client operation
// (the Op of an APIError, e.g. "ListServiceUsers"), or "" when they name none (the PAT
// operations, unknown names). scope matters only for "ProvisionServiceUser", whose
// organization variant needs the organization-level ManageOrgServiceUsers; pass "" otherwise.
func RequiredPermission(op string, scope Scope) string {
	if op == "ProvisionServiceUser" && scope == ScopeOrganization {
		return PermManageOrgServiceUsers
	}
	return operationPermissions[op]
}
