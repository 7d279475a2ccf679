package webhook

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func newPAT(ns, name string, user iamv1alpha1.UserReference) *iamv1alpha1.PersonalAccessToken {
	return &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: user},
	}
}

func byEmail(email string) iamv1alpha1.UserReference { return iamv1alpha1.UserReference{Email: email} }
func byID(id string) iamv1alpha1.UserReference       { return iamv1alpha1.UserReference{ID: id} }

// mustCreate creates obj as c and fails the test on any error.
func mustCreate(t *testing.T, c client.Client, obj client.Object) {
	t.Helper()
	if err := c.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
	}
}

// wantRefused checks that err is an API error with the given HTTP code whose message contains
// every one of want.
func wantRefused(t *testing.T, err error, code int32, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the request was admitted; want it refused with %d", code)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("error %v is not an API status", err)
	}
	if got := status.Status().Code; got != code {
		t.Errorf("code = %d, want %d (%v)", got, code, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q does not contain %q", err.Error(), w)
		}
	}
}

func TestPATOwnerMayCreateAndIsRecorded(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	ctx := context.Background()
	tests := map[string]struct {
		requester string
		user      iamv1alpha1.UserReference
	}{
		"email in another case":     {requester: "alice@example.com", user: byEmail("Alice@Example.COM")},
		"user name in another case": {requester: "ALICE@example.com", user: byEmail("alice@example.com")},
		"by user ID":                {requester: "dave@example.com", user: byID("user-dave")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pat := newPAT(ns, "", tc.user)
			pat.GenerateName = "owner-"
			// A requester cannot speak for someone else through the annotation: the
			// mutating webhook overwrites it.
			pat.Annotations = map[string]string{iamv1alpha1.RequestedByAnnotation: "someone-else@example.com", "team": "a"}
			mustCreate(t, e.clientAs(tc.requester), pat)

			var got iamv1alpha1.PersonalAccessToken
			if err := e.admin.Get(ctx, client.ObjectKeyFromObject(pat), &got); err != nil {
				t.Fatal(err)
			}
			if by := got.Annotations[iamv1alpha1.RequestedByAnnotation]; by != tc.requester {
				t.Errorf("requested-by = %q, want %q", by, tc.requester)
			}
			if got.Annotations["team"] != "a" {
				t.Errorf("other annotations were changed: %v", got.Annotations)
			}
		})
	}
}

func TestPATSomeoneElseIsRefused(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	tests := map[string]struct {
		user     iamv1alpha1.UserReference
		as       string
		want     []string
		unwanted string
	}{
		"by email": {user: byEmail("alice@example.com"),
			want: []string{`"mallory@example.com" may not create a PersonalAccessToken for alice@example.com`, "only its owner or a member of " + adminGroup}},
		"by user ID, without learning whose ID it is": {user: byID("user-alice"),
			want: []string{`"mallory@example.com" may not create a PersonalAccessToken for user ID user-alice`}, unwanted: "alice@example.com"},
		"a look-alike name (Kelvin sign) is not the owner": {user: byEmail("kate@example.com"), as: "\u212Aate@example.com",
			want: []string{`may not create a PersonalAccessToken for kate@example.com`}},
		"an SSO account": {user: byEmail("bob@example.com"),
			want: []string{`"mallory@example.com" may not create a PersonalAccessToken for bob@example.com`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			as := tc.as
			if as == "" {
				as = "mallory@example.com"
			}
			err := e.clientAs(as, "developers").Create(context.Background(), newPAT(ns, "mallory", tc.user))
			wantRefused(t, err, http.StatusForbidden, tc.want...)
			if tc.unwanted != "" && strings.Contains(err.Error(), tc.unwanted) {
				t.Fatalf("the refusal tells %q: %v", tc.unwanted, err)
			}
		})
	}
}

func TestPATAdminGroupMayCreateForOthers(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	const sa = "system:serviceaccount:argocd:argocd-application-controller"
	pat := newPAT(ns, "for-carol", byEmail("carol@example.com"))
	mustCreate(t, e.clientAs(sa, adminGroup), pat)
	if by := pat.Annotations[iamv1alpha1.RequestedByAnnotation]; by != sa {
		t.Errorf("requested-by = %q, want %q", by, sa)
	}

	// The admin group does not lift the other rules.
	err := e.clientAs(sa, adminGroup).Create(context.Background(), newPAT(ns, "for-bob", byEmail("bob@example.com")))
	wantRefused(t, err, http.StatusForbidden, "linked to enterprise SSO")
}

func TestPATForSSOAccountIsRefusedWithServiceUserHint(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	for name, user := range map[string]iamv1alpha1.UserReference{"by email": byEmail("bob@example.com"), "by user ID": byID("user-bob")} {
		t.Run(name, func(t *testing.T) {
			err := e.clientAs("bob@example.com").Create(context.Background(), newPAT(ns, "bob", user))
			named := "bob@example.com"
			if user.ID != "" {
				named = "user ID user-bob" // as the request named him: an email it did not give stays unsaid
			}
			wantRefused(t, err, http.StatusForbidden, named+" is linked to enterprise SSO", "create a ServiceUser instead")
			if user.ID != "" && strings.Contains(err.Error(), "bob@example.com") {
				t.Errorf("the refusal reveals the owner's email: %v", err)
			}
		})
	}
}

func TestPATForUnknownUserIsRefused(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	err := e.clientAs("zed@example.com").Create(context.Background(), newPAT(ns, "zed", byEmail("zed@example.com")))
	wantRefused(t, err, http.StatusUnprocessableEntity, `spec.user.email: Invalid value: "zed@example.com"`, "no member of the Devin enterprise has it")

	err = e.clientAs("argocd", adminGroup).Create(context.Background(), newPAT(ns, "nobody", byID("user-nobody")))
	wantRefused(t, err, http.StatusUnprocessableEntity, `spec.user.id: Invalid value: "user-nobody"`)
}

func TestPATRequestedByCannotChange(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	ctx := context.Background()
	alice := e.clientAs("alice@example.com")
	pat := newPAT(ns, "alice", byEmail("alice@example.com"))
	mustCreate(t, alice, pat)

	tests := map[string]func(map[string]string){
		"changed": func(a map[string]string) { a[iamv1alpha1.RequestedByAnnotation] = "bob@example.com" },
		"removed": func(a map[string]string) { delete(a, iamv1alpha1.RequestedByAnnotation) },
		"emptied": func(a map[string]string) { a[iamv1alpha1.RequestedByAnnotation] = "" },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			// Neither the owner nor a cluster admin may rewrite history.
			for who, c := range map[string]client.Client{"owner": alice, "cluster admin": e.admin} {
				var cur iamv1alpha1.PersonalAccessToken
				if err := e.admin.Get(ctx, client.ObjectKeyFromObject(pat), &cur); err != nil {
					t.Fatal(err)
				}
				base := cur.DeepCopy()
				change(cur.Annotations)
				t.Logf("as %s", who)
				err := c.Patch(ctx, &cur, client.MergeFrom(base))
				wantRefused(t, err, http.StatusForbidden, "records who created this PersonalAccessToken", `"alice@example.com"`)
			}
		})
	}

	// Other updates pass: a spec change reaches the webhook, annotations others write do not.
	path := ValidatePersonalAccessTokenPath
	before := e.probe.Calls(path)
	var cur iamv1alpha1.PersonalAccessToken
	if err := e.admin.Get(ctx, client.ObjectKeyFromObject(pat), &cur); err != nil {
		t.Fatal(err)
	}
	base := cur.DeepCopy()
	cur.Annotations[iamv1alpha1.RotateAnnotation] = "1"
	if err := alice.Patch(ctx, &cur, client.MergeFrom(base)); err != nil {
		t.Fatalf("annotate: %v", err)
	}
	if n := e.probe.Calls(path) - before; n != 0 {
		t.Errorf("an annotation change reached the webhook %d times; want 0", n)
	}
	base = cur.DeepCopy()
	cur.Spec.Suspend = true
	if err := alice.Patch(ctx, &cur, client.MergeFrom(base)); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	// At least once, not exactly once: the API server runs admission again when its own
	// update retries (its watch cache can still hold the version the annotation replaced).
	if n := e.probe.Calls(path) - before; n < 1 {
		t.Errorf("a spec change reached the webhook %d times; want it to", n)
	}
}

func TestPATWithoutTheMutatingWebhookIsRefused(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	ctx := context.Background()
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	key := client.ObjectKey{Name: "mutating-webhook-configuration"}
	if err := e.admin.Get(ctx, key, &mwc); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Delete(ctx, &mwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		restored := &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: mwc.Name}, Webhooks: mwc.Webhooks,
		}
		if err := e.admin.Create(ctx, restored); err != nil {
			t.Fatalf("restore the mutating webhook: %v", err)
		}
		// Wait until the API server calls it again, so that the next tests see it.
		pollAdmission(t, func(ctx context.Context) bool {
			pat := newPAT(ns, "", byEmail("alice@example.com"))
			pat.GenerateName = "restored-"
			return e.clientAs("alice@example.com").Create(ctx, pat) == nil
		})
	})

	// The API server notices the deletion asynchronously: wait for the refusal.
	var last error
	pollAdmission(t, func(ctx context.Context) bool {
		pat := newPAT(ns, "", byEmail("alice@example.com"))
		pat.GenerateName = "unrecorded-"
		pat.Annotations = map[string]string{iamv1alpha1.RequestedByAnnotation: "bob@example.com"}
		last = e.clientAs("alice@example.com").Create(ctx, pat)
		return last != nil
	})
	wantRefused(t, last, http.StatusForbidden, "annotation iam.devin.ai/requested-by must name the requester", "madmission.iam.devin.ai")
}

// pollAdmission waits until done reports true; the API server applies changes of webhook
// configurations asynchronously.
func pollAdmission(t *testing.T, done func(context.Context) bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true,
		func(ctx context.Context) (bool, error) { return done(ctx), nil })
	if err != nil {
		t.Fatalf("the API server did not pick up the webhook configuration: %v", err)
	}
}

func TestPATLookupsAreCached(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	e.expireCaches()
	dave := e.clientAs("dave@example.com")

	before := e.devin.TotalCalls()
	mustCreate(t, dave, newPAT(ns, "first", byEmail("dave@example.com")))
	if e.devin.TotalCalls() == before {
		t.Fatal("the first create made no Devin API call; the test needs an empty cache")
	}

	before = e.devin.TotalCalls()
	mustCreate(t, dave, newPAT(ns, "second", byEmail("DAVE@example.com")))
	mustCreate(t, dave, newPAT(ns, "third", byID("user-dave")))
	if n := e.devin.TotalCalls() - before; n != 0 {
		t.Errorf("creates for a cached user made %d Devin API calls: %v", n, e.devin.Calls())
	}

	e.expireCaches()
	mustCreate(t, dave, newPAT(ns, "fourth", byEmail("dave@example.com")))
	if e.devin.TotalCalls() == before {
		t.Error("a create after the cache TTL made no Devin API call")
	}
}

func TestPATBackendDownIsRefusedAsCannotVerify(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	e.expireCaches()
	e.backendDown(t)
	err := e.clientAs("alice@example.com").Create(context.Background(), newPAT(ns, "alice", byEmail("alice@example.com")))
	wantRefused(t, err, http.StatusServiceUnavailable,
		`cannot verify user "alice@example.com": the Devin API could not be reached (it is temporarily unavailable); retry in 1s`)
	wantNoToken(t, e, err)
}

func TestPATBackendTooSlowIsRefusedWithinBackendTimeout(t *testing.T) {
	e := env(t)
	ns := e.namespace(t)
	e.expireCaches()
	// Slower than both BackendTimeout (3s) and the webhook's timeoutSeconds (5): the answer
	// the client gets is ours, not the API server's timeout.
	e.devin.SetFaults(devinapitest.Faults{Latency: time.Minute})
	t.Cleanup(func() { e.devin.SetFaults(devinapitest.Faults{}) })
	err := e.clientAs("alice@example.com").Create(context.Background(), newPAT(ns, "alice", byEmail("alice@example.com")))
	wantRefused(t, err, http.StatusServiceUnavailable,
		`admission webhook "vpersonalaccesstoken.iam.devin.ai" denied the request: cannot verify user "alice@example.com": the Devin API could not be reached (no answer within 3s)`)
}

// wantNoToken checks that neither err nor any log line carries the operator's credential.
func wantNoToken(t *testing.T, e *testEnv, err error) {
	t.Helper()
	tok := e.devin.AdminToken().Reveal()
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "cog_") {
		t.Errorf("the message carries a token: %v", err)
	}
	if lines := logs.containing(tok); len(lines) > 0 {
		t.Errorf("%d log lines carry the operator's token", len(lines))
	}
}

func TestPATInOperatorNamespaceIsNotAdmitted(t *testing.T) {
	e := env(t)
	// The operator's own namespace is outside every webhook's namespaceSelector.
	pat := newPAT(operatorNamespace, "not-admitted", byEmail("alice@example.com"))
	mustCreate(t, e.clientAs("mallory@example.com"), pat)
	t.Cleanup(func() { _ = e.admin.Delete(context.Background(), pat) })
	if by, ok := pat.Annotations[iamv1alpha1.RequestedByAnnotation]; ok {
		t.Errorf("the mutating webhook ran in %s: requested-by = %q", operatorNamespace, by)
	}
}
