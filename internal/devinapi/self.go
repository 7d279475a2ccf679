package devinapi

import (
	"context"
	"net/http"
)

// Principal kinds reported by Self.
const (
	PrincipalServiceUser = "service_user"
	PrincipalPATUser     = "pat_user"
)

// selfWire is the answer of GET /v3/self.
type selfWire struct {
	PrincipalType string `json:"principal_type"`
	ServiceUserID string `json:"service_user_id,omitempty"`
	UserID        string `json:"user_id,omitempty"`
	APIKeyID      string `json:"api_key_id"`
	OrgID         string `json:"org_id,omitempty"`
}

func (w selfWire) self() *Self {
	return &Self{Kind: w.PrincipalType, ServiceUserID: w.ServiceUserID, UserID: w.UserID, APIKeyID: w.APIKeyID, OrgID: w.OrgID}
}

// Self tells who the operator's own credential is. ErrUnauthorized when it is refused.
func (c *Client) Self(ctx context.Context) (*Self, error) {
	return c.self(ctx, request{op: "Self", method: http.MethodGet, path: "/v3/self"})
}

// SelfWithToken tells who token is, authenticating with token instead of the operator's
// credential: ErrUnauthorized means the token is not live (unknown, revoked or expired).
func (c *Client) SelfWithToken(ctx context.Context, token Token) (*Self, error) {
	return c.self(ctx, request{op: "SelfWithToken", method: http.MethodGet, path: "/v3/self", token: &token})
}

func (c *Client) self(ctx context.Context, req request) (*Self, error) {
	var w selfWire
	if err := c.do(ctx, req, &w); err != nil {
		return nil, err
	}
	return w.self(), nil
}
