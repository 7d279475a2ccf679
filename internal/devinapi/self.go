package devinapi

import (
	"context"
	"fmt"
	"net/http"
)

// Principal kinds reported by Self (the principal_type of GET /v3/self).
const (
	PrincipalServiceUser     = "service_user"
	PrincipalPATUser         = "pat_user"
	PrincipalDevinBrain      = "devin_brain"
	PrincipalWindsurfSession = "windsurf_session"
)

// selfWire is the answer of GET /v3/self: a union discriminated by principal_type. Every
// member is optional here; self() reads those of the answer's type only.
type selfWire struct {
	PrincipalType   string  `json:"principal_type"`
	ServiceUserID   string  `json:"service_user_id"`
	ServiceUserName string  `json:"service_user_name"`
	APIKeyID        string  `json:"api_key_id"`
	APIKeyName      string  `json:"api_key_name"`
	UserID          string  `json:"user_id"`
	UserName        *string `json:"user_name"`
	OrgID           *string `json:"org_id"`
}

// self decodes the answer by principal type, failing when a member the type requires is
// missing. Members that the type does not have are ignored, even when present.
func (w selfWire) self(op string) (*Self, error) {
	s := &Self{Kind: w.PrincipalType, OrgID: deref(w.OrgID)}
	var missing string
	switch w.PrincipalType {
	case PrincipalServiceUser:
		s.ServiceUserID, s.ServiceUserName = w.ServiceUserID, w.ServiceUserName
		if w.ServiceUserID == "" {
			missing = "service_user_id"
		}
	case PrincipalPATUser:
		s.APIKeyID, s.APIKeyName, s.UserID, s.UserName = w.APIKeyID, w.APIKeyName, w.UserID, deref(w.UserName)
		switch {
		case w.APIKeyID == "":
			missing = "api_key_id"
		case w.UserID == "":
			missing = "user_id"
		}
	case "":
		missing = "principal_type"
	default:
		// devin_brain, windsurf_session, and kinds published later: who they act for.
		s.UserID, s.UserName = w.UserID, deref(w.UserName)
	}
	if missing != "" {
		return nil, fmt.Errorf("devinapi: %s: the answer for principal type %q lacks %s", op, w.PrincipalType, missing)
	}
	return s, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Self tells who the operator's own credential is, and so whether it is a service user (as
// it should be) or a PAT. ErrUnauthorized when the credential is refused; a 403 names the
// permission in APIError.Permission.
func (c *Client) Self(ctx context.Context) (*Self, error) {
	return c.self(ctx, request{op: "Self", method: http.MethodGet, path: "/v3/self"})
}

// SelfWithToken tells who token is, authenticating with token instead of the operator's
// credential: ErrUnauthorized means the token is not live (unknown, revoked or expired). For a
// service user key the answer names the service user but not the key.
func (c *Client) SelfWithToken(ctx context.Context, token Token) (*Self, error) {
	return c.self(ctx, request{op: "SelfWithToken", method: http.MethodGet, path: "/v3/self", token: &token})
}

func (c *Client) self(ctx context.Context, req request) (*Self, error) {
	var w selfWire
	if err := c.do(ctx, req, &w); err != nil {
		return nil, err
	}
	return w.self(req.op)
}
