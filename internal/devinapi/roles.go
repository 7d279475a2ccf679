package devinapi

import (
	"context"
)

// roleWire is a role as the API encodes it.
type roleWire struct {
	RoleID   string `json:"role_id"`
	RoleName string `json:"role_name"`
	RoleType string `json:"role_type"`
}

func (r roleWire) role() Role { return Role{ID: r.RoleID, Name: r.RoleName, Type: r.RoleType} }

// roleAssignmentWire is a role assignment as the API encodes it.
type roleAssignmentWire struct {
	Role  roleWire `json:"role"`
	OrgID string   `json:"org_id,omitempty"`
}

func roleAssignments(in []roleAssignmentWire) []RoleAssignment {
	if len(in) == 0 {
		return nil
	}
	out := make([]RoleAssignment, len(in))
	for i, ra := range in {
		out[i] = RoleAssignment{Role: ra.Role.role(), OrgID: ra.OrgID}
	}
	return out
}

// ListRoles returns every role of the enterprise: organization roles (Type "org") and
// account-level roles (Type "enterprise"), following all pages.
func (c *Client) ListRoles(ctx context.Context) ([]Role, error) {
	items, err := listAll[roleWire](ctx, c, "ListRoles", "/v3/enterprise/roles", nil)
	if err != nil {
		return nil, err
	}
	roles := make([]Role, len(items))
	for i, r := range items {
		roles[i] = r.role()
	}
	return roles, nil
}
