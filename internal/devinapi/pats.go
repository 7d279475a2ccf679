package devinapi

import (
	"context"
	"errors"
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

// unpublished marks err as ErrPATAPIUnavailable when it is the answer of a server without
// the PAT route: FastAPI's default body for an unknown route ({"detail": "Not Found"}, or
// "Method Not Allowed" when the path exists for other methods), not a problem document. A
// problem document (e.g. an unknown user) keeps its class.
func unpublished(err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Type == "" && apiErr.Title == "" &&
		((apiErr.Status == http.StatusNotFound && apiErr.Detail == "Not Found") ||
			(apiErr.Status == http.StatusMethodNotAllowed && apiErr.Detail == "Method Not Allowed")) {
		apiErr.RouteMissing = true
	}
	return err
}

// CreatePAT issues a personal access token for a user and returns it with its value, shown
// only this once. Expect ErrNotFound for an unknown user, ErrSSOAccount for an account linked
// to enterprise SSO, ErrFeatureNotEnabled when the account lacks the PAT beta, and
// ErrPATAPIUnavailable when the API has no PAT endpoint at all (the case today: retrying does
// not help). A create that fails with ErrRetryable may have happened: list the PATs by name
// before creating another.
func (c *Client) CreatePAT(ctx context.Context, userID string, req CreateKeyRequest) (*IssuedKey, error) {
	const op = "CreatePAT"
	if err := checkID(op, "user", userID); err != nil {
		return nil, err
	}
	body := createKeyWire{Name: req.Name, ExpiresAt: unixSeconds(req.ExpiresAt)}
	key, err := c.issueKey(ctx, request{op: op, method: http.MethodPost, path: patPath(userID), body: body}, req.ExpiresAt)
	return key, unpublished(err)
}

// ListPATs returns the personal access tokens of a user that match status (empty means
// active), like ListServiceUserAPIKeys, whose endpoint the assumed one mirrors. Values are
// never returned. ErrPATAPIUnavailable when the API has no PAT endpoint.
func (c *Client) ListPATs(ctx context.Context, userID string, status KeyStatus) ([]APIKey, error) {
	const op = "ListPATs"
	if err := checkID(op, "user", userID); err != nil {
		return nil, err
	}
	keys, err := c.listKeys(ctx, op, patPath(userID), status)
	return keys, unpublished(err)
}

// RevokePAT revokes a personal access token. An unknown token answers ErrNotFound and an
// already revoked one ErrConflict; IsGone matches both. ErrPATAPIUnavailable (which IsGone
// does not match) when the API has no PAT endpoint.
func (c *Client) RevokePAT(ctx context.Context, userID, keyID string) error {
	const op = "RevokePAT"
	if err := checkID(op, "user", userID); err != nil {
		return err
	}
	if err := checkID(op, "personal access token", keyID); err != nil {
		return err
	}
	return unpublished(c.do(ctx, request{op: op, method: http.MethodDelete, path: patPath(userID, keyID)}, nil))
}
