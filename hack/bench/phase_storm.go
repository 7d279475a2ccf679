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
	d         delta
}

// runStorm annotates every PersonalAccessToken with a new iam.devin.ai/rotate value at once
// (the code path of a renewal: issue, Secret write, grace period, revoke) and measures until
// every one holds a new token and until every replaced token is revoked upstream.
func runStorm(ctx context.Context, c *cluster, o options) (stormResult, error) {
	res := stormResult{grace: o.grace}
	objs, err := c.objects.list(ctx)
	if err != nil {
		return res, err
	}
	old := map[types.NamespacedName]string{}
	var pats []*iamv1alpha1.PersonalAccessToken
	for _, obj := range objs {
		if p, ok := obj.(*iamv1alpha1.PersonalAccessToken); ok && p.Status.Token != nil {
			pats = append(pats, p)
			old[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p.Status.Token.ID
		}
	}
	res.tokens = len(pats)
	value := fmt.Sprintf("bench-storm-%d", time.Now().UnixNano())
	rotated := func(obj credentialObject) bool {
		p, ok := obj.(*iamv1alpha1.PersonalAccessToken)
		if !ok || !isReady(obj) {
			return false
		}
		st := p.Status
		return st.RotateRequest == value && st.LastRotationReason == iamv1alpha1.RotationRequested &&
			st.Token.ID != old[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}]
	}
	if err := c.objects.expect(ctx, len(pats), rotated); err != nil {
		return res, err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{iamv1alpha1.RotateAnnotation: value}}})
	if err != nil {
		return res, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	var mu sync.Mutex
	annotatedAt := map[types.NamespacedName]time.Time{}
	start := time.Now()
	err = parallel(ctx, len(pats), o.applyConcurrency, func(ctx context.Context, i int) error {
		p := &iamv1alpha1.PersonalAccessToken{}
		p.Namespace, p.Name = pats[i].Namespace, pats[i].Name
		t := time.Now()
		if err := c.admin.Patch(ctx, p, client.RawPatch(types.MergePatchType, patch)); err != nil {
			return fmt.Errorf("annotate %s: %w", key(p), err)
		}
		mu.Lock()
		annotatedAt[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = t
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}
	res.annotated = time.Since(start)
	hits, err := c.objects.wait(ctx, o.phaseTimeout)
	if err != nil {
		return res, fmt.Errorf("waiting for the rotations: %w", err)
	}
	var last time.Time
	for k, at := range hits {
		if at.After(last) {
			last = at
		}
		res.latencies = append(res.latencies, at.Sub(annotatedAt[k]))
	}
	res.rotated = last.Sub(start)

	// Every replaced token must be revoked upstream after its grace period.
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
			res.revoked = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%d replaced tokens still live %s after the storm", left, time.Since(start).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if _, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout); err != nil {
		return res, err
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.d = before.to(after)
	return res, nil
}
