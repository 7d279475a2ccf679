package reliability

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/consumers"
)

// TestConsumersOfEveryKindAreRestarted: with the operator's own RBAC, a rotation restarts
// every kind of workload a resource names, by name and by label selector.
func TestConsumersOfEveryKindAreRestarted(t *testing.T) {
	g := newG(t)
	ctx := context.Background()
	ns := newNamespace(t)
	supervise(t, operatorOptions())
	labels := map[string]string{"consumer": "devin"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	sel := &metav1.LabelSelector{MatchLabels: labels}
	workloads := []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "d", Labels: labels}, Spec: appsv1.DeploymentSpec{Selector: sel, Template: template}},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "s", Labels: labels}, Spec: appsv1.StatefulSetSpec{Selector: sel, Template: template}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ds", Labels: labels}, Spec: appsv1.DaemonSetSpec{Selector: sel, Template: template}},
	}
	for _, w := range workloads {
		g.Expect(k8s.Create(ctx, w)).To(Succeed())
	}
	pat := newPAT(ns, "consumed", "dave@example.com")
	for _, kind := range []string{"Deployment", "StatefulSet", "DaemonSet"} {
		name := map[string]string{"Deployment": "d", "StatefulSet": "s", "DaemonSet": "ds"}[kind]
		pat.Spec.RolloutRestartTargets = append(pat.Spec.RolloutRestartTargets,
			iamv1alpha1.RolloutRestartTarget{Kind: kind, Name: name},
			iamv1alpha1.RolloutRestartTarget{Kind: kind, Selector: sel})
	}
	createAll(t, []client.Object{pat})
	waitSettled(t, ns)
	g.Expect(mutate(pat, func(p *iamv1alpha1.PersonalAccessToken) {
		p.Annotations[iamv1alpha1.RotateAnnotation] = "now"
	})).To(Succeed())
	for _, w := range workloads {
		g.Eventually(func() string {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(w), w)
			switch o := w.(type) {
			case *appsv1.Deployment:
				return o.Spec.Template.Annotations[consumers.RestartedAtAnnotation]
			case *appsv1.StatefulSet:
				return o.Spec.Template.Annotations[consumers.RestartedAtAnnotation]
			case *appsv1.DaemonSet:
				return o.Spec.Template.Annotations[consumers.RestartedAtAnnotation]
			}
			return ""
		}, timeout, interval).ShouldNot(BeEmpty(), "%T %s was not restarted", w, w.GetName())
	}
	deleteAll(t, ns)
	expectInvariant(t)
}
