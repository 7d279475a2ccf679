// Watching the measured resources through an informer, so that a phase learns when each one
// reached its goal (Ready, rotated) without polling the API server.

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
)

// benchNamespacePrefix marks the namespaces of the measured resources.
const benchNamespacePrefix = "bench-"

// tracker watches the bench's PersonalAccessTokens and ServiceUsers through an informer and
// records, for the goal set by expect, the moment each object first met it: phases wait on
// it instead of polling the API server.
type tracker struct {
	cache cache.Cache

	mu   sync.Mutex
	goal func(credential.Object) bool
	want int
	hits map[types.NamespacedName]time.Time
	done chan struct{}
}

func newTracker(ctx context.Context, ca cache.Cache) (*tracker, error) {
	t := &tracker{cache: ca, hits: map[types.NamespacedName]time.Time{}, done: make(chan struct{})}
	for _, obj := range []client.Object{&iamv1alpha1.PersonalAccessToken{}, &iamv1alpha1.ServiceUser{}} {
		inf, err := ca.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { t.observe(o) },
			UpdateFunc: func(_, o any) { t.observe(o) },
		}); err != nil {
			return nil, err
		}
	}
	go func() { _ = ca.Start(ctx) }()
	syncCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !ca.WaitForCacheSync(syncCtx) {
		return nil, fmt.Errorf("the bench's informers did not sync")
	}
	return t, nil
}

func (t *tracker) observe(newObj any) {
	obj, ok := newObj.(credential.Object)
	if !ok || !strings.HasPrefix(obj.GetNamespace(), benchNamespacePrefix) {
		return
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hitLocked(obj, now)
}

func (t *tracker) hitLocked(obj credential.Object, now time.Time) {
	if t.goal == nil {
		return
	}
	key := client.ObjectKeyFromObject(obj)
	if _, seen := t.hits[key]; seen || !t.goal(obj) {
		return
	}
	t.hits[key] = now
	if len(t.hits) == t.want {
		close(t.done)
	}
}

// expect sets a new goal for want objects and checks the objects already known.
func (t *tracker) expect(ctx context.Context, want int, goal func(credential.Object) bool) error {
	t.mu.Lock()
	t.goal, t.want = goal, want
	t.hits = map[types.NamespacedName]time.Time{}
	t.done = make(chan struct{})
	t.mu.Unlock()
	objs, err := t.list(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range objs {
		t.hitLocked(o, now)
	}
	return nil
}

// wait blocks until want objects met the goal, and returns when each did.
func (t *tracker) wait(ctx context.Context, timeout time.Duration) (map[types.NamespacedName]time.Time, error) {
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(timeout):
		t.mu.Lock()
		n, want := len(t.hits), t.want
		t.mu.Unlock()
		return nil, fmt.Errorf("only %d of %d resources reached the goal within %s", n, want, timeout)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[types.NamespacedName]time.Time, len(t.hits))
	for k, v := range t.hits {
		out[k] = v
	}
	return out, nil
}

// list returns the bench's resources as the informer holds them.
func (t *tracker) list(ctx context.Context) ([]credential.Object, error) {
	var out []credential.Object
	pats := &iamv1alpha1.PersonalAccessTokenList{}
	if err := t.cache.List(ctx, pats); err != nil {
		return nil, err
	}
	for i := range pats.Items {
		if strings.HasPrefix(pats.Items[i].Namespace, benchNamespacePrefix) {
			out = append(out, &pats.Items[i])
		}
	}
	sus := &iamv1alpha1.ServiceUserList{}
	if err := t.cache.List(ctx, sus); err != nil {
		return nil, err
	}
	for i := range sus.Items {
		if strings.HasPrefix(sus.Items[i].Namespace, benchNamespacePrefix) {
			out = append(out, &sus.Items[i])
		}
	}
	return out, nil
}

// isReady: Ready=True for the current generation, with a token.
func isReady(o credential.Object) bool {
	st := o.CredentialStatus()
	return conditions.IsReady(st.Conditions, o.GetGeneration()) && st.Token != nil
}
