package devinapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// userWire is a user as the v3 API encodes it.
type userWire struct {
	UserID             string                  `json:"user_id"`
	Email              string                  `json:"email"`
	Name               string                  `json:"name"`
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
	u := User{ID: w.UserID, Email: w.Email, Name: w.Name, RoleAssignments: roleAssignments(w.RoleAssignments)}
	for _, a := range w.IDPRoleAssignments {
		u.IDPRoleAssignments = append(u.IDPRoleAssignments, IDPRoleAssignment{
			IDPGroupName: a.IDPGroupName, Role: a.Role.role(), OrgID: a.OrgID,
		})
	}
	return u
}

// GetUser returns a user with its IdP role assignments and, from the v2 member record, its
// SAML identity. When the v2 record cannot be read for want of permission or because it does
// not exist (401, 403, 404), SAMLID is left nil (unknown) instead of failing; any other
// failure fails the call. ErrNotFound when the user does not exist.
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
	u := w.user()
	var m memberV2Wire
	path = escapePath("/v2/enterprise/members/%s", id)
	err := c.do(ctx, request{op: op, method: http.MethodGet, path: path}, &m)
	switch {
	case err == nil:
		u.SAMLID = m.SAMLID
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrForbidden), errors.Is(err, ErrNotFound):
		// The v2 API may refuse a service user key: the SAML identity stays unknown.
	default:
		return nil, err
	}
	return &u, nil
}

// FindUserByEmail returns the user whose email equals email, ignoring case, completed as by
// GetUser; ErrNotFound when no user has it.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (*User, error) {
	const op = "FindUserByEmail"
	if strings.TrimSpace(email) == "" {
		return nil, fmt.Errorf("devinapi: %s: empty email: %w", op, ErrInvalid)
	}
	q := url.Values{"email": {email}}
	items, err := listAll[userWire](ctx, c, op, "/v3/enterprise/members/users", q)
	if err != nil {
		return nil, err
	}
	for _, w := range items {
		// The server's matching is not documented: check it here.
		if strings.EqualFold(w.Email, email) && w.UserID != "" {
			return c.getUser(ctx, op, w.UserID)
		}
	}
	return nil, fmt.Errorf("devinapi: %s: no user has this email: %w", op, ErrNotFound)
}
