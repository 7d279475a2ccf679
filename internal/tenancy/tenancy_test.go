package tenancy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
)

// These tests read the package's own rules (who creates the key Secret, what a record is
// valid for); the API server's part is covered end to end by test/tenancy.

var start = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = iamv1alpha1.AddToScheme(s)
	return s
}

func keySecret(c client.Client, clk *clocktesting.FakePassiveClock) *KeySecret {
	return &KeySecret{Client: c, Reader: c, Namespace: "ops", Name: "admission-keys", Clock: clk}
}

func sealWith(t *testing.T, k *KeySecret) string {
	t.Helper()
	ring, err := k.KeyRing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := ring.Seal(policy.Record{Kind: policy.KindPersonalAccessToken, Namespace: "a", Name: "b", At: start})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func opensWith(k *KeySecret, value string) bool {
	ring, err := k.KeyRing(context.Background())
	if err != nil {
		return false
	}
	_, err = ring.Open(value)
	return err == nil
}

// The first replica creates the key Secret; every other one uses the same keys.
func TestReplicasShareOneKeySecret(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme()).Build()
	clk := clocktesting.NewFakePassiveClock(start)
	first, second := keySecret(c, clk), keySecret(c, clk)
	if !opensWith(second, sealWith(t, first)) {
		t.Fatal("a record sealed by one replica does not open on another")
	}
	list := &corev1.SecretList{}
	if err := c.List(context.Background(), list); err != nil || len(list.Items) != 1 {
		t.Fatalf("%d key Secrets (%v), want one", len(list.Items), err)
	}
}

// A replica that loses the race to create the Secret uses the winner's keys.
func TestTheLoserOfTheCreateRaceUsesTheWinnersKeys(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(scheme()).Build()
	clk := clocktesting.NewFakePassiveClock(start)
	winner := keySecret(c, clk)
	value := sealWith(t, winner)
	// The loser read before the winner created: its read finds nothing, its create conflicts.
	reads := 0
	racing := fake.NewClientBuilder().WithScheme(scheme()).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, _ client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if reads++; reads == 1 {
				return c.Get(ctx, client.ObjectKey{Namespace: "elsewhere", Name: key.Name}, obj, opts...) // not found
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Create: func(ctx context.Context, _ client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	if !opensWith(keySecret(racing, clk), value) {
		t.Error("the replica that lost the create race does not use the winner's keys")
	}
}

// A key rotated by hand reaches every replica within keyReload; a Secret that cannot be read
// keeps the last keys in use.
func TestKeysAreReadAgainAfterTheirReload(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientBuilder().WithScheme(scheme()).Build()
	clk := clocktesting.NewFakePassiveClock(start)
	k := keySecret(c, clk)
	old := sealWith(t, k)
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "ops", Name: "admission-keys"}, sec); err != nil {
		t.Fatal(err)
	}
	key, _ := policy.GenerateKey()
	sec.Data = map[string][]byte{policy.SecretKeyCurrent: key} // the previous key dropped
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if !opensWith(k, old) {
		t.Error("the keys were read again before keyReload")
	}
	clk.SetTime(start.Add(keyReload))
	if opensWith(k, old) {
		t.Error("a key removed from the Secret is still accepted after keyReload")
	}
	if err := c.Delete(ctx, sec); err != nil {
		t.Fatal(err)
	}
	k.Client = fake.NewClientBuilder().WithScheme(scheme()).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
			return errors.New("the API server is unavailable")
		},
	}).Build()
	clk.SetTime(start.Add(2 * keyReload))
	if _, err := k.KeyRing(ctx); err != nil {
		t.Errorf("a key Secret that cannot be read or made: %v, want the last keys", err)
	}
}

// gate is a Gate in enforce mode over the objects, whose RBAC allows alice to use any policy.
func gate(t *testing.T, objs ...client.Object) *Gate {
	t.Helper()
	c := fake.NewClientBuilder().WithScheme(scheme()).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if sar, ok := obj.(*authorizationv1.SubjectAccessReview); ok {
				sar.Status.Allowed = sar.Spec.User == "alice"
				return nil
			}
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	clk := clocktesting.NewFakePassiveClock(start)
	return &Gate{Reader: c, Reviewer: policy.NewSubjectAccessReviewer(c, policy.SAROptions{Clock: clk}),
		Keys: keySecret(c, clk), Mode: Enforce, Clock: clk}
}

var alice = policy.Requester{User: "alice", Email: "alice@example.com"}

func pat(name string) *iamv1alpha1.PersonalAccessToken {
	return &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, CreationTimestamp: metav1.NewTime(start)},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: "alice@example.com"}},
	}
}

// admitted is obj with the record the webhook writes for who's request.
func admitted(t *testing.T, g *Gate, obj *iamv1alpha1.PersonalAccessToken, who policy.Requester) *iamv1alpha1.PersonalAccessToken {
	t.Helper()
	d, err := g.Decide(context.Background(), obj, who)
	if err != nil || !d.Allowed {
		t.Fatalf("decide: %+v, %v", d, err)
	}
	v, err := g.Seal(context.Background(), obj, who, d, "request-1")
	if err != nil {
		t.Fatal(err)
	}
	obj.Annotations = map[string]string{iamv1alpha1.AdmissionAnnotation: v}
	return obj
}

func tenantPolicy() *iamv1alpha1.CredentialPolicy {
	return &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "own-tokens"},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector:    iamv1alpha1.NamespaceSelector{MatchLabels: map[string]iamv1alpha1.LabelValue{"tenant": "a"}},
			PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{},
		},
	}
}

func namespace() *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"tenant": "a"}}}
}

// A record holds for the resource and the spec it was written for, and the decision is made
// again with the policies as they are now.
func TestARecordHoldsOnlyForItsResourceAndSpec(t *testing.T) {
	ctx := context.Background()
	g := gate(t, namespace(), tenantPolicy())
	obj := admitted(t, g, pat("ci"), alice)
	if res := g.Admit(ctx, obj); !res.Allowed || res.Policy != "own-tokens" {
		t.Fatalf("the admitted resource: %+v, want allowed by own-tokens", res)
	}

	changed := obj.DeepCopy()
	changed.Spec.TokenName = "changed behind the webhook"
	copied := pat("other")
	copied.Annotations = obj.Annotations
	replayed := obj.DeepCopy()
	replayed.CreationTimestamp = metav1.NewTime(start.Add(time.Hour)) // deleted and created again
	for name, o := range map[string]*iamv1alpha1.PersonalAccessToken{"spec changed": changed, "record copied": copied, "record replayed": replayed} {
		res := g.Admit(ctx, o)
		if res.Allowed || res.Reason != iamv1alpha1.ReasonNotAdmitted {
			t.Errorf("%s: %+v, want refused as %s", name, res, iamv1alpha1.ReasonNotAdmitted)
		}
	}

	// The policy is gone: the record still opens, and the decision now refuses.
	g.Reader = fake.NewClientBuilder().WithScheme(scheme()).WithObjects(namespace()).Build()
	if res := g.Admit(ctx, obj); res.Allowed || res.Reason != iamv1alpha1.ReasonPolicyDenied {
		t.Errorf("with no policy left: %+v, want %s", res, iamv1alpha1.ReasonPolicyDenied)
	}
}

// A resource that held a token before records existed is allowed while its spec is unchanged;
// one that was judged before never becomes one by losing its record.
func TestOnlyAnUnjudgedResourceWithATokenIsLegacy(t *testing.T) {
	ctx := context.Background()
	g := gate(t, namespace(), tenantPolicy())
	legacy := pat("legacy")
	legacy.Status.Token = &iamv1alpha1.IssuedToken{ID: "tok-1"}
	if res := g.Admit(ctx, legacy); !res.Allowed {
		t.Fatalf("a resource that held a token before records: %+v, want allowed", res)
	}
	if legacy.Status.UnsealedSpecHash == "" {
		t.Fatal("the spec it was first judged with is not recorded")
	}
	legacy.Spec.TokenName = "changed"
	if res := g.Admit(ctx, legacy); res.Allowed {
		t.Error("a legacy resource whose spec changed is still allowed")
	}

	judged := pat("judged")
	judged.Status.Token = &iamv1alpha1.IssuedToken{ID: "tok-2"}
	judged.Status.Conditions = []metav1.Condition{{Type: iamv1alpha1.ConditionAdmitted, Status: metav1.ConditionTrue}}
	if res := g.Admit(ctx, judged); res.Allowed || res.Reason != iamv1alpha1.ReasonNotAdmitted {
		t.Errorf("a judged resource whose record was removed: %+v, want %s", res, iamv1alpha1.ReasonNotAdmitted)
	}
}

func TestModes(t *testing.T) {
	ctx := context.Background()
	g := gate(t, namespace())
	g.Mode = Off
	if res := g.Admit(ctx, pat("x")); !res.Allowed || !res.Off {
		t.Errorf("mode off: %+v, want allowed", res)
	}
	g.Mode = Warn
	res := g.Admit(ctx, pat("x"))
	if res.Allowed || res.Enforced || !strings.Contains(res.Message, "admission record") {
		t.Errorf("mode warn without a record: %+v, want refused but not enforced", res)
	}
}
