// Package ttlcache is a small, bounded, time-limited cache of upstream lookups (users,
// roles), so that repeated reconciles and admission requests do not call the Devin API
// each time.
package ttlcache

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"k8s.io/utils/clock"
)

// Cache maps keys to values for TTL. It holds at most Max entries (expired ones are swept
// first, then the oldest goes). It is safe for concurrent use. Errors are not cached.
type Cache[V any] struct {
	ttl   time.Duration
	max   int
	clock clock.PassiveClock

	mu    sync.Mutex
	items map[string]entry[V]
	group singleflight.Group
}

type entry[V any] struct {
	value V
	at    time.Time
}

// New returns a cache whose entries live for ttl, holding at most max entries.
func New[V any](ttl time.Duration, max int, clk clock.PassiveClock) *Cache[V] {
	if clk == nil {
		clk = clock.RealClock{}
	}
	if max <= 0 {
		max = 1024
	}
	return &Cache[V]{ttl: ttl, max: max, clock: clk, items: map[string]entry[V]{}}
}

// Empty returns a new, empty cache with the same ttl, bound and clock.
func (c *Cache[V]) Empty() *Cache[V] { return New[V](c.ttl, c.max, c.clock) }

// Get returns the value for key if it is present and fresh.
func (c *Cache[V]) Get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok || c.clock.Since(e.at) >= c.ttl {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Set stores a value.
func (c *Cache[V]) Set(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	if _, ok := c.items[key]; !ok && len(c.items) >= c.max {
		c.evictLocked(now)
	}
	c.items[key] = entry[V]{value: v, at: now}
}

// Delete drops a key.
func (c *Cache[V]) Delete(key string) {
	c.mu.Lock()
	delete(c.items, key)
	c.mu.Unlock()
}

// Len is the number of entries, fresh or not.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// GetOrFetch returns the cached value, or fetches, stores and returns it. Concurrent
// fetches of one key are collapsed into one.
func (c *Cache[V]) GetOrFetch(ctx context.Context, key string, fetch func(context.Context) (V, error)) (V, error) {
	if v, ok := c.Get(key); ok {
		return v, nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		// A fetch that finished between the Get above and here has filled the cache.
		if v, ok := c.Get(key); ok {
			return v, nil
		}
		v, err := fetch(ctx)
		if err != nil {
			return v, err
		}
		c.Set(key, v)
		return v, nil
	})
	if err != nil {
		var zero V
		return zero, err
	}
	return v.(V), nil
}

func (c *Cache[V]) evictLocked(now time.Time) {
	var oldestKey string
	var oldest time.Time
	for k, e := range c.items {
		if now.Sub(e.at) >= c.ttl {
			delete(c.items, k)
			continue
		}
		if oldestKey == "" || e.at.Before(oldest) {
			oldestKey, oldest = k, e.at
		}
	}
	if len(c.items) >= c.max && oldestKey != "" {
		delete(c.items, oldestKey)
	}
}
