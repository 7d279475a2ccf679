package controllers_test

import (
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

// staleReads serves, a few times, the state a PersonalAccessToken and its Secret had
// before its last rotation: what an informer cache that lags behind the API server hands a
// reconcile. After that, reads go to the cache again.
type staleReads struct {
	mu     sync.Mutex
	pat    *iamv1alpha1.PersonalAccessToken
	secret *corev1.Secret
	left   int // stale reads of the resource still to serve
	served int
	fresh  int // reads of the resource after the stale ones
}

func (s *staleReads) wrap(inner client.Client) client.Client {
	return interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			switch o := obj.(type) {
			case *iamv1alpha1.PersonalAccessToken:
				if key == client.ObjectKeyFromObject(s.pat) {
					if s.left > 0 {
						s.left--
						s.served++
						s.pat.DeepCopyInto(o)
						return nil
					}
					s.fresh++
				}
			case *corev1.Secret:
				if key == client.ObjectKeyFromObject(s.secret) && s.left > 0 {
					s.secret.DeepCopyInto(o)
					return nil
				}
			}
			return cl.Get(ctx, key, obj, opts...)
		},
	})
}

// arm serves the next n reads of the resource (and of its Secret) stale; fresh counts the
// reads after them.
func (s *staleReads) arm(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.left, s.fresh = n, 0
}

func (s *staleReads) counts() (served, fresh int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served, s.fresh
}

// TestStaleReadRevokesNothing: a reconcile that works from a cache still holding the state
// before the last rotation does not know the new token. Its periodic check finds that token
// upstream and would take it for a stray: the status write that confirms the state first
// fails with a conflict, so nothing is revoked, nothing stale is written, and the next
// reconcile, from the latest state, finds everything in order.
func TestStaleReadRevokesNothing(t *testing.T) {
	t.Cleanup(func() { restartOperator(t, nil) })
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	restartOperator(t, nil)
	pat := newPAT(ns, "stale", "alice@example.com", func(p *iamv1alpha1.PersonalAccessToken) {
		p.Spec.RotationGracePeriod = &metav1.Duration{Duration: time.Hour}
	})
	create(t, pat)
	before := waitPAT(t, pat, isReady).DeepCopy()
	oldSecret := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: credential.SecretName(before)}, oldSecret)).To(Succeed())

	update(t, before.DeepCopy(), func(p *iamv1alpha1.PersonalAccessToken) {
		p.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "now"}
	})
	rotated := waitPAT(t, pat, func(p *iamv1alpha1.PersonalAccessToken) bool {
		return isReady(p) && p.Status.Token.ID != before.Status.Token.ID
	})
	newID := rotated.Status.Token.ID
	g.Expect(liveIDs(string(pat.UID))).To(ConsistOf(before.Status.Token.ID, newID), "the old token lives through its grace period")

	stale := &staleReads{pat: before, secret: oldSecret}
	restartOperator(t, stale.wrap)
	// A new operator remembers no check: its first one is due within an interval of the
	// first reconcile. Let that reconcile happen, then serve stale reads once it is due.
	poke(t, rotated)
	g.Eventually(func() int { _, fresh := stale.counts(); return fresh }, timeout, interval).Should(BeNumerically(">=", 1))
	stale.arm(3)
	// A reconcile already under way (it read the resource before the stale reads were armed)
	// may itself make the check the clock step makes due; the stale reconcile then finds none
	// due, writes nothing and is not requeued. Each further step makes a check due again,
	// until the stale reads have been served to reconciles that check.
	g.Eventually(func() int {
		served, _ := stale.counts()
		if served < 3 {
			clk.Step(61 * time.Minute)
			poke(t, rotated)
		}
		return served
	}, timeout, time.Second).Should(Equal(3))
	g.Eventually(func() int { _, fresh := stale.counts(); return fresh }, timeout, interval).Should(BeNumerically(">=", 1),
		"the operator never read the resource again after the stale reads")
	served, _ := stale.counts()
	g.Expect(served).To(Equal(3))

	g.Expect(liveIDs(string(pat.UID))).To(ContainElement(newID), "a reconcile working from a stale cache revoked the token the Secret holds")
	latest := waitPAT(t, pat, isReady)
	g.Expect(latest.Status.Token.ID).To(Equal(newID), "stale status was written over the latest")
	assertHoldsLiveToken(t, latest)
}

func liveIDs(uid string) []string {
	var ids []string
	for _, r := range liveTokensOf(uid) {
		ids = append(ids, r.ID)
	}
	return ids
}
