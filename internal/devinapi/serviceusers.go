package devinapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// serviceUserWire is a service user as the API encodes it.
type serviceUserWire struct {
	ServiceUserID   string               `json:"service_user_id"`
	Name            string               `json:"name"`
	ExpiresAt       *int64               `json:"expires_at"`
	RoleAssignments []roleAssignmentWire `json:"role_assignments"`
	// IsActive is absent from the provisioning answer; absent means active.
	IsActive *bool `json:"is_active"`
}

func (w serviceUserWire) serviceUser() ServiceUser {
	return ServiceUser{
		ID:              w.ServiceUserID,
		Name:            w.Name,
		ExpiresAt:       unixTime(w.ExpiresAt),
		RoleAssignments: roleAssignments(w.RoleAssignments),
		IsActive:        w.IsActive == nil || *w.IsActive,
	}
}

type provisionWire struct {
	Name   string `json:"name"`
	RoleID string `json:"role_id"`
	// TTLSeconds is required by the API; there is no default.
	TTLSeconds int64 `json:"ttl_seconds"`
}

// MaxServiceUserTTL is the longest life the API gives a service user: one year
// (ttl_seconds <= 31536000).
const MaxServiceUserTTL = 31536000 * time.Second

type provisionAnswerWire struct {
	ServiceUser serviceUserWire `json:"service_user"`
	Token       string          `json:"token"`
}

type roleUpdateWire struct {
	RoleID string `json:"role_id"`
}

// serviceUserPath is the v3 path of one service user.
func serviceUserPath(id string) string {
	return escapePath("/v3/enterprise/members/service-users/%s", id)
}

// ProvisionServiceUser creates a service user in req.Scope with req.RoleID and returns it with
// its first API key, whose value is shown only this once. req.TTL is required, from one
// second to MaxServiceUserTTL, and sent in whole seconds; outside that range nothing is sent
// and the error matches ErrInvalid. A create that fails with ErrRetryable may have happened:
// look for the service user by name before creating it again.
func (c *Client) ProvisionServiceUser(ctx context.Context, req ProvisionServiceUserRequest) (*ProvisionedServiceUser, error) {
	const op = "ProvisionServiceUser"
	var path string
	switch req.Scope {
	case ScopeOrganization:
		if err := checkID(op, "organization", req.OrgID); err != nil {
			return nil, err
		}
		path = escapePath("/v3beta1/organizations/%s/service-users", req.OrgID)
	case ScopeEnterprise:
		path = "/v3beta1/enterprise/service-users"
	default:
		return nil, fmt.Errorf("devinapi: %s: unknown scope %q: %w", op, req.Scope, ErrInvalid)
	}
	secs := int64(req.TTL / time.Second)
	if secs < 1 || req.TTL > MaxServiceUserTTL {
		return nil, fmt.Errorf("devinapi: %s: TTL %v is not from 1s to %v (the API requires one): %w", op, req.TTL, MaxServiceUserTTL, ErrInvalid)
	}
	body := provisionWire{Name: req.Name, RoleID: req.RoleID, TTLSeconds: secs}
	var out provisionAnswerWire
	if err := c.do(ctx, request{op: op, method: http.MethodPost, path: path, body: body, scope: req.Scope}, &out); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, fmt.Errorf("devinapi: %s: the answer carried no token", op)
	}
	return &ProvisionedServiceUser{ServiceUser: out.ServiceUser.serviceUser(), Token: NewToken(out.Token)}, nil
}

// GetServiceUser returns the service user with id, active or not; ErrNotFound when it does not
// exist or was deleted.
func (c *Client) GetServiceUser(ctx context.Context, id string) (*ServiceUser, error) {
	const op = "GetServiceUser"
	if err := checkID(op, "service user", id); err != nil {
		return nil, err
	}
	var out serviceUserWire
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: serviceUserPath(id)}, &out); err != nil {
		return nil, err
	}
	su := out.serviceUser()
	return &su, nil
}

// ListServiceUsers returns every service user of the enterprise, following all pages;
// inactive ones (expired or deleted) only when includeInactive is true.
func (c *Client) ListServiceUsers(ctx context.Context, includeInactive bool) ([]ServiceUser, error) {
	q := url.Values{"include_inactive": {strconv.FormatBool(includeInactive)}}
	items, err := listAll[serviceUserWire](ctx, c, "ListServiceUsers", "/v3/enterprise/members/service-users", q)
	if err != nil {
		return nil, err
	}
	out := make([]ServiceUser, len(items))
	for i, w := range items {
		out[i] = w.serviceUser()
	}
	return out, nil
}

// UpdateServiceUserRole replaces the role of a service user and returns it as updated. With
// ScopeOrganization the role is an organization role within orgID; with ScopeEnterprise it is
// an account-level role and orgID is ignored.
func (c *Client) UpdateServiceUserRole(ctx context.Context, scope Scope, orgID, serviceUserID, roleID string) (*ServiceUser, error) {
	const op = "UpdateServiceUserRole"
	if err := checkID(op, "service user", serviceUserID); err != nil {
		return nil, err
	}
	var path string
	switch scope {
	case ScopeOrganization:
		if err := checkID(op, "organization", orgID); err != nil {
			return nil, err
		}
		path = escapePath("/v3/enterprise/organizations/%s/members/service-users/%s", orgID, serviceUserID)
	case ScopeEnterprise:
		path = serviceUserPath(serviceUserID)
	default:
		return nil, fmt.Errorf("devinapi: %s: unknown scope %q: %w", op, scope, ErrInvalid)
	}
	var out serviceUserWire
	req := request{op: op, method: http.MethodPatch, path: path, body: roleUpdateWire{RoleID: roleID}}
	if err := c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	su := out.serviceUser()
	return &su, nil
}

// DeleteServiceUser deletes a service user, which revokes all its API keys. A service user
// that is already gone answers ErrNotFound (see IsGone).
func (c *Client) DeleteServiceUser(ctx context.Context, id string) error {
	const op = "DeleteServiceUser"
	if err := checkID(op, "service user", id); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: serviceUserPath(id)}, nil)
}
