// Phase rotation storm measures N PersonalAccessTokens rotated at once: time until every one
// holds a new token and every replaced token is revoked, and the cost per rotation.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

// stormResult is N PersonalAccessTokens rotating at once.
type stormResult struct {
	tokens int
	grace  time.Duration
	// annotated: the last annotation written; rotated: every PAT holds a new token;
	// revoked: every replaced token is revoked upstream. All from the first annotation.
	annotated, rotated, revoked time.Duration
	// latencies are, per PAT, from its annotation to its new token.
	latencies []time.Duration
	// webhook is the webhook's latency sampled from the first annotation until every PAT
	// was rotated; its lookups' Devin API calls are left out of d.
	webhook samplerResult
	d       delta
}

// runStorm annotates every PersonalAccessToken with a new iam.devin.ai/rotate value at once
// (the code path of a renewal: issue, Secret write, grace period, revoke) and measures until
// every one holds a new token and until every replaced token is revoked upstream. The
// webhook is sampled meanwhile.
func runStorm(ctx context.Context, c *cluster, o options) (stormResult, error) {
	res := stormResult{grace: o.grace}
	pats, old, err := c.readyPATs(ctx)
	if err != nil {
		return res, err
	}
	res.tokens = len(pats)
	value := fmt.Sprintf("bench-storm-%d", time.Now().UnixNano())
	if err := c.objects.expect(ctx, len(pats), rotatedTo(value, old)); err != nil {
		return res, err
	}
	sampler, err := startSampler(ctx, c, o)
	if err != nil {
		return res, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		_, _ = sampler.stop()
		return res, err
	}
	start := time.Now()
	annotatedAt, err := c.annotateAll(ctx, o, pats, value)
	if err != nil {
		_, _ = sampler.stop()
		return res, err
	}
	res.annotated = time.Since(start)
	hits, err := c.objects.wait(ctx, o.phaseTimeout)
	webhook, serr := sampler.stop()
	if err != nil {
		return res, fmt.Errorf("waiting for the rotations: %w", err)
	}
	if serr != nil {
		return res, fmt.Errorf("webhook sampler: %w", serr)
	}
	res.webhook = webhook
	res.latencies, res.rotated = sinceEach(hits, annotatedAt, start)
	if res.revoked, err = c.waitRevoked(ctx, o, old, start); err != nil {
		return res, err
	}
	if res.d, err = c.idleSince(ctx, o, before); err != nil {
		return res, err
	}
	res.d.calls = res.d.calls.Sub(webhook.calls)
	return res, nil
}

// readyPATs lists the PersonalAccessTokens that hold a token, and the ID of each one's.
func (c *cluster) readyPATs(ctx context.Context) ([]*iamv1alpha1.PersonalAccessToken, map[types.NamespacedName]string, error) {
	objs, err := c.objects.list(ctx)
	if err != nil {
		return nil, nil, err
	}
	old := map[types.NamespacedName]string{}
	var pats []*iamv1alpha1.PersonalAccessToken
	for _, obj := range objs {
		if p, ok := obj.(*iamv1alpha1.PersonalAccessToken); ok && p.Status.Token != nil {
			pats = append(pats, p)
			old[client.ObjectKeyFromObject(p)] = p.Status.Token.ID
		}
	}
	return pats, old, nil
}

// rotatedTo is the goal of the storm: Ready with a new token for the rotate request value.
func rotatedTo(value string, old map[types.NamespacedName]string) func(credential.Object) bool {
	return func(obj credential.Object) bool {
		p, ok := obj.(*iamv1alpha1.PersonalAccessToken)
		if !ok || !isReady(obj) {
			return false
		}
		st := p.Status
		return st.RotateRequest == value && st.LastRotationReason == iamv1alpha1.RotationRequested &&
			st.Token.ID != old[client.ObjectKeyFromObject(p)]
	}
}

// annotateAll sets iam.devin.ai/rotate=value on every PAT, o.applyConcurrency at a time, and
// returns when each annotation was sent.
func (c *cluster) annotateAll(ctx context.Context, o options, pats []*iamv1alpha1.PersonalAccessToken, value string) (map[types.NamespacedName]time.Time, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{iamv1alpha1.RotateAnnotation: value}}})
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	at := map[types.NamespacedName]time.Time{}
	err = parallel(ctx, len(pats), o.applyConcurrency, func(ctx context.Context, i int) error {
		p := &iamv1alpha1.PersonalAccessToken{}
		p.Namespace, p.Name = pats[i].Namespace, pats[i].Name
		t := time.Now()
		if err := c.admin.Patch(ctx, p, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("annotate %s: %w", client.ObjectKeyFromObject(p), err)
		}
		mu.Lock()
		at[client.ObjectKeyFromObject(p)] = t
		mu.Unlock()
		return nil
	})
	return at, err
}

// sinceEach returns, per object, the time from its start to its hit, and the time from
// begin to the last hit.
func sinceEach(hits, started map[types.NamespacedName]time.Time, begin time.Time) ([]time.Duration, time.Duration) {
	var last time.Time
	var out []time.Duration
	for k, at := range hits {
		if at.After(last) {
			last = at
		}
		out = append(out, at.Sub(started[k]))
	}
	return out, last.Sub(begin)
}

// waitRevoked waits until none of the old tokens is live upstream, and returns the time
// from start.
func (c *cluster) waitRevoked(ctx context.Context, o options, old map[types.NamespacedName]string, start time.Time) (time.Duration, error) {
	deadline := time.Now().Add(o.phaseTimeout + o.grace)
	for {
		live := map[string]bool{}
		for _, r := range c.srv.LiveTokens() {
			live[r.ID] = true
		}
		left := 0
		for _, id := range old {
			if live[id] {
				left++
			}
		}
		if left == 0 {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d replaced tokens still live %s after the storm", left, time.Since(start).Round(time.Second))
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return 0, err
		}
	}
}
