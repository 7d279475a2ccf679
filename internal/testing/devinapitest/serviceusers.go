package devinapitest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// maxTTLSeconds is the longest life of a service user: one year.
const maxTTLSeconds = 31536000

type roleWire struct {
	RoleID   string `json:"role_id"`
	RoleName string `json:"role_name"`
	RoleType string `json:"role_type"`
}

type roleAssignmentWire struct {
	Role  roleWire `json:"role"`
	OrgID string   `json:"org_id,omitempty"`
}

type serviceUserWire struct {
	ServiceUserID   string               `json:"service_user_id"`
	Name            string               `json:"name"`
	ExpiresAt       *int64               `json:"expires_at"`
	RoleAssignments []roleAssignmentWire `json:"role_assignments"`
	IsActive        *bool                `json:"is_active,omitempty"`
}

func (w serviceUserWire) roleAssignments() []devinapi.RoleAssignment {
	var out []devinapi.RoleAssignment
	for _, ra := range w.RoleAssignments {
		out = append(out, devinapi.RoleAssignment{
			Role:  devinapi.Role{ID: ra.Role.RoleID, Name: ra.Role.RoleName, Type: ra.Role.RoleType},
			OrgID: ra.OrgID,
		})
	}
	return out
}

func toRoleWire(r SeedRole) roleWire {
	return roleWire{RoleID: r.ID, RoleName: r.Name, RoleType: r.Type}
}

// serviceUserWire encodes a service user; withActive adds "is_active", which the
// provisioning answer does not have.
func (e *Enterprise) serviceUserWire(su *serviceUserRec, now time.Time, withActive bool) serviceUserWire {
	w := serviceUserWire{ServiceUserID: su.id, Name: su.name, ExpiresAt: unixPtr(su.expiresAt),
		RoleAssignments: []roleAssignmentWire{}}
	if role, ok := e.role(su.roleID); ok {
		w.RoleAssignments = append(w.RoleAssignments, roleAssignmentWire{Role: toRoleWire(role), OrgID: su.orgID})
	}
	if withActive {
		active := su.active(now)
		w.IsActive = &active
	}
	return w
}

// serviceUser finds a service user that is not deleted.
func (e *Enterprise) serviceUser(id string) (*serviceUserRec, *problem) {
	su := e.sus[id]
	if su == nil || su.deleted {
		return nil, notFound("service user")
	}
	return su, nil
}

type provisionBody struct {
	Name       *string `json:"name"`
	RoleID     *string `json:"role_id"`
	TTLSeconds *int64  `json:"ttl_seconds"`
}

type provisionAnswer struct {
	ServiceUser serviceUserWire `json:"service_user"`
	Token       string          `json:"token"`
}

func (e *Enterprise) provisionOrg(req *apiRequest) result {
	return e.provision(req, req.r.PathValue("org_id"))
}

func (e *Enterprise) provisionEnterprise(req *apiRequest) result { return e.provision(req, "") }

// provision creates a service user (orgID empty: enterprise scope) and its first API key,
// "initial".
func (e *Enterprise) provision(req *apiRequest, orgID string) result {
	if orgID != "" && !e.hasOrg(orgID) {
		return fail(notFound("organization"))
	}
	var body provisionBody
	if p := decodeBody(req.body, &body); p != nil {
		return fail(p)
	}
	errs := checkName("name", body.Name)
	role, roleErrs := e.checkRole(body.RoleID, orgID != "")
	errs = append(errs, roleErrs...)
	var ttl int64
	switch {
	case body.TTLSeconds == nil:
		// Required, without a default (also enforced by the contract layer).
		errs = append(errs, fieldError{Loc: []any{"body", "ttl_seconds"}, Msg: "field required", Type: "missing"})
	case *body.TTLSeconds < 1 || *body.TTLSeconds > maxTTLSeconds:
		errs = append(errs, bodyError("ttl_seconds", fmt.Sprintf("must be from 1 to %d", maxTTLSeconds)))
	default:
		ttl = *body.TTLSeconds
	}
	if len(errs) > 0 {
		return fail(invalid(errs...))
	}
	exp := req.now.Add(time.Duration(ttl) * time.Second)
	su := &serviceUserRec{id: newID(e.prefix + "su-"), name: *body.Name, createdAt: req.now, expiresAt: &exp,
		roleID: role.ID, orgID: orgID, seq: e.nextSeq()}
	e.sus[su.id] = su
	e.suOrder = append(e.suOrder, su.id)
	key, tok := e.issueKeyLocked(kindAPIKey, su.id, "initial", nil)
	return result{
		status: http.StatusOK,
		body:   provisionAnswer{ServiceUser: e.serviceUserWire(su, req.now, false), Token: tok},
		event:  &Event{TokenID: key.id, OwnerID: su.id},
	}
}

// checkRole validates a role_id: it must exist and be an organization role (org scope) or
// an account-level role (enterprise scope).
func (e *Enterprise) checkRole(roleID *string, orgScope bool) (SeedRole, []fieldError) {
	want := "enterprise"
	if orgScope {
		want = "org"
	}
	if roleID == nil {
		return SeedRole{}, []fieldError{bodyError("role_id", "field required")}
	}
	role, found := e.role(*roleID)
	switch {
	case !found:
		return SeedRole{}, []fieldError{bodyError("role_id", "unknown role")}
	case role.Type != want:
		return SeedRole{}, []fieldError{bodyError("role_id", "the role must be of type "+want+" for this scope")}
	}
	return role, nil
}

func (e *Enterprise) listServiceUsers(req *apiRequest) result {
	includeInactive := false
	if v := req.r.URL.Query().Get("include_inactive"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fail(invalid(queryError("include_inactive", "must be true or false")))
		}
		includeInactive = b
	}
	var items []sequenced
	for _, id := range e.suOrder {
		su := e.sus[id]
		if includeInactive || su.active(req.now) {
			items = append(items, sequenced{su.seq, e.serviceUserWire(su, req.now, true)})
		}
	}
	page, p := paginate(req.r, items)
	if p != nil {
		return fail(p)
	}
	return ok(page)
}

func (e *Enterprise) getServiceUser(req *apiRequest) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	return ok(e.serviceUserWire(su, req.now, true))
}

func (e *Enterprise) deleteServiceUser(req *apiRequest) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	e.deleteServiceUserLocked(su)
	// The API answers the removed service user.
	return result{status: http.StatusOK, body: e.serviceUserWire(su, req.now, true), event: &Event{OwnerID: su.id}}
}

func (e *Enterprise) updateRoleEnterprise(req *apiRequest) result { return e.updateRole(req, "") }

func (e *Enterprise) updateRoleOrg(req *apiRequest) result {
	return e.updateRole(req, req.r.PathValue("org_id"))
}

// updateRole replaces the role of a service user (orgID empty: an account-level role).
func (e *Enterprise) updateRole(req *apiRequest, orgID string) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	if orgID != "" && !e.hasOrg(orgID) {
		return fail(notFound("organization"))
	}
	var body struct {
		RoleID *string `json:"role_id"`
	}
	if p := decodeBody(req.body, &body); p != nil {
		return fail(p)
	}
	role, errs := e.checkRole(body.RoleID, orgID != "")
	if len(errs) > 0 {
		return fail(invalid(errs...))
	}
	su.roleID, su.orgID = role.ID, orgID
	return result{status: http.StatusOK, body: e.serviceUserWire(su, req.now, true), event: &Event{OwnerID: su.id}}
}
