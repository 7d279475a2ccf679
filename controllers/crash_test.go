package controllers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

var errCrashed = errors.New("crashed (test)")

// crasher stops the running operator once, at the moment a step of the mint is done, as a
// kill would: the step's effect is durable, nothing after it happens.
type crasher struct {
	once    sync.Once
	crashed chan struct{}
}

func newCrasher() *crasher { return &crasher{crashed: make(chan struct{})} }

func (c *crasher) crash() {
	c.once.Do(func() {
		opMu.Lock()
		op := running
		opMu.Unlock()
		// Cancel first, synchronously: nothing the operator does after this point lands.
		op.Kill()
		go func() {
			<-op.Done()
			close(c.crashed)
		}()
	})
}

// crashPoints are the steps of a mint after which the operator is killed.
var crashPoints = map[string]func(c *crasher, ns func() string) (wrap func(client.Client) client.Client, hook func(devinapitest.Event)){
	"after the intent is recorded": func(c *crasher, ns func() string) (func(client.Client) client.Client, func(devinapitest.Event)) {
		return func(inner client.Client) client.Client {
			return interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
				Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
					err := cl.Patch(ctx, obj, p, opts...)
					if pat, ok := obj.(*iamv1alpha1.PersonalAccessToken); ok && err == nil && pat.Namespace == ns() &&
						pat.Annotations[iamv1alpha1.IssueIntentAnnotation] != "" {
						c.crash()
						return errCrashed
					}
					return err
				},
			})
		}, nil
	},
	"after the token is created upstream, before its answer": func(c *crasher, ns func() string) (func(client.Client) client.Client, func(devinapitest.Event)) {
		return nil, func(ev devinapitest.Event) {
			if ev.Method == "POST" && strings.HasSuffix(ev.Route, "personal-access-tokens") {
				c.crash()
			}
		}
	},
	"after the Secret is written, before status": func(c *crasher, ns func() string) (func(client.Client) client.Client, func(devinapitest.Event)) {
		afterWrite := func(ctx context.Context, obj client.Object, err error) error {
			if sec, ok := obj.(*corev1.Secret); ok && err == nil && sec.Namespace == ns() {
				c.crash()
				return errCrashed
			}
			return err
		}
		return func(inner client.Client) client.Client {
			return interceptor.NewClient(inner.(client.WithWatch), interceptor.Funcs{
				Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
					if len((&client.CreateOptions{}).ApplyOptions(opts).DryRun) > 0 {
						return cl.Create(ctx, obj, opts...) // the check before the mint writes nothing
					}
					return afterWrite(ctx, obj, cl.Create(ctx, obj, opts...))
				},
				Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
					if len((&client.PatchOptions{}).ApplyOptions(opts).DryRun) > 0 {
						return cl.Patch(ctx, obj, p, opts...)
					}
					return afterWrite(ctx, obj, cl.Patch(ctx, obj, p, opts...))
				},
			})
		}, nil
	},
}

// TestPATCrashDuringMint kills the operator at each step of a mint (first issue and
// rotation), restarts it, and checks that exactly one live upstream token remains (two
// during a rotation's grace period) and that the Secret holds the current one.
func TestPATCrashDuringMint(t *testing.T) {
	t.Cleanup(func() {
		env.Devin.SetHook(nil)
		restartOperator(t, nil)
	})
	for point, setup := range crashPoints {
		for _, rotation := range []bool{false, true} {
			name := point + "/first issue"
			if rotation {
				name = point + "/rotation"
			}
			t.Run(name, func(t *testing.T) {
				g := NewWithT(t)
				ns := newNamespace(t)
				pat := newPAT(ns, "crash", "alice@example.com", func(p *iamv1alpha1.PersonalAccessToken) {
					p.Spec.RotationGracePeriod = &metav1.Duration{Duration: 5 * time.Minute}
				})
				c := newCrasher()
				wrap, hook := setup(c, func() string { return ns })

				var oldID string
				restartOperator(t, nil)
				if rotation {
					create(t, pat)
					ready := waitPAT(t, pat, isReady)
					oldID = ready.Status.Token.ID
					env.Devin.SetHook(hook)
					restartOperator(t, wrap)
					update(t, ready, func(p *iamv1alpha1.PersonalAccessToken) {
						p.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "now"}
					})
				} else {
					env.Devin.SetHook(hook)
					restartOperator(t, wrap)
					create(t, pat)
				}
				select {
				case <-c.crashed:
				case <-time.After(timeout):
					t.Fatal("the operator never reached the crash point")
				}
				env.Devin.SetHook(nil)
				restartOperator(t, nil)

				got := waitPAT(t, pat, func(p *iamv1alpha1.PersonalAccessToken) bool {
					return isReady(p) && p.Status.Token.ID != oldID && p.Status.PendingIssue == nil
				})
				assertHoldsLiveToken(t, got)
				live := liveTokensOf(string(got.UID))
				if rotation {
					g.Expect(len(live)).To(BeNumerically("<=", 2), "at most the new token and the previous one in its grace period; live %+v; status %+v", live, got.Status)
					for _, r := range live {
						g.Expect([]string{got.Status.Token.ID, oldID}).To(ContainElement(r.ID))
					}
				} else {
					g.Expect(live).To(ConsistOf(HaveField("ID", got.Status.Token.ID)))
				}
			})
		}
	}
}
