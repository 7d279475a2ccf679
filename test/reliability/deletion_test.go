package reliability

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// deleteNamespace does what the namespace controller of kube-controller-manager (which
// envtest does not run) does: mark the namespace Terminating, delete its resources, and
// remove the namespace once they are gone. It returns when the namespace is gone.
func deleteNamespace(ctx context.Context, ns string) error {
	nsObj := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		return err
	}
	if err := k8s.Delete(ctx, nsObj); err != nil {
		return err
	}
	for {
		_ = k8s.DeleteAllOf(ctx, &iamv1alpha1.PersonalAccessToken{}, client.InNamespace(ns))
		_ = k8s.DeleteAllOf(ctx, &iamv1alpha1.ServiceUser{}, client.InNamespace(ns))
		pats := &iamv1alpha1.PersonalAccessTokenList{}
		if err := k8s.List(ctx, pats, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(pats.Items) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	// Content gone: finalize the namespace, as the namespace controller would.
	if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, nsObj); err != nil {
		return client.IgnoreNotFound(err)
	}
	nsObj.Spec.Finalizers = nil
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return err
	}
	if _, err = cs.CoreV1().Namespaces().Finalize(ctx, nsObj, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// TestNamespaceDeletionWaitsForTheBackend: the Devin API is down while a namespace with 50
// tokens is deleted. The resources say why they wait (condition and event); the namespace
// stays Terminating; when the backend returns, every token is revoked and the namespace goes.
// With deletionPolicy Orphan the namespace goes at once.
func TestNamespaceDeletionWaitsForTheBackend(t *testing.T) {
	for _, policy := range []iamv1alpha1.DeletionPolicy{iamv1alpha1.DeletionPolicyDelete, iamv1alpha1.DeletionPolicyOrphan} {
		t.Run(string(policy), func(t *testing.T) {
			g := newG(t)
			ctx := context.Background()
			supervise(t, operatorOptions())
			ns := newNamespace(t)
			var objs []client.Object
			for i := range 50 {
				p := newPAT(ns, fmt.Sprintf("pat-%02d", i), "alice@example.com")
				p.Spec.DeletionPolicy = policy
				objs = append(objs, p)
			}
			createAll(t, objs)
			waitSettled(t, ns)
			var uids []string
			for _, o := range objs {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), o)).To(Succeed())
				uids = append(uids, string(o.GetUID()))
			}

			env.Devin.SetFaults(devinapitest.Faults{Down: true, RetryAfter: time.Second})
			defer env.Devin.SetFaults(devinapitest.Faults{})
			done := make(chan error, 1)
			go func() {
				dctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				done <- deleteNamespace(dctx, ns)
			}()

			if policy == iamv1alpha1.DeletionPolicyOrphan {
				g.Expect(<-done).To(Succeed(), "with Orphan the namespace goes at once, backend or not")
				orphaned := func(name string) bool {
					return slices.ContainsFunc(uids, func(uid string) bool { return credential.OwnedBy(name, types.UID(uid)) })
				}
				live := 0
				for _, r := range env.Devin.LiveTokens() {
					if orphaned(r.Name) {
						live++
					}
				}
				g.Expect(live).To(Equal(50), "Orphan leaves the tokens upstream")
				env.Devin.SetFaults(devinapitest.Faults{})
				for _, r := range env.Devin.LiveTokens() { // clean up what was orphaned on purpose, only that
					if orphaned(r.Name) {
						_ = env.Devin.RevokeKey(r.ID)
					}
				}
				return
			}

			// They wait, and say why.
			g.Eventually(func() int {
				pats := &iamv1alpha1.PersonalAccessTokenList{}
				_ = k8s.List(ctx, pats, client.InNamespace(ns))
				waiting := 0
				for _, p := range pats.Items {
					c := meta.FindStatusCondition(p.Status.Conditions, iamv1alpha1.ConditionReconciling)
					if !p.DeletionTimestamp.IsZero() && c != nil && c.Reason == iamv1alpha1.ReasonRevocationPending {
						waiting++
					}
				}
				return waiting
			}, timeout, interval).Should(Equal(50))
			// A Terminating namespace accepts no new objects, events included (the API server's
			// NamespaceLifecycle admission): the condition above and the operator's log say why.
			g.Eventually(func() error {
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, iamv1alpha1.ReasonRevocationPending) && strings.Contains(l, ns) {
						return nil
					}
				}
				return fmt.Errorf("no operator log line about namespace %s says %s", ns, iamv1alpha1.ReasonRevocationPending)
			}, timeout, interval).Should(Succeed())
			g.Consistently(done, 2*time.Second, 200*time.Millisecond).ShouldNot(Receive(), "the namespace went while its tokens were still live")

			env.Devin.SetFaults(devinapitest.Faults{})
			g.Eventually(done, timeout).Should(Receive(BeNil()))
			expectInvariant(t)
		})
	}
}
