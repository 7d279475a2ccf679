package credential

import (
	"hash/fnv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// checkTimes remembers, in memory, when each resource's token was last seen active
// upstream: a time written into status would cost a write per resource per check for
// nothing a user acts on. After a restart nothing is remembered; the first check of each
// resource is then spread over one interval (by its UID), so that a restart costs no burst
// of checks that could starve admission.
type checkTimes struct {
	mu   sync.Mutex
	last map[types.UID]time.Time
}

// lastCheck is when the resource was last checked, or, when it was not since this process
// started, a point in the past that makes its first check due somewhere within the next
// interval.
func (c *checkTimes) lastCheck(uid types.UID, now time.Time, interval time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.last[uid]; ok {
		return t
	}
	t := now.Add(-interval).Add(spread(uid, interval))
	if c.last == nil {
		c.last = map[types.UID]time.Time{}
	}
	c.last[uid] = t
	return t
}

func (c *checkTimes) checked(uid types.UID, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[types.UID]time.Time{}
	}
	c.last[uid] = at
}

// seed records at as the last check of a resource that has none yet.
func (c *checkTimes) seed(uid types.UID, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[types.UID]time.Time{}
	}
	if _, ok := c.last[uid]; !ok {
		c.last[uid] = at
	}
}

func (c *checkTimes) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.last, uid)
}

// spread is a fixed point within the interval for the resource: the same after every
// restart, different for different resources.
func spread(uid types.UID, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(uid))
	return time.Duration(h.Sum64() % uint64(interval))
}
