package credential

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// ListingCache shares upstream token listings between the resources of one owner (the
// personal access tokens of one user), so that a periodic check of N resources costs one
// list call per owner, not N. Entries live for TTL; a change made through the operator
// invalidates its owner's entry. Concurrent fetches for one owner are collapsed.
type ListingCache struct {
	TTL   time.Duration
	Clock clock.PassiveClock

	mu      sync.Mutex
	entries map[string]Listing
	group   singleflight.Group
}

// Get returns the owner's listing, fetching it when it is missing, older than TTL, or when
// fresh is true.
func (c *ListingCache) Get(ctx context.Context, owner string, fresh bool, fetch func(context.Context) ([]devinapi.APIKey, error)) (Listing, error) {
	if !fresh {
		c.mu.Lock()
		e, ok := c.entries[owner]
		c.mu.Unlock()
		if ok && c.Clock.Since(e.At) < c.TTL {
			return e, nil
		}
	}
	do := func() (any, error) {
		at := c.Clock.Now()
		keys, err := fetch(ctx)
		if err != nil {
			return Listing{}, err
		}
		l := Listing{Keys: keys, At: at}
		c.mu.Lock()
		if c.entries == nil {
			c.entries = map[string]Listing{}
		}
		c.entries[owner] = l
		c.mu.Unlock()
		return l, nil
	}
	var v any
	var err error
	if fresh {
		// A fresh read must start after the caller asked: do not join a read in flight.
		v, err = do()
	} else {
		v, err, _ = c.group.Do(owner, do)
	}
	if err != nil {
		return Listing{}, err
	}
	return v.(Listing), nil
}

// Invalidate drops the owner's listing after a change made through the operator.
func (c *ListingCache) Invalidate(owner string) {
	c.mu.Lock()
	delete(c.entries, owner)
	c.mu.Unlock()
}
