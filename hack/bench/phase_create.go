// Phases create and idle measure the throughput and cost of N PersonalAccessTokens and M
// ServiceUsers from nothing to Ready, then a window with nothing due, which should cost nothing.

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// createResult is the throughput and cost of bringing N PersonalAccessTokens and M
// ServiceUsers from nothing to Ready.
type createResult struct {
	pats, serviceUsers int
	// applied is when the last create returned; ready when the last resource became Ready.
	applied, ready time.Duration
	// latencies are, per resource, from the start of its create call to Ready.
	latencies []time.Duration
	// d is the cost, from the first create until the operator was idle again.
	d delta
}

func (r createResult) total() int { return r.pats + r.serviceUsers }

// runCreate creates the mix concurrently (o.applyConcurrency clients, as a GitOps sync
// would) and waits until every resource is Ready and the operator idle.
func runCreate(ctx context.Context, c *cluster, o options) (createResult, error) {
	objs := benchObjects(o)
	res := createResult{}
	for _, obj := range objs {
		if _, ok := obj.(*iamv1alpha1.PersonalAccessToken); ok {
			res.pats++
		} else {
			res.serviceUsers++
		}
	}
	if err := c.objects.expect(ctx, len(objs), isReady); err != nil {
		return res, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	startedAt := map[types.NamespacedName]time.Time{}
	start := time.Now()
	err = parallel(ctx, len(objs), o.applyConcurrency, func(ctx context.Context, i int) error {
		obj := objs[i]
		t := time.Now()
		if err := c.admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %s: %w", client.ObjectKeyFromObject(obj), err)
		}
		mu.Lock()
		startedAt[client.ObjectKeyFromObject(obj)] = t
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}
	res.applied = time.Since(start)
	hits, err := c.objects.wait(ctx, o.phaseTimeout)
	if err != nil {
		return res, fmt.Errorf("waiting for Ready: %w", err)
	}
	res.latencies, res.ready = sinceEach(hits, startedAt, start)
	res.d, err = c.idleSince(ctx, o, before)
	return res, err
}

// idleResult is a window in which nothing changed and no periodic check was due.
type idleResult struct {
	d delta
	// Memory of the manager with the N resources at the end of the window.
	rss, hwm  uint64
	heapInuse float64
}

// runIdle watches the operator for o.idleWindow with nothing changing (the periodic check is
// an hour away): it should call nothing and write nothing.
func runIdle(ctx context.Context, c *cluster, o options) (idleResult, error) {
	before, err := c.snapshot(ctx)
	if err != nil {
		return idleResult{}, err
	}
	if err := sleep(ctx, o.idleWindow); err != nil {
		return idleResult{}, err
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return idleResult{}, err
	}
	res := idleResult{d: before.to(after), heapInuse: after.op.HeapInuse}
	res.rss, res.hwm, err = c.op.memory()
	return res, err
}
