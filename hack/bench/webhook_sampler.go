// Sampling the webhook's latency while another phase (the rotation storm) loads the operator.

package main

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// stormUserPrefix marks the users whose lookups the storm's sampler causes: their emails
// and IDs (user-bench-storm-NNNN) carry it, so that the Devin API calls of those lookups are
// told apart from the rotations'.
const stormUserPrefix = "bench-storm-"

// samplerUsers bounds the cold samples of one storm (each needs a user never looked up).
const samplerUsers = 400

// samplerPause separates two samples, so that the sampler is one client among others rather
// than a load of its own.
const samplerPause = 20 * time.Millisecond

// samplerResult is the webhook's latency while something else runs.
type samplerResult struct {
	cached, cold latencySeries
	// calls are the Devin API calls of the cold lookups, by route.
	calls Calls
}

// webhookSampler runs server-side dry-run PAT creates through the webhooks, one at a time,
// alternately for alice (lookup cached) and for a newly seeded user (a lookup upstream),
// until stopped.
type webhookSampler struct {
	c      *cluster
	o      options
	stopCh chan struct{}
	done   chan struct{}
	res    samplerResult
	mu     sync.Mutex
	calls  Calls
	err    error
}

// startSampler seeds the users, warms alice's lookup (not measured: the cache lives for
// --lookup-cache-ttl, and the creates were longer ago than that), counts the seeded users'
// lookups' calls (request hook of the in-memory API) and starts sampling.
func startSampler(ctx context.Context, c *cluster, o options) (*webhookSampler, error) {
	s := &webhookSampler{c: c, o: o, stopCh: make(chan struct{}), done: make(chan struct{}), calls: Calls{},
		res: samplerResult{cached: latencySeries{name: "cached"}, cold: latencySeries{name: "cold"}}}
	for i := 0; i < samplerUsers; i++ {
		c.srv.UpsertUser(devinapitest.SeedUser{Email: samplerEmail(i), Name: "Bench", PATEnabled: true})
	}
	if _, err := dryRunCreate(ctx, c, o, benchNamespace(o, 0), "storm-warm", patUsers[0]); err != nil {
		return nil, fmt.Errorf("warm the webhook's lookup: %w", err)
	}
	c.srv.SetRequestHook(func(r devinapitest.ObservedRequest) {
		if strings.Contains(r.Path, stormUserPrefix) || strings.Contains(r.Query.Encode(), stormUserPrefix) {
			s.mu.Lock()
			s.calls[r.Route]++
			s.mu.Unlock()
		}
	})
	go s.loop(ctx)
	return s, nil
}

func samplerEmail(i int) string { return fmt.Sprintf("%s%04d@example.com", stormUserPrefix, i) }

func (s *webhookSampler) loop(ctx context.Context) {
	defer close(s.done)
	ns := benchNamespace(s.o, 0)
	for i := 0; ; i++ {
		d, err := dryRunCreate(ctx, s.c, s.o, ns, fmt.Sprintf("storm-cached-%05d", i), patUsers[0])
		if err != nil {
			s.err = err
			return
		}
		s.res.cached.durations = append(s.res.cached.durations, d)
		if i < samplerUsers {
			if d, err = dryRunCreate(ctx, s.c, s.o, ns, fmt.Sprintf("storm-cold-%05d", i), samplerEmail(i)); err != nil {
				s.err = err
				return
			}
			s.res.cold.durations = append(s.res.cold.durations, d)
		}
		select {
		case <-s.stopCh:
			return
		case <-ctx.Done():
			s.err = ctx.Err()
			return
		case <-time.After(samplerPause):
		}
	}
}

// stop ends the sampling and returns the figures.
func (s *webhookSampler) stop() (samplerResult, error) {
	close(s.stopCh)
	<-s.done
	s.c.srv.SetRequestHook(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.res.calls = maps.Clone(s.calls)
	return s.res, s.err
}

// dryRunCreate times a server-side dry-run create of a PersonalAccessToken for email, at the
// client.
func dryRunCreate(ctx context.Context, c *cluster, o options, ns, name, email string) (time.Duration, error) {
	pat := newPAT(o, ns, name, 0)
	pat.Spec.User.Email = email
	t := time.Now()
	if err := c.admin.Create(ctx, pat, client.DryRunAll); err != nil {
		return 0, fmt.Errorf("dry-run create %s: %w", name, err)
	}
	return time.Since(t), nil
}
