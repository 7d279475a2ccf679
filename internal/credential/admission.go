package credential

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Admission applies the cluster administrators' tenancy policy to a resource (see
// internal/tenancy): whether its current spec, requested by whom it was, is allowed.
type Admission interface {
	Admit(ctx context.Context, obj Object) AdmissionResult
	// Fingerprint changes whenever anything the verdict depends on, besides RBAC, changes:
	// the spec's generation, the admission record, the policies, the namespace's labels.
	// A verdict with the same fingerprint is reused, except before a create upstream.
	Fingerprint(ctx context.Context, obj Object) (string, error)
}

// verdicts remembers the last verdict on each resource with its fingerprint, so that a
// reconcile that creates nothing (a periodic check, a Secret repaired) asks no
// SubjectAccessReview: RBAC alone changing shows at the next create, which always decides
// afresh.
type verdicts struct {
	mu   sync.Mutex
	last map[types.UID]verdict
}

type verdict struct {
	fingerprint string
	result      AdmissionResult
}

func (v *verdicts) get(uid types.UID, fingerprint string) (AdmissionResult, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	got, ok := v.last[uid]
	return got.result, ok && got.fingerprint == fingerprint
}

func (v *verdicts) put(uid types.UID, fingerprint string, res AdmissionResult) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.last == nil {
		v.last = map[types.UID]verdict{}
	}
	v.last[uid] = verdict{fingerprint: fingerprint, result: res}
}

func (v *verdicts) forget(uid types.UID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.last, uid)
}

// judge returns the verdict on obj's current spec: the last one when nothing it depends on
// changed and fresh is not asked for, else a new one (remembered when it was reached).
func (l *Lifecycle) judge(ctx context.Context, obj Object, fresh bool) (res AdmissionResult, cached bool) {
	fp, err := l.Admission.Fingerprint(ctx, obj)
	if err == nil && !fresh {
		if res, ok := l.verdicts.get(obj.GetUID(), fp); ok {
			return res, true
		}
	}
	res = l.Admission.Admit(ctx, obj)
	if err == nil && res.Err == nil {
		l.verdicts.put(obj.GetUID(), fp, res)
	}
	return res, false
}

// AdmissionResult is the verdict on a resource's current spec.
type AdmissionResult struct {
	// Allowed is true when a policy allows it.
	Allowed bool
	// Enforced is false when a refusal only warns (--policy-mode=warn).
	Enforced bool
	// Policy is the policy that allows it.
	Policy string
	// Reason (PolicyDenied, NotAdmitted) and Message say why it is refused.
	Reason, Message string
	// Err is set when the verdict could not be reached (retry).
	Err error
	// ReissueRevoked is the policy's onUpstreamRevocation (nil: the operator's flag).
	ReissueRevoked *bool
	// Off is set when no policy applies (--policy-mode=off): the resource is not judged.
	Off bool
}

// admit judges the resource's current spec, records the verdict (out.Admitted, for the
// Admitted condition) and status.policy, and returns the problem that stops a create upstream
// (nil when one may go ahead). A refusal stops nothing else: the current token keeps working
// and renewing stops; nothing is revoked.
func (l *Lifecycle) admit(ctx context.Context, obj Object, fresh bool, out *Outcome) (AdmissionResult, bool, error) {
	if l.Admission == nil {
		return AdmissionResult{Allowed: true, Enforced: true}, false, nil
	}
	res, cached := l.judge(ctx, obj, fresh)
	problem := l.record(ctx, obj, res, !cached, out)
	return res, cached, problem
}

// record keeps the verdict in out and status.policy, and returns the problem that stops a
// create upstream (nil when one may go ahead); a new verdict (announce) that only warns is
// also an event.
func (l *Lifecycle) record(ctx context.Context, obj Object, res AdmissionResult, announce bool, out *Outcome) error {
	if res.Err != nil {
		return fmt.Errorf("apply the tenancy policy: %w", res.Err)
	}
	st := obj.CredentialStatus()
	if res.Off {
		// Not judged: a later enforce treats it as admitted before records (unchanged spec).
		st.Policy = ""
		out.Admitted, out.Unjudged = nil, true
		return nil
	}
	setAdmitted := func(status metav1.ConditionStatus, reason, msg string) {
		out.Admitted, out.Unjudged = &Verdict{Status: status, Reason: reason, Message: msg}, false
	}
	if res.Allowed {
		st.Policy = res.Policy
		setAdmitted(metav1.ConditionTrue, iamv1alpha1.ReasonPolicyAllowed, "allowed by "+describePolicy(res.Policy))
		return nil
	}
	st.Policy = ""
	msg := res.Message
	if st.Token != nil && st.Token.ExpiresAt != nil {
		msg += fmt.Sprintf("; the current token keeps working until it expires (%s), and is not renewed", st.Token.ExpiresAt.UTC().Format(time.RFC3339))
	}
	setAdmitted(metav1.ConditionFalse, res.Reason, msg)
	if !res.Enforced {
		if !announce {
			return nil
		}
		l.event(obj, corev1.EventTypeWarning, res.Reason, "Admit", "%s (--policy-mode=warn: going on)", msg)
		ctrl.LoggerFrom(ctx).Info("no policy allows the resource; going on (warn mode)", "reason", res.Reason)
		return nil
	}
	return Stall(res.Reason, msg, nil)
}

// Allows reports whether the tenancy policy lets the resource's current spec change anything
// upstream (true in warn mode, and without a policy); the verdict is recorded by Reconcile.
func (l *Lifecycle) Allows(ctx context.Context, obj Object) bool {
	if l.Admission == nil {
		return true
	}
	res, _ := l.judge(ctx, obj, false)
	return res.Err == nil && (res.Allowed || !res.Enforced)
}

func describePolicy(name string) string {
	if name == "" {
		return "an earlier release (admitted before CredentialPolicies; its spec is unchanged since)"
	}
	return "CredentialPolicy " + name
}
