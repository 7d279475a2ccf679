package reliability

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// workload creates nPAT PersonalAccessTokens and nSU ServiceUsers, then, while they are
// still being minted, asks for a rotation of a half and deletes a quarter of each kind. It
// returns the resources that must remain.
func workload(t *testing.T, ns string, nPAT, nSU int) (rotated, kept []client.Object) {
	t.Helper()
	var pats, sus, all []client.Object
	for i := range nPAT {
		email := "alice@example.com"
		if i%2 == 1 {
			email = "dave@example.com"
		}
		p := newPAT(ns, fmt.Sprintf("pat-%03d", i), email)
		pats = append(pats, p)
	}
	for i := range nSU {
		sus = append(sus, newSU(ns, fmt.Sprintf("su-%02d", i)))
	}
	all = append(append(all, pats...), sus...)
	createAll(t, all)

	for _, group := range [][]client.Object{pats, sus} {
		n := len(group)
		for i, o := range group {
			switch {
			case i < n/2:
				if err := mutate(o, func(o client.Object) {
					a := o.GetAnnotations()
					if a == nil {
						a = map[string]string{}
					}
					a[iamv1alpha1.RotateAnnotation] = "chaos"
					o.SetAnnotations(a)
				}); err != nil {
					t.Fatalf("rotate %s: %v", o.GetName(), err)
				}
				rotated = append(rotated, o)
				kept = append(kept, o)
			case i >= n-n/4:
				if err := retry(func() error { return client.IgnoreNotFound(k8s.Delete(context.Background(), o)) }); err != nil {
					t.Fatalf("delete %s: %v", o.GetName(), err)
				}
			default:
				kept = append(kept, o)
			}
		}
	}
	return rotated, kept
}

// expectWorkloadDone checks what the workload asked for: the rotations happened and the
// deleted resources are gone.
func expectWorkloadDone(t *testing.T, ns string, rotated, kept []client.Object) {
	t.Helper()
	g := newG(t)
	ctx := context.Background()
	pats := &iamv1alpha1.PersonalAccessTokenList{}
	sus := &iamv1alpha1.ServiceUserList{}
	g.Expect(k8s.List(ctx, pats, client.InNamespace(ns))).To(Succeed())
	g.Expect(k8s.List(ctx, sus, client.InNamespace(ns))).To(Succeed())
	g.Expect(len(pats.Items)+len(sus.Items)).To(Equal(len(kept)), "deleted resources are gone, the others remain")
	for _, o := range rotated {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
		st := o.(interface {
			CredentialStatus() *iamv1alpha1.CredentialStatus
		}).CredentialStatus()
		g.Expect(st.RotateRequest).To(Equal("chaos"), "%s: the rotation request was handled", o.GetName())
	}
}

// TestCrashesAtRandomPoints kills the operator at random points (after any write to the API
// server or any change upstream) while 200 PersonalAccessTokens and 20 ServiceUsers are
// minted, rotated and deleted, with several seeds. A supervisor restarts it, as a
// Deployment would. No manual step: the invariant holds at the end.
func TestCrashesAtRandomPoints(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			c := newChaos(seed, 0.01, 6)
			opts := operatorOptions()
			opts.WrapClient = c.wrap
			env.Devin.SetHook(c.hook)
			defer env.Devin.SetHook(nil)
			sup := supervise(t, opts)
			c.mu.Lock()
			c.sup = sup
			c.mu.Unlock()

			ns := newNamespace(t)
			start := time.Now()
			rotated, kept := workload(t, ns, 200, 20)
			t.Logf("workload applied in %s", time.Since(start))
			waitSettled(t, ns)
			t.Logf("seed %d: settled after %s with %d kills, %d restarts", seed, time.Since(start), 6-c.Remaining(), sup.Restarts())
			newG(t).Expect(sup.Restarts()).To(BeNumerically(">=", 1), "the chaos never struck: the test proves nothing")
			expectWorkloadDone(t, ns, rotated, kept)
			expectInvariant(t)

			c.mu.Lock()
			c.budget = 0
			c.mu.Unlock()
			deleteAll(t, ns)
			expectInvariant(t)
		})
	}
}

// TestBackendFaults runs the workload against a Devin API that fails 30% of the calls,
// has latency spikes and loses 30% of the answers to creates (which did happen upstream).
// Everything converges, the number of calls stays bounded, and nothing loops once settled.
func TestBackendFaults(t *testing.T) {
	for _, mode := range []string{"502", "hang"} {
		t.Run("lost answers: "+mode, func(t *testing.T) {
			g := newG(t)
			opts := operatorOptions()
			opts.APITimeout = 2 * time.Second // a hung answer costs this much
			supervise(t, opts)
			env.Devin.ResetCalls()
			env.Devin.SetFaults(devinapitest.Faults{
				// 500s: random failures without a Retry-After (a 503 with one pauses every
				// request of the process, which TestRetryAfterStorm covers).
				ErrorRate:           map[string]float64{"*": 0.3},
				ErrorStatus:         500,
				Latency:             2 * time.Millisecond,
				LatencyJitter:       100 * time.Millisecond,
				LoseCreateResponses: 0.3,
				LostResponseMode:    mode,
				Seed:                42,
			})
			defer env.Devin.SetFaults(devinapitest.Faults{})

			ns := newNamespace(t)
			const nPAT, nSU = 24, 4
			rotated, kept := workload(t, ns, nPAT, nSU)
			// A mint needs several calls in a row (and a lost answer a search and a revocation
			// before the next try), so at 30% failures most tries fail and back off (up to
			// controllers.RetryMaxDelay): the slowest of 42 mints takes ten tries or more.
			// From under a minute to several (one PAT's user lookup has been seen failing at
			// every retry for minutes); the budget is for that tail.
			t0 := time.Now()
			waitSettledWithin(t, 3*timeout, ns)
			t.Logf("settled in %s", time.Since(t0))
			calls := env.Devin.TotalCalls()
			t.Logf("%d Devin API calls for %d resources (%d rotations)", calls, nPAT+nSU, len(rotated))
			// A mint costs a handful of calls; retries of 30% failures and lost answers
			// multiply that by a small factor, never without bound.
			g.Expect(calls).To(BeNumerically("<", 40*(nPAT+nSU)), "too many calls: a retry loop?")

			// Settled means quiet: no hot loop once every resource is Ready.
			before := env.Devin.TotalCalls()
			g.Consistently(func() int { return env.Devin.TotalCalls() - before }, 3*time.Second, 250*time.Millisecond).
				Should(BeNumerically("<=", 2))

			env.Devin.SetFaults(devinapitest.Faults{})
			expectWorkloadDone(t, ns, rotated, kept)
			expectInvariant(t)
			deleteAll(t, ns)
			expectInvariant(t)
		})
	}
}

// TestRetryAfterStorm: a Devin API that answers 429 with Retry-After (in both forms) to
// everything above a low rate, while 20 tokens rotate at once. No request arrives before the
// Retry-After the server announced, and the operator's own rate limit (QPS 10, burst 10) is
// never exceeded. One reconcile at a time, so that no request is already on the wire when a
// 429 arrives (those could not be held back by anyone), and the rotations are asked with an
// annotation, which the webhook does not see.
func TestRetryAfterStorm(t *testing.T) {
	for _, httpDate := range []bool{false, true} {
		t.Run(fmt.Sprintf("HTTP date %v", httpDate), func(t *testing.T) {
			g := newG(t)
			opts := operatorOptions()
			opts.APIQPS, opts.APIBurst = 10, 10
			opts.MaxConcurrentReconciles = 1
			supervise(t, opts)
			ns := newNamespace(t)
			var objs []client.Object
			for i := range 20 {
				objs = append(objs, newPAT(ns, fmt.Sprintf("storm-%02d", i), "dave@example.com"))
			}
			createAll(t, objs)
			waitSettled(t, ns)

			env.Devin.SetFaults(devinapitest.Faults{RateLimitQPS: 4, RetryAfter: time.Second, RetryAfterHTTPDate: httpDate})
			defer env.Devin.SetFaults(devinapitest.Faults{})
			early := env.Devin.EarlyRequests()
			env.Devin.ResetCalls()
			start := time.Now()
			for _, o := range objs {
				g.Expect(mutate(o, func(o client.Object) {
					a := o.GetAnnotations()
					a[iamv1alpha1.RotateAnnotation] = "storm"
					o.SetAnnotations(a)
				})).To(Succeed())
			}
			g.Eventually(func() int {
				n := 0
				for _, o := range objs {
					p := o.(*iamv1alpha1.PersonalAccessToken)
					if k8s.Get(context.Background(), client.ObjectKeyFromObject(p), p) == nil &&
						p.Status.RotateRequest == "storm" && len(p.Status.PendingRevocations) == 0 && ready(p) {
						n++
					}
				}
				return n
			}, timeout, interval).Should(Equal(len(objs)))
			elapsed := time.Since(start)
			calls := env.Devin.TotalCalls()
			t.Logf("%d calls in %s", calls, elapsed)

			g.Expect(env.Devin.EarlyRequests()-early).To(BeZero(), "a request arrived before the Retry-After the server announced")
			// The limiter allows at most burst + QPS × elapsed requests in any window that
			// long; the measured time only makes this bound looser, never flaky.
			limit := 10 + int(10*elapsed.Seconds()) + 1
			g.Expect(calls).To(BeNumerically("<=", limit), "the client's rate limit was exceeded: %d calls in %s", calls, elapsed)
			env.Devin.SetFaults(devinapitest.Faults{})
			expectInvariant(t)
			deleteAll(t, ns)
		})
	}
}
