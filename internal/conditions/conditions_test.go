package conditions_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
)

func TestTransitions(t *testing.T) {
	var conds []metav1.Condition
	conditions.Progressing(&conds, 1, iamv1alpha1.ReasonIssuing, "issuing", false)
	if conditions.IsReady(conds, 1) || !meta.IsStatusConditionTrue(conds, iamv1alpha1.ConditionReconciling) {
		t.Fatalf("progressing: %+v", conds)
	}
	conditions.Ready(&conds, 1, iamv1alpha1.ReasonTokenIssued, "ok")
	if !conditions.IsReady(conds, 1) || meta.FindStatusCondition(conds, iamv1alpha1.ConditionReconciling) != nil {
		t.Fatalf("ready: %+v", conds)
	}
	if conditions.IsReady(conds, 2) {
		t.Fatal("Ready observed for generation 1 says nothing about generation 2")
	}
	conditions.Stalled(&conds, 2, iamv1alpha1.ReasonSSOAccount, "sso", true)
	if !meta.IsStatusConditionTrue(conds, iamv1alpha1.ConditionStalled) || !meta.IsStatusConditionTrue(conds, iamv1alpha1.ConditionReady) {
		t.Fatalf("stalled keeping Ready: %+v", conds)
	}
	conditions.Stalled(&conds, 2, iamv1alpha1.ReasonSSOAccount, "sso", false)
	if conditions.IsReady(conds, 2) || meta.FindStatusCondition(conds, iamv1alpha1.ConditionReconciling) != nil {
		t.Fatalf("stalled: %+v", conds)
	}
}
