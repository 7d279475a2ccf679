package credential

import (
	"context"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// fakeAdmission answers with verdict and counts the verdicts reached; fingerprint is what
// the verdict depends on.
type fakeAdmission struct {
	verdict     AdmissionResult
	fingerprint string
	judged      int
}

var _ Admission = &fakeAdmission{}

func (f *fakeAdmission) Admit(context.Context, Object) AdmissionResult {
	f.judged++
	return f.verdict
}

func (f *fakeAdmission) Fingerprint(context.Context, Object) (string, error) {
	return f.fingerprint, nil
}

// A verdict is reached once and reused while nothing it depends on changes (a periodic
// check asks no SubjectAccessReview), but every create upstream is decided afresh: a
// requester whose RBAC was taken away gets no new token from a remembered verdict.
func TestVerdictReusedUntilACreate(t *testing.T) {
	w := newWorld(t)
	adm := &fakeAdmission{verdict: AdmissionResult{Allowed: true, Enforced: true, Policy: "team-a"}, fingerprint: "v1"}
	w.l.Admission = adm
	if _, err := w.reconcile(); err != nil || w.pat.Status.Token == nil || adm.judged != 1 {
		t.Fatalf("first issue: err %v, token %+v, verdicts %d (want 1)", err, w.pat.Status.Token, adm.judged)
	}
	for range 3 {
		w.clk.Step(time.Minute)
		if _, err := w.reconcile(); err != nil {
			t.Fatal(err)
		}
	}
	if adm.judged != 1 {
		t.Fatalf("%d verdicts: reconciles that create nothing must reuse the verdict", adm.judged)
	}
	adm.fingerprint = "v2" // a policy or the spec changed
	if _, err := w.reconcile(); err != nil || adm.judged != 2 {
		t.Fatalf("err %v, %d verdicts: a changed fingerprint must be judged again", err, adm.judged)
	}

	// RBAC alone changes (the fingerprint does not), then the renewal falls due.
	adm.verdict = AdmissionResult{Enforced: true, Reason: iamv1alpha1.ReasonPolicyDenied, Message: "no use"}
	held := w.pat.Status.Token.ID
	w.clk.SetTime(t0.Add(1441 * time.Hour))
	_, err := w.reconcile()
	if reasonOf(err) != iamv1alpha1.ReasonPolicyDenied || w.pat.Status.Token.ID != held || indexOf(w.log, "issue "+testOwner.TokenName("team-a/ci", 2)) >= 0 {
		t.Fatalf("err %v, token %s, calls %q: the renewal must be refused on a fresh verdict", err, w.pat.Status.Token.ID, w.log)
	}
	if c := meta.FindStatusCondition(w.pat.Status.Conditions, iamv1alpha1.ConditionAdmitted); c == nil || c.Reason != iamv1alpha1.ReasonPolicyDenied {
		t.Fatalf("Admitted condition %+v: the fresh refusal must be recorded", c)
	}
}

// A spec change no admission record covers (made with the webhooks away) is acted on in
// nothing: the Secret is not moved to the name the editor chose (one they may read, say),
// the consumers are not restarted, nothing is minted; the resource keeps serving its token
// from the Secret that was admitted, and says why.
func TestUnadmittedSpecChangeMovesNothing(t *testing.T) {
	w := newWorld(t)
	cons := &fakeConsumers{}
	w.l.Consumers = cons
	tok := w.withToken(t0)
	w.l.Admission = &fakeAdmission{fingerprint: "v2", verdict: AdmissionResult{Enforced: true,
		Reason: iamv1alpha1.ReasonNotAdmitted, Message: "no valid admission record"}}
	w.pat.Spec.RolloutRestartTargets = []iamv1alpha1.RolloutRestartTarget{{Kind: "Deployment", Name: "someone-elses"}}
	w.pat.Status.LastRotationTime = timePtr(t0)
	w.clk.Step(time.Minute)
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err) // nothing to create: the Admitted condition says it is not admitted
	}
	w.pat.Spec.SecretName = "stolen"
	for range 2 {
		if _, err := w.reconcile(); reasonOf(err) != iamv1alpha1.ReasonNotAdmitted {
			t.Fatalf("err = %v, want %s", err, iamv1alpha1.ReasonNotAdmitted)
		}
	}
	if w.secret("stolen") != nil || !holds(w.secret("ci"), tok.ID) {
		t.Fatal("the token was moved to the Secret an unadmitted spec names")
	}
	if n := w.issues(); n != 0 || len(cons.restarts) != 0 {
		t.Fatalf("%d creates, restarts %v for an unadmitted spec", n, cons.restarts)
	}
}

// Deletion leaves credentials upstream only when the spec that says Orphan is admitted: a
// deletionPolicy switched to Orphan without a record (after kubectl delete, when updates skip
// the webhooks) revokes, and says so.
func TestOrphanOnlyWhenAdmitted(t *testing.T) {
	cases := map[string]struct {
		admission Admission
		policy    iamv1alpha1.DeletionPolicy
		want      bool
	}{
		"Delete":                  {policy: iamv1alpha1.DeletionPolicyDelete},
		"Orphan, no policies":     {policy: iamv1alpha1.DeletionPolicyOrphan, want: true},
		"Orphan, policies off":    {admission: &fakeAdmission{verdict: AdmissionResult{Off: true}}, policy: iamv1alpha1.DeletionPolicyOrphan, want: true},
		"Orphan, allowed":         {admission: &fakeAdmission{verdict: AdmissionResult{Allowed: true, Enforced: true}}, policy: iamv1alpha1.DeletionPolicyOrphan, want: true},
		"Orphan, only warned":     {admission: &fakeAdmission{verdict: AdmissionResult{Reason: iamv1alpha1.ReasonNotAdmitted}}, policy: iamv1alpha1.DeletionPolicyOrphan, want: true},
		"Orphan, not admitted":    {admission: &fakeAdmission{verdict: AdmissionResult{Enforced: true, Reason: iamv1alpha1.ReasonNotAdmitted}}, policy: iamv1alpha1.DeletionPolicyOrphan},
		"Orphan, policy says not": {admission: &fakeAdmission{verdict: AdmissionResult{Enforced: true, Reason: iamv1alpha1.ReasonPolicyDenied}}, policy: iamv1alpha1.DeletionPolicyOrphan},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.l.Admission = tc.admission
			got, err := w.l.OrphanAllowed(context.Background(), w.pat, tc.policy)
			if err != nil || got != tc.want {
				t.Fatalf("OrphanAllowed = %v, %v; want %v", got, err, tc.want)
			}
			if refused := slices.Contains(w.events(), iamv1alpha1.EventOrphanRefused); refused != (tc.policy == iamv1alpha1.DeletionPolicyOrphan && !tc.want) {
				t.Fatalf("OrphanRefused event %v", refused)
			}
		})
	}
}
