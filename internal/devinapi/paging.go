package devinapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// page is one page of a listing, in the envelope every list operation of the contract uses
// (PaginatedX: items, end_cursor string|null, has_next_page).
type page[T any] struct {
	Items       []T    `json:"items"`
	EndCursor   string `json:"end_cursor"`
	HasNextPage bool   `json:"has_next_page"`
}

// listAll follows the cursor of a listing until its last page and returns every item. Use it
// only for operations that document the "first" and "after" query parameters.
func listAll[T any](ctx context.Context, c *Client, op, path string, query url.Values) ([]T, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("first", strconv.Itoa(pageSize))
	seen := map[string]bool{}
	var all []T
	for {
		var p page[T]
		if err := c.do(ctx, request{op: op, method: http.MethodGet, path: path, query: q}, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if !p.HasNextPage {
			return all, nil
		}
		if p.EndCursor == "" || seen[p.EndCursor] {
			return nil, fmt.Errorf("devinapi: %s: pagination cursor did not advance", op)
		}
		seen[p.EndCursor] = true
		q.Set("after", p.EndCursor)
	}
}

// listOnePage fetches a listing whose operation documents no cursor (no "first", no "after":
// the service-user API key list). The answer still comes in the paginated envelope; one that
// says more items exist cannot be followed, so it fails rather than return a partial list on
// which a caller would decide that a key does not exist.
func listOnePage[T any](ctx context.Context, c *Client, op, path string, query url.Values) ([]T, error) {
	var p page[T]
	if err := c.do(ctx, request{op: op, method: http.MethodGet, path: path, query: query}, &p); err != nil {
		return nil, err
	}
	if p.HasNextPage {
		return nil, fmt.Errorf("devinapi: %s: the answer says more items exist, and the API documents no cursor for this list", op)
	}
	return p.Items, nil
}
