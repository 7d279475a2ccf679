package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
)

// An error of the Kubernetes API quotes what was sent: before it reaches a condition or an
// event, anything that looks like a token is scrubbed, as in the logs.
func TestReportScrubsTokensFromConditionsAndEvents(t *testing.T) {
	const leaked = "cog_" + "Q3J5cHRvZ3JhcGhpY2FsbHlSYW5kb21WYWx1ZQ"
	pat := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 1}}
	rec := events.NewFakeRecorder(4)
	err := fmt.Errorf("update secret p: %w", errors.New(`Secret "p" is invalid: data[token]: Invalid value: "`+leaked+`"`))
	if _, rerr := report(context.Background(), rec, pat, credential.Outcome{}, ctrl.Result{}, err); rerr == nil {
		t.Fatal("the error was swallowed")
	}
	for _, c := range pat.Status.Conditions {
		if strings.Contains(c.Message, leaked) {
			t.Fatalf("condition %s carries the token: %q", c.Type, c.Message)
		}
	}
	if c := meta.FindStatusCondition(pat.Status.Conditions, iamv1alpha1.ConditionReconciling); c == nil || !strings.Contains(c.Message, "cog_[REDACTED]") {
		t.Fatalf("conditions %+v: want the scrubbed message", pat.Status.Conditions)
	}
	if ev := <-rec.Events; strings.Contains(ev, leaked) {
		t.Fatalf("event carries the token: %q", ev)
	}
}
