package devinapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// apiKeyWire is a listed API key or PAT as the API encodes it.
type apiKeyWire struct {
	APIKeyID   string `json:"api_key_id"`
	APIKeyName string `json:"api_key_name"`
	CreatedAt  int64  `json:"created_at"`
	ExpiresAt  *int64 `json:"expires_at"`
	IsActive   bool   `json:"is_active"`
	LastUsedAt *int64 `json:"last_used_at"`
	RevokedAt  *int64 `json:"revoked_at"`
}

func (w apiKeyWire) apiKey() APIKey {
	return APIKey{
		ID:         w.APIKeyID,
		Name:       w.APIKeyName,
		CreatedAt:  time.Unix(w.CreatedAt, 0).UTC(),
		ExpiresAt:  unixTime(w.ExpiresAt),
		IsActive:   w.IsActive,
		LastUsedAt: unixTime(w.LastUsedAt),
		RevokedAt:  unixTime(w.RevokedAt),
	}
}

// createKeyWire is the body that creates an API key or a PAT.
type createKeyWire struct {
	Name      string `json:"name"`
	ExpiresAt *int64 `json:"expires_at,omitempty"`
}

// issuedKeyWire is the answer that carries a new key's value.
type issuedKeyWire struct {
	APIKeyID   string `json:"api_key_id"`
	APIKeyName string `json:"api_key_name"`
	ExpiresAt  *int64 `json:"expires_at"`
	Token      string `json:"token"`
}

type rotateKeyWire struct {
	NewKeyExpiresAt *int64 `json:"new_key_expires_at,omitempty"`
	RevokeCurrent   bool   `json:"revoke_current"`
}

// issueKey sends a request that issues a key and decodes the one-time answer. fallbackExpiry
// fills ExpiresAt when the answer omits it (the documented service user key answer does).
func (c *Client) issueKey(ctx context.Context, req request, fallbackExpiry *time.Time) (*IssuedKey, error) {
	var out issuedKeyWire
	if err := c.do(ctx, req, &out); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, fmt.Errorf("devinapi: %s: the answer carried no token", req.op)
	}
	key := &IssuedKey{ID: out.APIKeyID, Name: out.APIKeyName, ExpiresAt: unixTime(out.ExpiresAt), Token: NewToken(out.Token)}
	if key.ExpiresAt == nil && fallbackExpiry != nil {
		t := fallbackExpiry.Truncate(time.Second).UTC()
		key.ExpiresAt = &t
	}
	return key, nil
}

// listKeys lists API keys or PATs that match status. The status is always sent, since the
// API's own default is "all": an empty status asks for active keys. Neither "first" nor
// "after" is sent: the key list documents only "status".
func (c *Client) listKeys(ctx context.Context, op, path string, status KeyStatus) ([]APIKey, error) {
	if status == "" {
		status = KeyStatusActive
	}
	items, err := listOnePage[apiKeyWire](ctx, c, op, path, url.Values{"status": {string(status)}})
	if err != nil {
		return nil, err
	}
	out := make([]APIKey, len(items))
	for i, w := range items {
		out[i] = w.apiKey()
	}
	return out, nil
}

// serviceUserKeysPath is the path of a service user's API keys, or of one of them.
func serviceUserKeysPath(serviceUserID string, keyID ...string) string {
	p := escapePath("/v3beta1/enterprise/service-users/%s/api-keys", serviceUserID)
	for _, k := range keyID {
		p += escapePath("/%s", k)
	}
	return p
}

// CreateServiceUserAPIKey issues a new API key for a service user and returns it with its
// value, shown only this once. A create that fails with ErrRetryable may have happened: list
// the keys by name before creating another.
func (c *Client) CreateServiceUserAPIKey(ctx context.Context, serviceUserID string, req CreateKeyRequest) (*IssuedKey, error) {
	const op = "CreateServiceUserAPIKey"
	if err := checkID(op, "service user", serviceUserID); err != nil {
		return nil, err
	}
	body := createKeyWire{Name: req.Name, ExpiresAt: unixSeconds(req.ExpiresAt)}
	return c.issueKey(ctx, request{op: op, method: http.MethodPost, path: serviceUserKeysPath(serviceUserID), body: body}, req.ExpiresAt)
}

// ListServiceUserAPIKeys returns the API keys of a service user that match status (empty
// means active, not the API's default "all"). The list has no documented cursor: an answer
// that says more keys exist fails the call. Values are never returned.
func (c *Client) ListServiceUserAPIKeys(ctx context.Context, serviceUserID string, status KeyStatus) ([]APIKey, error) {
	const op = "ListServiceUserAPIKeys"
	if err := checkID(op, "service user", serviceUserID); err != nil {
		return nil, err
	}
	return c.listKeys(ctx, op, serviceUserKeysPath(serviceUserID), status)
}

// RevokeServiceUserAPIKey revokes an API key. An unknown key answers ErrNotFound and an
// already revoked one ErrConflict; IsGone matches both.
func (c *Client) RevokeServiceUserAPIKey(ctx context.Context, serviceUserID, keyID string) error {
	const op = "RevokeServiceUserAPIKey"
	if err := checkID(op, "service user", serviceUserID); err != nil {
		return err
	}
	if err := checkID(op, "API key", keyID); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: serviceUserKeysPath(serviceUserID, keyID)}, nil)
}

// RotateServiceUserAPIKey issues a replacement for an active API key, revoking the current one
// when req.RevokeCurrent is set, and returns the new key with its value, shown only this once.
// A key that is not active answers ErrInvalid.
func (c *Client) RotateServiceUserAPIKey(ctx context.Context, serviceUserID, keyID string, req RotateKeyRequest) (*IssuedKey, error) {
	const op = "RotateServiceUserAPIKey"
	if err := checkID(op, "service user", serviceUserID); err != nil {
		return nil, err
	}
	if err := checkID(op, "API key", keyID); err != nil {
		return nil, err
	}
	body := rotateKeyWire{NewKeyExpiresAt: unixSeconds(req.NewKeyExpiresAt), RevokeCurrent: req.RevokeCurrent}
	path := serviceUserKeysPath(serviceUserID, keyID) + "/rotate"
	return c.issueKey(ctx, request{op: op, method: http.MethodPost, path: path, body: body}, req.NewKeyExpiresAt)
}
