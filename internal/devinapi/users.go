package devinapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// userWire is a user as the v3 API encodes it: User (direct role assignments, in the users
// list), UserWithIdpRoles (GET of one user) and IdpGroupUser (the IdP-users list) share it.
type userWire struct {
	UserID             string                  `json:"user_id"`
	Email              *string                 `json:"email"`
	Name               *string                 `json:"name"`
	RoleAssignments    []roleAssignmentWire    `json:"role_assignments"`
	IDPRoleAssignments []idpRoleAssignmentWire `json:"idp_role_assignments"`
}

type idpRoleAssignmentWire struct {
	IDPGroupName string   `json:"idp_group_name"`
	Role         roleWire `json:"role"`
	OrgID        string   `json:"org_id,omitempty"`
}

// memberV2Wire is the part of the older v2 member record the client reads.
type memberV2Wire struct {
	SAMLID *string `json:"saml_id"`
}

func (w userWire) user() User {
	u := User{ID: w.UserID, Email: deref(w.Email), Name: deref(w.Name), RoleAssignments: roleAssignments(w.RoleAssignments)}
	for _, a := range w.IDPRoleAssignments {
		u.IDPRoleAssignments = append(u.IDPRoleAssignments, IDPRoleAssignment{
			IDPGroupName: a.IDPGroupName, Role: a.Role.role(), OrgID: a.OrgID,
		})
	}
	return u
}

// GetUser returns a user, a direct member or an IdP-only one, with its direct and IdP-derived
// role assignments. Only when the client has an enterprise admin's personal key
// (Options.EnterpriseAdminKey) does it also read the v2 member record for the SAML identity;
// when that record cannot be read for want of permission or because it does not exist (401,
// 403, 404), SAMLID is left nil (unknown) instead of failing; any other failure fails the
// call. ErrNotFound when the user does not exist.
func (c *Client) GetUser(ctx context.Context, id string) (*User, error) {
	const op = "GetUser"
	if err := checkID(op, "user", id); err != nil {
		return nil, err
	}
	return c.getUser(ctx, op, id)
}

func (c *Client) getUser(ctx context.Context, op, id string) (*User, error) {
	var w userWire
	path := escapePath("/v3/enterprise/members/users/%s", id)
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: path}, &w); err != nil {
		return nil, err
	}
	return c.complete(ctx, op, w)
}

// complete turns w into a User and adds its SAML identity when the client can read it.
func (c *Client) complete(ctx context.Context, op string, w userWire) (*User, error) {
	u := w.user()
	if err := c.addSAMLID(ctx, op, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// addSAMLID reads the SAML identity of u from the v2 member record, when an enterprise
// admin's personal key is configured; the v2 API refuses every other credential, so without
// one no request is sent.
func (c *Client) addSAMLID(ctx context.Context, op string, u *User) error {
	if c.adminKey == nil {
		return nil
	}
	tok, err := c.adminKey.Token(ctx)
	if err != nil {
		return fmt.Errorf("devinapi: %s: get the enterprise admin key: %w", op, err)
	}
	if tok.IsZero() {
		return nil
	}
	var m memberV2Wire
	path := escapePath("/v2/enterprise/members/%s", u.ID)
	req := request{op: op, method: http.MethodGet, path: path, token: &tok, permission: PermEnterpriseAdminKey}
	err = c.do(ctx, req, &m)
	switch {
	case err == nil:
		u.SAMLID = m.SAMLID
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden), errors.Is(err, ErrNotFound):
		// A refused or stale admin key: the SAML identity stays unknown.
	default:
		return err
	}
	return nil
}

// FindUserByEmail returns the user whose email equals email, ignoring case, completed as by
// GetUser. It looks among the members with direct role assignments first, then among the
// IdP-only members, whom the first list does not contain (an IdP-only member is SSO-linked by
// its IdP role assignments). ErrNotFound when no member has the email.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (*User, error) {
	const op = "FindUserByEmail"
	if strings.TrimSpace(email) == "" {
		return nil, fmt.Errorf("devinapi: %s: empty email: %w", op, ErrInvalid)
	}
	q := url.Values{"email": {email}}
	direct, err := listAll[userWire](ctx, c, op, "/v3/enterprise/members/users", q)
	if err != nil {
		return nil, err
	}
	if w, ok := withEmail(direct, email); ok {
		// The list has direct role assignments only: get the IdP-derived ones too.
		return c.getUser(ctx, op, w.UserID)
	}
	idp, err := listAll[userWire](ctx, c, op, "/v3/enterprise/members/idp-users", q)
	if err != nil {
		return nil, err
	}
	if w, ok := withEmail(idp, email); ok {
		// An IdP-only member's list entry already has all its role assignments.
		return c.complete(ctx, op, w)
	}
	return nil, fmt.Errorf("devinapi: %s: no user has this email: %w", op, ErrNotFound)
}

// withEmail finds the user with email, ignoring case: the server's matching is not documented.
func withEmail(users []userWire, email string) (userWire, bool) {
	for _, w := range users {
		if SameEmail(deref(w.Email), email) && w.UserID != "" {
			return w, true
		}
	}
	return userWire{}, false
}
