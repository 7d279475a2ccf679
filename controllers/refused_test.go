package controllers_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// refuseSecrets installs an admission policy that refuses every Secret write in ns, as a
// policy engine or a full ResourceQuota would, and waits until it is in force. It is
// removed when the test ends, or by the returned func.
func refuseSecrets(t *testing.T, ns string) func() {
	t.Helper()
	ctx := context.Background()
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "refuse-secrets-" + ns},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}},
				},
			}}},
			Validations: []admissionregistrationv1.Validation{{Expression: "false", Message: "no Secrets in this namespace (policy)"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	create(t, policy)
	create(t, binding)
	probe := func() error {
		return k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probe"}}, client.DryRunAll)
	}
	remove := func() {
		_ = k8s.Delete(ctx, binding)
		_ = k8s.Delete(ctx, policy)
		NewWithT(t).Eventually(probe, timeout, interval).Should(Succeed(), "the policy is still in force")
	}
	t.Cleanup(func() {
		_ = k8s.Delete(ctx, binding)
		_ = k8s.Delete(ctx, policy)
	})
	NewWithT(t).Eventually(probe, timeout, interval).Should(MatchError(ContainSubstring("no Secrets in this namespace")))
	return remove
}

// TestRefusedSecretsCostOneMint: 50 resources whose Secret the API server refuses cost at
// most one token each, revoked at once (no dry run is made before a first token: that round
// trip is kept for where a refusal is likely), stop with a reason, and mint no more until
// the cluster or their spec changes: every create after a refusal waits for a dry run.
func TestRefusedSecretsCostOneMint(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	allow := refuseSecrets(t, ns)
	var pats []*iamv1alpha1.PersonalAccessToken
	for i := range 50 {
		p := newPAT(ns, fmt.Sprintf("refused-%02d", i), "alice@example.com")
		create(t, p)
		pats = append(pats, p)
	}
	for _, p := range pats {
		got := waitPAT(t, p, hasReason(iamv1alpha1.ConditionStalled, iamv1alpha1.ReasonSecretRejected))
		g.Expect(condition(got, iamv1alpha1.ConditionStalled).Message).To(ContainSubstring("no Secrets in this namespace"))
	}
	// minted is what each resource made upstream: its creates (status.issueCount and the
	// intent annotation, whichever is higher) and the tokens of it still live.
	minted := func() (creates, live []int) {
		for _, p := range pats {
			got := &iamv1alpha1.PersonalAccessToken{}
			if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(p), got); err != nil {
				continue
			}
			n := int(got.Status.IssueCount)
			if a, err := strconv.Atoi(got.Annotations[iamv1alpha1.IssueIntentAnnotation]); err == nil {
				n = max(n, a)
			}
			creates = append(creates, n)
			live = append(live, len(liveTokensOf(string(got.UID))))
		}
		return creates, live
	}
	creates, live := minted()
	g.Expect(creates).To(HaveEach(BeNumerically("<=", 1)), "at most one token for a Secret that cannot be written")
	g.Expect(live).To(HaveEach(BeZero()), "and it is revoked")
	g.Consistently(func() []int { c, _ := minted(); return c }, 2*time.Second, interval).Should(Equal(creates), "and no other while refused")

	allow()
	update(t, pats[0], func(p *iamv1alpha1.PersonalAccessToken) { p.Spec.TokenName = "after the policy changed" })
	got := waitPAT(t, pats[0], isReady)
	assertHoldsLiveToken(t, got)
}
