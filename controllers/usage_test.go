package controllers_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// lastUsedMetric is the operator's token_operator_token_last_used_timestamp_seconds for a
// ServiceUser; 0 when it exports none.
func lastUsedMetric(t *testing.T, ns, name string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "token_operator_token_last_used_timestamp_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labels(m)["namespace"] == ns && labels(m)["name"] == name && labels(m)["kind"] == "ServiceUser" {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func unusedIs(status metav1.ConditionStatus) func(*iamv1alpha1.ServiceUser) bool {
	return func(s *iamv1alpha1.ServiceUser) bool {
		c := condition(s, iamv1alpha1.ConditionUnused)
		return c != nil && c.Status == status
	}
}

// TestServiceUserKeyUsage: a key a client uses shows its last use in the metric after the
// next periodic check; with unusedAfter, a day without use turns Unused True, with a
// warning event, and the key stays valid.
func TestServiceUserKeyUsage(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	su := newSU(ns, "usage", "Member", func(s *iamv1alpha1.ServiceUser) {
		s.Spec.APIKey.UnusedAfter = &metav1.Duration{Duration: 24 * time.Hour}
	})
	create(t, su)
	got := waitSU(t, su, suReady)

	value := secretOf(t, ns, credential.SecretName(got)).Data[credential.SecretKey(got)]
	_, err := devinClient().SelfWithToken(context.Background(), devinapi.NewToken(string(value)))
	g.Expect(err).NotTo(HaveOccurred())
	usedAt := clk.Now()
	clk.Step(61 * time.Minute) // past --verify-interval
	poke(t, got)
	checked := waitSU(t, su, unusedIs(metav1.ConditionFalse))
	g.Eventually(func() float64 { return lastUsedMetric(t, ns, "usage") }, timeout, interval).
		Should(Equal(float64(usedAt.Unix())))

	clk.Step(25 * time.Hour)
	poke(t, checked)
	unused := waitSU(t, su, unusedIs(metav1.ConditionTrue))
	g.Expect(condition(unused, iamv1alpha1.ConditionUnused).Reason).To(Equal(iamv1alpha1.ReasonKeyUnused))
	g.Expect(unused.Status.Token.ID).To(Equal(got.Status.Token.ID), "an unused key is reported, not replaced")
	g.Expect(suReady(unused)).To(BeTrue())
	expectEvent(t, unused, iamv1alpha1.EventKeyUnused)
	assertSUHoldsLiveKey(t, unused)
}
