package credential

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"pgregory.net/rapid"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// TestLifecycleProperties drives one resource's lifecycle with random sequences of what can
// happen to it: reconciles, clock jumps, specs (every template and extra-key combination,
// renewals due at any point of a token's life, Secret renames), tenant edits of the Secret,
// the rotate and intent annotations and status, lost status writes, backend failures and
// tokens whose answer was lost, admission granted and withdrawn. After every step:
//   - no more creates upstream per hour than the mint budget;
//   - every create has a cause since the one before (a person's request, an edit, a failure,
//     a renewal no sooner than MinRenewalInterval): nothing mints again and again;
//   - every token created upstream carries the resource's marker with a valid number;
//   - while the spec is not admitted, nothing is minted and no Secret appears.
//
// At the end, once things settle, every active token is the Secret's or waits for its
// revocation, and deletion leaves none. `make fuzz` runs it longer (-rapid.checks).
func TestLifecycleProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) { newMachine(rt).run(rt) })
}

// machine is the world of one property run, with what the invariants need to know.
type machine struct {
	w *world
	// causes counts the creates the steps so far justify.
	causes int
	// admitted is false while the admission says the spec is not admitted; secretsThen are
	// the Secrets that existed when it stopped being admitted.
	admitted    bool
	secretsThen []string
	rotations   int
}

func newMachine(rt *rapid.T) *machine {
	w := newWorld(rt)
	w.l.MintBudget = DefaultMintBudget
	w.l.Admission = &fakeAdmission{fingerprint: "v1", verdict: AdmissionResult{Allowed: true, Enforced: true, Policy: "p"}}
	w.pat.Spec.ExpiresAfter = &metav1.Duration{Duration: 24 * time.Hour}
	return &machine{w: w, causes: 1, admitted: true}
}

func (m *machine) run(rt *rapid.T) {
	steps := map[string]func(*rapid.T){
		"reconcile": m.reconcile,
		"clock":     m.clock,
		"rotate":    m.rotate,
		"secret":    m.editSecret,
		"spec":      m.spec,
		"intent":    m.intent,
		"fault":     m.fault,
		"lostWrite": func(*rapid.T) { m.w.loseWrite = true; m.cause(1) },
		"admission": m.admission,
		"status":    func(*rapid.T) { m.w.pat.Status.RecentIssues = nil },
	}
	names := slices.Sorted(maps.Keys(steps))
	n := rapid.IntRange(1, 60).Draw(rt, "steps")
	for range n {
		name := rapid.SampledFrom(names).Draw(rt, "step")
		steps[name](rt)
		// Reconciles come often, as they do (events, requeues): a loop shows in them.
		for range rapid.IntRange(0, 4).Draw(rt, "reconciles") {
			m.reconcile(rt)
		}
	}
	m.settle(rt)
}

func (m *machine) reconcile(rt *rapid.T) {
	w := m.w
	before := len(w.iss.created)
	_, _ = w.reconcile()
	created := w.iss.created[before:]
	for _, k := range created {
		m.justify(rt, k)
	}
	m.checkBudget(rt)
	m.checkNames(rt)
	if !m.admitted {
		if len(created) > 0 {
			rt.Fatalf("%d creates while the spec is not admitted", len(created))
		}
		if got := m.secrets(); !subset(got, m.secretsThen) {
			rt.Fatalf("Secrets %q appeared while the spec is not admitted (there were %q)", got, m.secretsThen)
		}
	}
}

// cause records that what just happened may justify n creates (not n more: causes do not
// add up, or a loop would hide behind the steps around it).
func (m *machine) cause(n int) { m.causes = max(m.causes, n) }

// justify consumes a cause for the create k, or a renewal due by the time since the
// previous create.
func (m *machine) justify(rt *rapid.T, k devinapi.APIKey) {
	all := m.w.iss.created
	i := slices.IndexFunc(all, func(c devinapi.APIKey) bool { return c.ID == k.ID })
	if i > 0 {
		life := m.w.pat.Spec.Lifetime()
		if k.CreatedAt.Sub(all[i-1].CreatedAt) >= min(iamv1alpha1.MinRenewalInterval, life*2/3) {
			return
		}
	}
	if m.causes == 0 {
		rt.Fatalf("create %s (%s) has no cause: %d creates so far, log %q", k.ID, m.w.pat.Status.LastRotationReason, len(all), m.w.log)
	}
	m.causes--
}

func (m *machine) checkBudget(rt *rapid.T) {
	all := m.w.iss.created
	for i, k := range all {
		n := 0
		for _, c := range all[i:] {
			if c.CreatedAt.Sub(k.CreatedAt) < time.Hour {
				n++
			}
		}
		if n > m.w.l.mintBudget() {
			rt.Fatalf("%d creates within an hour of %s, budget %d", n, k.CreatedAt, m.w.l.mintBudget())
		}
	}
}

func (m *machine) checkNames(rt *rapid.T) {
	for _, k := range m.w.iss.created {
		if n, ok := testOwner.IssueNumber(k.Name); !ok || n < 1 || n > iamv1alpha1.MaxIssueCount {
			rt.Fatalf("token %s is named %q: not the resource's marker with a valid number", k.ID, k.Name)
		}
	}
}

func (m *machine) clock(rt *rapid.T) {
	d := rapid.SampledFrom([]time.Duration{time.Second, time.Minute, 10 * time.Minute, 31 * time.Minute, 2 * time.Hour, 20 * time.Hour}).Draw(rt, "jump")
	m.w.clk.Step(d)
}

func (m *machine) rotate(*rapid.T) {
	m.rotations++
	if m.w.pat.Annotations == nil {
		m.w.pat.Annotations = map[string]string{}
	}
	m.w.pat.Annotations[iamv1alpha1.RotateAnnotation] = fmt.Sprint(m.rotations)
	m.cause(1)
}

func (m *machine) editSecret(rt *rapid.T) {
	sec := m.w.secret(SecretName(m.w.pat))
	if sec == nil {
		return
	}
	ctx := context.Background()
	switch rapid.IntRange(0, 2).Draw(rt, "edit") {
	case 0:
		_ = m.w.kube.Delete(ctx, sec)
	case 1:
		for k := range sec.Data {
			sec.Data[k] = []byte("tampered")
		}
		_ = m.w.kube.Update(ctx, sec)
	default:
		for i := range 20 {
			sec.Data[fmt.Sprintf("junk-%02d", i)] = []byte("x")
		}
		_ = m.w.kube.Update(ctx, sec)
	}
	m.cause(1)
}

// spec draws a spec within the CRD's older rules (renewBefore shorter than expiresAfter),
// with every template and extra-key combination, the token's own key included.
func (m *machine) spec(rt *rapid.T) {
	spec := &m.w.pat.Spec.CredentialSpec
	life := rapid.SampledFrom([]time.Duration{time.Hour, 2 * time.Hour, 24 * time.Hour}).Draw(rt, "expiresAfter")
	spec.ExpiresAfter = &metav1.Duration{Duration: life}
	spec.RenewBefore = nil
	if before := life - rapid.SampledFrom([]time.Duration{time.Second, time.Minute, life / 2, life * 2 / 3}).Draw(rt, "renewal after"); before >= 5*time.Minute {
		spec.RenewBefore = &metav1.Duration{Duration: before}
	}
	keys := []string{"", "token", "creds", "id"}
	tmpl := &iamv1alpha1.SecretTemplate{Key: rapid.SampledFrom([]string{"", "creds"}).Draw(rt, "key")}
	if x := (iamv1alpha1.SecretExtraKeys{TokenID: rapid.SampledFrom(keys).Draw(rt, "tokenID"), APIURL: rapid.SampledFrom(keys).Draw(rt, "apiURL")}); x != (iamv1alpha1.SecretExtraKeys{}) {
		tmpl.ExtraKeys = &x
	}
	spec.SecretTemplate = tmpl
	spec.SecretName = rapid.SampledFrom([]string{"", "other"}).Draw(rt, "secretName")
	m.w.l.APIURL = "https://api.devin.ai"
	m.w.pat.Generation++
	m.cause(1)
}

func (m *machine) intent(rt *rapid.T) {
	a := m.w.pat.Annotations
	if a == nil {
		a = map[string]string{}
		m.w.pat.Annotations = a
	}
	v := rapid.SampledFrom([]string{"", "-1", "0", "x", "1000000001", "9223372036854775807", "remove"}).Draw(rt, "intent")
	if v == "remove" {
		delete(a, iamv1alpha1.IssueIntentAnnotation)
	} else {
		a[iamv1alpha1.IssueIntentAnnotation] = v
	}
	m.cause(1)
}

// fault makes the next create fail: before reaching the backend, or after creating the
// token (its answer lost).
func (m *machine) fault(rt *rapid.T) {
	lost := rapid.Bool().Draw(rt, "answer lost")
	iss := m.w.iss
	iss.IssueFn = func(_ context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error) {
		iss.IssueFn = nil
		if lost {
			iss.mint(name, expiresAt)
		}
		return nil, fmt.Errorf("create: %w", devinapi.ErrRetryable)
	}
	m.cause(2)
}

func (m *machine) admission(rt *rapid.T) {
	adm := m.w.l.Admission.(*fakeAdmission)
	m.admitted = rapid.Bool().Draw(rt, "admitted")
	adm.fingerprint += "'"
	if m.admitted {
		adm.verdict = AdmissionResult{Allowed: true, Enforced: true, Policy: "p"}
		m.cause(1) // a spec admitted again may get what it asked for meanwhile
		return
	}
	adm.verdict = AdmissionResult{Enforced: true, Reason: iamv1alpha1.ReasonNotAdmitted, Message: "no valid admission record"}
	m.secretsThen = m.secrets()
}

// secrets are the names of the Secrets in the store.
func (m *machine) secrets() []string {
	var list corev1.SecretList
	_ = m.w.kube.List(context.Background(), &list)
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	return out
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// settle lets things settle (no more faults, the spec admitted, the intent the operator's
// own, time passing), then checks that every active token is accounted for and that
// deletion leaves none.
func (m *machine) settle(rt *rapid.T) {
	w := m.w
	m.admitted = true
	w.l.Admission.(*fakeAdmission).verdict = AdmissionResult{Allowed: true, Enforced: true, Policy: "p"}
	w.iss.IssueFn = nil
	if _, err := announced(w.pat); err != nil {
		delete(w.pat.Annotations, iamv1alpha1.IssueIntentAnnotation)
	}
	m.cause(2)
	for range 8 { // past settling, grace periods and checks; each step twice (a reconcile
		// that renews makes no check: the next one does)
		w.clk.Step(40 * time.Minute)
		m.reconcile(rt)
		m.reconcile(rt)
	}
	st := w.pat.CredentialStatus()
	accounted := []string{}
	if st.Token != nil {
		accounted = append(accounted, st.Token.ID)
		if sec := w.secret(SecretName(w.pat)); sec == nil || sec.Annotations[iamv1alpha1.TokenIDAnnotation] != st.Token.ID {
			rt.Fatalf("the Secret does not hold the token status names (%s)", st.Token.ID)
		}
	}
	for _, p := range st.PendingRevocations {
		accounted = append(accounted, p.ID)
	}
	if active := w.iss.active(); !subset(active, accounted) {
		rt.Fatalf("active tokens %q, but only %q are the Secret's or wait for revocation; log %q", active, accounted, w.log)
	}
	for range 3 {
		if err := w.l.Revoke(context.Background(), w.pat, w.iss); err == nil {
			break
		}
		w.clk.Step(2 * time.Minute)
	}
	if active := w.iss.active(); len(active) > 0 {
		rt.Fatalf("tokens %q still active after deletion", active)
	}
}
