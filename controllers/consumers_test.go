package controllers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/consumers"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

func deployment(ns, name string) *appsv1.Deployment {
	one := int32(1)
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}

// rollOut does what the Deployment controller (not running in this suite) would: report the
// current template rolled out on every replica.
func rollOut(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		return k8s.Status().Update(context.Background(), d)
	}, timeout, interval).Should(Succeed())
}

// TestRotationWaitsForConsumers: after a requested rotation the operator restarts the
// workload that consumes the key, and revokes the previous key only once that workload has
// rolled out and the key has stopped being used (a consumer still calling the Devin API
// with it keeps it alive), within the quiet period after the last use.
func TestRotationWaitsForConsumers(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := newNamespace(t)
	app := deployment(ns, "app")
	create(t, app)
	su := newSU(ns, "bot", "Member", func(s *iamv1alpha1.ServiceUser) {
		s.Spec.APIKey.RolloutRestartTargets = []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "app"}}
		s.Spec.APIKey.RotationGracePeriod = &metav1.Duration{Duration: 2 * time.Hour}
		s.Spec.APIKey.RevocationQuietPeriod = &metav1.Duration{Duration: 5 * time.Minute}
	})
	create(t, su)
	first := waitSU(t, su, suReady)
	oldID := first.Status.Token.ID
	oldValue := devinapi.NewToken(string(secretOf(t, ns, credential.SecretName(first)).Data["token"]))
	use := func() { // the consumer, still on the old key
		_, err := devinClient().SelfWithToken(ctx, oldValue)
		g.Expect(err).NotTo(HaveOccurred(), "the old key must still work")
	}

	update(t, first, func(s *iamv1alpha1.ServiceUser) {
		s.Annotations = map[string]string{iamv1alpha1.RotateAnnotation: "1"}
	})
	waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool { return suReady(s) && s.Status.Token.ID != oldID })
	use()
	clk.Step(10 * time.Second) // past the restart's debounce
	poke(t, first)
	g.Eventually(func() string {
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(app), app)
		return app.Spec.Template.Annotations[consumers.RestartedAtAnnotation]
	}, timeout, interval).ShouldNot(BeEmpty(), "the consumer was not restarted")
	expectEvent(t, first, iamv1alpha1.EventConsumersRestarted)
	waiting := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
		return len(s.Status.PendingRevocations) == 1 && strings.Contains(s.Status.PendingRevocations[0].WaitingFor, "rollout of Deployment/app")
	})
	g.Expect(waiting.Status.PendingRevocations[0].ID).To(Equal(oldID))

	rollOut(t, app)
	clk.Step(2 * time.Minute)
	use() // rolled out, but something still runs with the old key
	poke(t, first)
	waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool {
		return len(s.Status.PendingRevocations) == 1 && strings.Contains(s.Status.PendingRevocations[0].WaitingFor, "still used")
	})
	g.Expect(liveKeysOf(first.Status.ServiceUserID)).To(ContainElement(HaveField("ID", oldID)))

	clk.Step(6 * time.Minute) // the consumer switched: quiet for the quiet period
	poke(t, first)
	done := waitSU(t, su, func(s *iamv1alpha1.ServiceUser) bool { return len(s.Status.PendingRevocations) == 0 })
	g.Expect(liveKeysOf(done.Status.ServiceUserID)).NotTo(ContainElement(HaveField("ID", oldID)))
	expectEvent(t, done, iamv1alpha1.EventTokenRevoked)
	assertSUHoldsLiveKey(t, done)
}
