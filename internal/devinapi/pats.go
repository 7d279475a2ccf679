package devinapi

import (
	"context"
	"net/http"
)

// patPath is the path of a user's personal access tokens, or of one of them.
//
// ASSUMED: the vendor has not published the PAT API yet. These paths (and the answers, taken
// to mirror the service user API key endpoints) are the operator's assumption; this function
// is the only place that knows them, so change it when the real paths are published.
func patPath(userID string, keyID ...string) string {
	p := escapePath("/v3beta1/enterprise/members/users/%s/personal-access-tokens", userID)
	for _, k := range keyID {
		p += escapePath("/%s", k)
	}
	return p
}

// CreatePAT issues a personal access token for a user and returns it with its value, shown
// only this once. Expect ErrNotFound for an unknown user, ErrSSOAccount for an account linked
// to enterprise SSO and ErrFeatureNotEnabled when the account lacks the PAT beta. A create
// that fails with ErrRetryable may have happened: list the PATs by name before creating
// another.
func (c *Client) CreatePAT(ctx context.Context, userID string, req CreateKeyRequest) (*IssuedKey, error) {
	const op = "CreatePAT"
	if err := checkID(op, "user", userID); err != nil {
		return nil, err
	}
	body := createKeyWire{Name: req.Name, ExpiresAt: unixSeconds(req.ExpiresAt)}
	return c.issueKey(ctx, request{op: op, method: http.MethodPost, path: patPath(userID), body: body}, req.ExpiresAt)
}

// ListPATs returns the personal access tokens of a user that match status (empty means
// active), following all pages. Values are never returned.
func (c *Client) ListPATs(ctx context.Context, userID string, status KeyStatus) ([]APIKey, error) {
	const op = "ListPATs"
	if err := checkID(op, "user", userID); err != nil {
		return nil, err
	}
	return c.listKeys(ctx, op, patPath(userID), status)
}

// RevokePAT revokes a personal access token. An unknown token answers ErrNotFound and an
// already revoked one ErrConflict; IsGone matches both.
func (c *Client) RevokePAT(ctx context.Context, userID, keyID string) error {
	const op = "RevokePAT"
	if err := checkID(op, "user", userID); err != nil {
		return err
	}
	if err := checkID(op, "personal access token", keyID); err != nil {
		return err
	}
	return c.do(ctx, request{op: op, method: http.MethodDelete, path: patPath(userID, keyID)}, nil)
}
