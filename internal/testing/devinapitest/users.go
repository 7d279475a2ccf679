package devinapitest

import (
	"net/http"
	"strings"
	"time"
)

type idpRoleAssignmentWire struct {
	IDPGroupName string   `json:"idp_group_name"`
	Role         roleWire `json:"role"`
	OrgID        string   `json:"org_id,omitempty"`
}

// userWire is a User of the users list: direct role assignments only.
type userWire struct {
	UserID          string               `json:"user_id"`
	Email           string               `json:"email"`
	Name            string               `json:"name"`
	RoleAssignments []roleAssignmentWire `json:"role_assignments"`
}

// userWithIdpRolesWire is the answer of GET /v3/enterprise/members/users/{user_id}.
type userWithIdpRolesWire struct {
	userWire
	IDPRoleAssignments []idpRoleAssignmentWire `json:"idp_role_assignments"`
}

// idpGroupUserWire is an IdpGroupUser of the IdP-users list.
type idpGroupUserWire struct {
	UserID             string                  `json:"user_id"`
	Email              string                  `json:"email"`
	Name               string                  `json:"name"`
	IDPRoleAssignments []idpRoleAssignmentWire `json:"idp_role_assignments"`
}

// memberV2Wire is the v2 EnterpriseUserResponse.
type memberV2Wire struct {
	UserID         string  `json:"user_id"`
	Email          string  `json:"email"`
	Name           string  `json:"name"`
	EnterpriseRole string  `json:"enterprise_role"`
	CreatedAt      string  `json:"created_at"`
	SAMLID         *string `json:"saml_id"`
}

// memberRole is the role users have in the first organization: Member, or the first
// organization role.
func (e *Enterprise) memberRole() (SeedRole, string, bool) {
	if len(e.orgs) == 0 {
		return SeedRole{}, "", false
	}
	if r, ok := e.role(RoleOrgMember); ok {
		return r, e.orgs[0], true
	}
	for _, r := range e.roles {
		if r.Type == "org" {
			return r, e.orgs[0], true
		}
	}
	return SeedRole{}, "", false
}

// userWire encodes a user's direct role assignments: none for an IdP-only user.
func (e *Enterprise) userWire(u *SeedUser) userWire {
	w := userWire{UserID: u.ID, Email: u.Email, Name: u.Name, RoleAssignments: []roleAssignmentWire{}}
	if role, org, ok := e.memberRole(); ok && !u.IDPOnly {
		w.RoleAssignments = append(w.RoleAssignments, roleAssignmentWire{Role: toRoleWire(role), OrgID: org})
	}
	return w
}

// idpRoles encodes the role assignments a user gets through its IdP groups.
func (e *Enterprise) idpRoles(u *SeedUser) []idpRoleAssignmentWire {
	out := []idpRoleAssignmentWire{}
	if role, org, ok := e.memberRole(); ok {
		for _, g := range u.IDPGroups {
			out = append(out, idpRoleAssignmentWire{IDPGroupName: g, Role: toRoleWire(role), OrgID: org})
		}
	}
	return out
}

// listUsers lists the users with direct role assignments (IdP-only users are not), filtered
// by "email" (case-insensitive exact match) when given.
func (e *Enterprise) listUsers(req *apiRequest) result {
	return e.listMembers(req, false, func(u *SeedUser) any { return e.userWire(u) })
}

// listIdpUsers lists the users whose membership comes from IdP groups only.
func (e *Enterprise) listIdpUsers(req *apiRequest) result {
	return e.listMembers(req, true, func(u *SeedUser) any {
		return idpGroupUserWire{UserID: u.ID, Email: u.Email, Name: u.Name, IDPRoleAssignments: e.idpRoles(u)}
	})
}

func (e *Enterprise) listMembers(req *apiRequest, idpOnly bool, encode func(*SeedUser) any) result {
	email := req.r.URL.Query().Get("email")
	var items []sequenced
	for i, id := range e.userOrder {
		u := e.users[id]
		if u.IDPOnly == idpOnly && (email == "" || strings.EqualFold(u.Email, email)) {
			items = append(items, sequenced{int64(i + 1), encode(u)})
		}
	}
	page, p := paginate(req.r, items)
	if p != nil {
		return fail(p)
	}
	return ok(page)
}

// getUser answers any member, direct or IdP-only, with both kinds of role assignments.
func (e *Enterprise) getUser(req *apiRequest) result {
	u := e.users[req.r.PathValue("user_id")]
	if u == nil {
		return fail(notFound("user"))
	}
	return ok(userWithIdpRolesWire{userWire: e.userWire(u), IDPRoleAssignments: e.idpRoles(u)})
}

// getMemberV2 serves the older member record, whose errors are the older {"detail"} bodies.
func (e *Enterprise) getMemberV2(req *apiRequest) result {
	u := e.users[req.r.PathValue("user_id")]
	if u == nil {
		return fail(&problem{status: http.StatusNotFound, detail: "Member not found", legacy: true})
	}
	w := memberV2Wire{UserID: u.ID, Email: u.Email, Name: u.Name, EnterpriseRole: "member",
		CreatedAt: e.srv.started.UTC().Format(time.RFC3339)}
	if u.SAMLID != "" {
		saml := u.SAMLID
		w.SAMLID = &saml
	}
	return ok(w)
}

func (e *Enterprise) listRoles(req *apiRequest) result {
	items := make([]sequenced, len(e.roles))
	for i, r := range e.roles {
		items[i] = sequenced{int64(i + 1), toRoleWire(r)}
	}
	page, p := paginate(req.r, items)
	if p != nil {
		return fail(p)
	}
	return ok(page)
}
