package metrics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

var (
	t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	t1 = t0.Add(time.Hour)
)

func scheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := iamv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func cond(typ string, status metav1.ConditionStatus, reason, msg string) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(t0)}
}

func pat(ns, name string, st iamv1alpha1.CredentialStatus) *iamv1alpha1.PersonalAccessToken {
	p := &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	p.Status.CredentialStatus = st
	return p
}

func su(ns, name string, st iamv1alpha1.CredentialStatus) *iamv1alpha1.ServiceUser {
	s := &iamv1alpha1.ServiceUser{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Status.CredentialStatus = st
	return s
}

func TestCollect(t *testing.T) {
	objs := []client.Object{
		pat("team-a", "alice", iamv1alpha1.CredentialStatus{
			Conditions: []metav1.Condition{
				cond(iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonTokenIssued, "Secret alice holds token key-1"),
				cond(iamv1alpha1.ConditionReconciling, metav1.ConditionFalse, iamv1alpha1.ReasonTokenIssued, ""),
			},
			PendingRevocations: []iamv1alpha1.PendingRevocation{
				{ID: "key-0", RevokeAt: metav1.NewTime(t1)},
				{ID: "key-00", RevokeAt: metav1.NewTime(t0)},
			},
		}),
		pat("team-b", "bob", iamv1alpha1.CredentialStatus{
			Conditions: []metav1.Condition{
				cond(iamv1alpha1.ConditionReady, metav1.ConditionFalse, iamv1alpha1.ReasonSSOAccount, "use a ServiceUser"),
				cond(iamv1alpha1.ConditionStalled, metav1.ConditionTrue, iamv1alpha1.ReasonSSOAccount, "use a ServiceUser"),
			},
		}),
		su("team-a", "ci", iamv1alpha1.CredentialStatus{
			Conditions: []metav1.Condition{
				cond(iamv1alpha1.ConditionReady, metav1.ConditionUnknown, iamv1alpha1.ReasonIssuing, ""),
			},
			PendingRevocations: []iamv1alpha1.PendingRevocation{{ID: "key-9", RevokeAt: metav1.NewTime(t1)}},
		}),
		su("team-c", "fresh", iamv1alpha1.CredentialStatus{}), // no status yet: no series
	}
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(objs...).Build()
	c := NewResourceCollector(r, logr.Discard())

	want := `
# HELP token_operator_pending_revocation_due_timestamp_seconds When the earliest pending revocation of a resource (a replaced token in its grace period) is due (Unix seconds); absent when none is pending.
# TYPE token_operator_pending_revocation_due_timestamp_seconds gauge
token_operator_pending_revocation_due_timestamp_seconds{kind="PersonalAccessToken",name="alice",namespace="team-a"} 1.893553445e+09
token_operator_pending_revocation_due_timestamp_seconds{kind="ServiceUser",name="ci",namespace="team-a"} 1.893557045e+09
# HELP token_operator_resource_condition The conditions of each resource (kstatus: Ready, Reconciling, Stalled; ExpiringSoon on a ServiceUser): 1 for the current status and reason of each condition.
# TYPE token_operator_resource_condition gauge
token_operator_resource_condition{condition="Ready",kind="PersonalAccessToken",name="alice",namespace="team-a",reason="TokenIssued",status="True"} 1
token_operator_resource_condition{condition="Reconciling",kind="PersonalAccessToken",name="alice",namespace="team-a",reason="TokenIssued",status="False"} 1
token_operator_resource_condition{condition="Ready",kind="PersonalAccessToken",name="bob",namespace="team-b",reason="SSOAccount",status="False"} 1
token_operator_resource_condition{condition="Stalled",kind="PersonalAccessToken",name="bob",namespace="team-b",reason="SSOAccount",status="True"} 1
token_operator_resource_condition{condition="Ready",kind="ServiceUser",name="ci",namespace="team-a",reason="Issuing",status="Unknown"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), ConditionMetric, PendingRevocationMetric); err != nil {
		t.Fatal(err)
	}

	// A deleted resource leaves no series behind, and the next scrape sees the new status.
	if err := r.Delete(context.Background(), objs[1]); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, ConditionMetric); n != 3 {
		t.Errorf("after deleting bob: %d condition series, want 3", n)
	}
}

// failingReader refuses to list one kind, like a cache that has not started.
type failingReader struct {
	client.Reader
	refuse string
}

func (f failingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*iamv1alpha1.ServiceUserList); ok && f.refuse == KindServiceUser {
		return errors.New("the cache is not started, can not read objects")
	}
	return f.Reader.List(ctx, list, opts...)
}

func TestCollectWhenAKindCannotBeListed(t *testing.T) {
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(
		pat("team-a", "alice", iamv1alpha1.CredentialStatus{Conditions: []metav1.Condition{
			cond(iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonTokenIssued, ""),
		}}),
		su("team-a", "ci", iamv1alpha1.CredentialStatus{Conditions: []metav1.Condition{
			cond(iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonTokenIssued, ""),
		}}),
	).Build()
	c := NewResourceCollector(failingReader{Reader: r, refuse: KindServiceUser}, logr.Discard())

	// The scrape still succeeds: the other kind is there, the failure is counted.
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP token_operator_resource_condition The conditions of each resource (kstatus: Ready, Reconciling, Stalled; ExpiringSoon on a ServiceUser): 1 for the current status and reason of each condition.
# TYPE token_operator_resource_condition gauge
token_operator_resource_condition{condition="Ready",kind="PersonalAccessToken",name="alice",namespace="team-a",reason="TokenIssued",status="True"} 1
# HELP token_operator_resource_list_errors_total Scrapes that could not list a kind from the operator's cache (not started or not synced yet): that kind's resource series were left out.
# TYPE token_operator_resource_list_errors_total counter
token_operator_resource_list_errors_total{kind="ServiceUser"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}

// TestNoTokenInLabels: whatever the status holds (token IDs and names, messages, and even a
// token value where a reason or a condition type should be), no label carries it.
func TestNoTokenInLabels(t *testing.T) {
	const value = "cog_S3cretTokenValue0123456789abcdef"
	st := iamv1alpha1.CredentialStatus{
		Conditions: []metav1.Condition{
			cond(iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonTokenIssued, "Secret s holds token key-secret-id "+value),
			cond(value, metav1.ConditionTrue, value, value),
		},
		Token:              &iamv1alpha1.IssuedToken{ID: "key-secret-id", Name: "upstream-token-name", IssuedAt: metav1.NewTime(t0)},
		PendingIssue:       &iamv1alpha1.PendingIssue{Name: "pending-token-name", Since: metav1.NewTime(t0)},
		PendingRevocations: []iamv1alpha1.PendingRevocation{{ID: "old-key-id", Name: "old-token-name", RevokeAt: metav1.NewTime(t1)}},
		SecretName:         "the-secret",
		SecretHash:         "0123456789abcdef0123456789abcdef",
	}
	r := fake.NewClientBuilder().WithScheme(scheme(t)).WithObjects(pat("ns", "p", st), su("ns", "s", st)).Build()
	c := NewResourceCollector(r, logr.Discard())
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	if !strings.Contains(out, `reason="REDACTED"`) || !strings.Contains(out, `condition="REDACTED"`) {
		t.Errorf("a token-like reason and type should be exported as %s:\n%s", Redacted, out)
	}
	if tokenpattern.Contains(out) {
		t.Errorf("the metrics hold a token-like value:\n%s", out)
	}
	for _, s := range []string{"key-secret-id", "upstream-token-name", "pending-token-name", "old-key-id", "old-token-name", "the-secret", st.SecretHash, "holds token"} {
		if strings.Contains(out, s) {
			t.Errorf("the metrics hold %q from the status:\n%s", s, out)
		}
	}
}

func TestRegisterReplacesAnEarlierCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := scheme(t)
	first := fake.NewClientBuilder().WithScheme(s).WithObjects(pat("ns", "old", iamv1alpha1.CredentialStatus{
		Conditions: []metav1.Condition{cond(iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonTokenIssued, "")},
	})).Build()
	second := fake.NewClientBuilder().WithScheme(s).WithObjects(pat("ns", "new", iamv1alpha1.CredentialStatus{
		Conditions: []metav1.Condition{cond(iamv1alpha1.ConditionReady, metav1.ConditionTrue, iamv1alpha1.ReasonTokenIssued, "")},
	})).Build()
	if err := Register(reg, NewResourceCollector(first, logr.Discard())); err != nil {
		t.Fatal(err)
	}
	if err := Register(reg, NewResourceCollector(second, logr.Discard())); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP token_operator_resource_condition The conditions of each resource (kstatus: Ready, Reconciling, Stalled; ExpiringSoon on a ServiceUser): 1 for the current status and reason of each condition.
# TYPE token_operator_resource_condition gauge
token_operator_resource_condition{condition="Ready",kind="PersonalAccessToken",name="new",namespace="ns",reason="TokenIssued",status="True"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), ConditionMetric); err != nil {
		t.Fatal(err)
	}
}

func TestEarliestRevocation(t *testing.T) {
	tests := map[string]struct {
		pending []iamv1alpha1.PendingRevocation
		want    time.Time
	}{
		"none":           {},
		"one":            {pending: []iamv1alpha1.PendingRevocation{{ID: "a", RevokeAt: metav1.NewTime(t1)}}, want: t1},
		"earliest first": {pending: []iamv1alpha1.PendingRevocation{{ID: "a", RevokeAt: metav1.NewTime(t0)}, {ID: "b", RevokeAt: metav1.NewTime(t1)}}, want: t0},
		"earliest last":  {pending: []iamv1alpha1.PendingRevocation{{ID: "a", RevokeAt: metav1.NewTime(t1)}, {ID: "b", RevokeAt: metav1.NewTime(t0)}}, want: t0},
		"zero ignored":   {pending: []iamv1alpha1.PendingRevocation{{ID: "a"}, {ID: "b", RevokeAt: metav1.NewTime(t1)}}, want: t1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := earliestRevocation(tc.pending)
			if ok != !tc.want.IsZero() || !got.Equal(tc.want) {
				t.Errorf("earliestRevocation = %v, %v; want %v", got, ok, tc.want)
			}
		})
	}
}
