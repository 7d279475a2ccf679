package devinapitest

import (
	"net/http"
	"strings"
)

type idpRoleAssignmentWire struct {
	IDPGroupName string   `json:"idp_group_name"`
	Role         roleWire `json:"role"`
	OrgID        string   `json:"org_id,omitempty"`
}

type userWire struct {
	UserID             string                  `json:"user_id"`
	Email              string                  `json:"email"`
	Name               string                  `json:"name"`
	RoleAssignments    []roleAssignmentWire    `json:"role_assignments"`
	IDPRoleAssignments []idpRoleAssignmentWire `json:"idp_role_assignments,omitempty"`
}

type memberV2Wire struct {
	UserID string  `json:"user_id"`
	Email  string  `json:"email"`
	Name   string  `json:"name"`
	SAMLID *string `json:"saml_id"`
}

type selfWire struct {
	PrincipalType string `json:"principal_type"`
	ServiceUserID string `json:"service_user_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	APIKeyID      string `json:"api_key_id"`
	OrgID         string `json:"org_id,omitempty"`
}

// memberRole is the role users have in the first organization: Member, or the first
// organization role.
func (s *Server) memberRole() (SeedRole, string, bool) {
	if len(s.orgs) == 0 {
		return SeedRole{}, "", false
	}
	if r, ok := s.role(RoleOrgMember); ok {
		return r, s.orgs[0], true
	}
	for _, r := range s.roles {
		if r.Type == "org" {
			return r, s.orgs[0], true
		}
	}
	return SeedRole{}, "", false
}

// userWire encodes a user; detail adds the IdP role assignments.
func (s *Server) userWire(u *SeedUser, detail bool) userWire {
	w := userWire{UserID: u.ID, Email: u.Email, Name: u.Name, RoleAssignments: []roleAssignmentWire{}}
	role, org, ok := s.memberRole()
	if ok {
		w.RoleAssignments = append(w.RoleAssignments, roleAssignmentWire{Role: toRoleWire(role), OrgID: org})
	}
	if detail {
		for _, g := range u.IDPGroups {
			w.IDPRoleAssignments = append(w.IDPRoleAssignments, idpRoleAssignmentWire{IDPGroupName: g, Role: toRoleWire(role), OrgID: org})
		}
	}
	return w
}

// listUsers lists users, filtered by "email" (case-insensitive exact match) when given.
func (s *Server) listUsers(req *apiRequest) result {
	email := req.r.URL.Query().Get("email")
	var items []sequenced
	for i, id := range s.userOrder {
		u := s.users[id]
		if email == "" || strings.EqualFold(u.Email, email) {
			items = append(items, sequenced{int64(i + 1), s.userWire(u, false)})
		}
	}
	page, p := paginate(req.r, items)
	if p != nil {
		return fail(p)
	}
	return ok(page)
}

func (s *Server) getUser(req *apiRequest) result {
	u := s.users[req.r.PathValue("user_id")]
	if u == nil {
		return fail(notFound("user"))
	}
	return ok(s.userWire(u, true))
}

// getMemberV2 serves the older member record, whose errors are the older {"detail"} bodies.
func (s *Server) getMemberV2(req *apiRequest) result {
	u := s.users[req.r.PathValue("user_id")]
	if u == nil {
		return fail(&problem{status: http.StatusNotFound, detail: "Member not found", legacy: true})
	}
	w := memberV2Wire{UserID: u.ID, Email: u.Email, Name: u.Name}
	if u.SAMLID != "" {
		saml := u.SAMLID
		w.SAMLID = &saml
	}
	return ok(w)
}

func (s *Server) listRoles(req *apiRequest) result {
	items := make([]sequenced, len(s.roles))
	for i, r := range s.roles {
		items[i] = sequenced{int64(i + 1), toRoleWire(r)}
	}
	page, p := paginate(req.r, items)
	if p != nil {
		return fail(p)
	}
	return ok(page)
}

// self tells who the calling credential is.
func (s *Server) self(req *apiRequest) result {
	k := req.principal
	if k.kind == kindPAT {
		w := selfWire{PrincipalType: "pat_user", UserID: k.ownerID, APIKeyID: k.id}
		if len(s.orgs) > 0 {
			w.OrgID = s.orgs[0]
		}
		return ok(w)
	}
	w := selfWire{PrincipalType: "service_user", ServiceUserID: k.ownerID, APIKeyID: k.id}
	if su := s.sus[k.ownerID]; su != nil {
		w.OrgID = su.orgID
	}
	return ok(w)
}
