package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// serve sends one raw AdmissionReview body to the webhook at path, built for api, and returns
// the answer. Panics are not recovered, so that one fails the test.
func serve(t testing.TB, api directory.API, path string, body []byte) (*admissionv1.AdmissionResponse, []byte) {
	t.Helper()
	return serveWith(t, directory.New(api, directory.Options{}), path, body)
}

// serveWith is serve with a directory of the test's own.
func serveWith(t testing.TB, dir *directory.Directory, path string, body []byte) (*admissionv1.AdmissionResponse, []byte) {
	t.Helper()
	hooks, err := newWebhooks(testScheme(), Options{Directory: dir, PATAdminGroups: []string{adminGroup}, BackendTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hook := hooks[path].WithRecoverPanic(false)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	hook.ServeHTTP(rec, req)
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil {
		t.Fatalf("the answer is not an AdmissionReview: %v: %q", err, rec.Body.String())
	}
	if review.Response == nil {
		t.Fatalf("the AdmissionReview has no response: %q", rec.Body.String())
	}
	return review.Response, rec.Body.Bytes()
}

// rev is an AdmissionReview request; object and oldObject are marshalled unless they are
// []byte already.
type rev struct {
	op        admissionv1.Operation
	kind      string
	user      string
	groups    []string
	object    any
	oldObject any
}

func (r rev) body() []byte {
	raw := func(v any) runtime.RawExtension {
		switch v := v.(type) {
		case nil:
			return runtime.RawExtension{}
		case []byte:
			return runtime.RawExtension{Raw: v}
		}
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	kind := r.kind
	if kind == "" {
		kind = "PersonalAccessToken"
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("req-1"),
			Kind:      metav1.GroupVersionKind{Group: iamv1alpha1.GroupVersion.Group, Version: iamv1alpha1.GroupVersion.Version, Kind: kind},
			Operation: r.op,
			UserInfo:  authenticationv1.UserInfo{Username: r.user, Groups: r.groups},
			Object:    raw(r.object),
			OldObject: raw(r.oldObject),
		},
	}
	b, err := json.Marshal(ar)
	if err != nil {
		panic(err)
	}
	return b
}

// pat is a PersonalAccessToken as the API server sends it, with requested-by set.
func pat(requestedBy string, user iamv1alpha1.UserReference) *iamv1alpha1.PersonalAccessToken {
	p := &iamv1alpha1.PersonalAccessToken{
		TypeMeta:   metav1.TypeMeta{APIVersion: iamv1alpha1.GroupVersion.String(), Kind: "PersonalAccessToken"},
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: user},
	}
	if requestedBy != "" {
		p.Annotations = map[string]string{iamv1alpha1.RequestedByAnnotation: requestedBy}
	}
	return p
}

func deleting(p *iamv1alpha1.PersonalAccessToken) *iamv1alpha1.PersonalAccessToken {
	now := metav1.Now()
	p.DeletionTimestamp = &now
	return p
}

func su(role string, ttl *metav1.Duration) *iamv1alpha1.ServiceUser {
	return &iamv1alpha1.ServiceUser{
		TypeMeta:   metav1.TypeMeta{APIVersion: iamv1alpha1.GroupVersion.String(), Kind: "ServiceUser"},
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
		Spec:       iamv1alpha1.ServiceUserSpec{Scope: iamv1alpha1.ScopeOrganization, Role: role, TTL: ttl},
	}
}

func deletingSU(s *iamv1alpha1.ServiceUser) *iamv1alpha1.ServiceUser {
	now := metav1.Now()
	s.DeletionTimestamp = &now
	return s
}

var huge = strings.Repeat("x", 1<<20)

func TestHandlersAnswerMalformedAndEdgeRequests(t *testing.T) {
	const alice = "alice@example.com"
	type testCase struct {
		path    string
		api     directory.API // nil: the fake directory
		body    []byte
		allowed bool
		code    int32 // checked when not zero
		msg     []string
		// patch, when set, is the JSON patch the answer must carry.
		patch string
	}
	aliceRef := byEmail(alice)
	tests := map[string]testCase{
		// Whatever reaches any webhook.
		"empty body":                {path: ValidatePersonalAccessTokenPath, code: http.StatusBadRequest},
		"not JSON":                  {path: ValidateServiceUserPath, body: []byte("{not json"), code: http.StatusBadRequest},
		"a JSON list":               {path: MutatePersonalAccessTokenPath, body: []byte(`[1,2,3]`), code: http.StatusBadRequest},
		"a review without request":  {path: MutatePersonalAccessTokenPath, body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), code: http.StatusBadRequest},
		"a review of another kind":  {path: ValidatePersonalAccessTokenPath, body: []byte(`{"apiVersion":"v1","kind":"Pod"}`), code: http.StatusBadRequest},
		"an unknown operation":      {path: ValidatePersonalAccessTokenPath, body: rev{op: "PATCH", user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusBadRequest},
		"no object":                 {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice}.body(), code: http.StatusBadRequest},
		"object null":               {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: []byte("null")}.body(), code: http.StatusBadRequest},
		"object of the wrong kind":  {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: su("Member", nil)}.body(), code: http.StatusBadRequest},
		"object of an unknown kind": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, user: alice, object: []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`)}.body(), code: http.StatusBadRequest},
		"object with a wrongly typed field": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice,
			object: []byte(`{"apiVersion":"iam.devin.ai/v1alpha1","kind":"PersonalAccessToken","metadata":{"name":"x"},"spec":{"user":"alice"}}`)}.body(), code: http.StatusBadRequest},
		"update without the old object": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Update, kind: "ServiceUser", user: alice, object: su("Member", nil)}.body(), code: http.StatusBadRequest},

		// PersonalAccessToken, validating.
		"pat: owner": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), allowed: true},
		"pat: no spec": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, groups: []string{adminGroup},
			object: []byte(`{"apiVersion":"iam.devin.ai/v1alpha1","kind":"PersonalAccessToken","metadata":{"name":"x","annotations":{"iam.devin.ai/requested-by":"alice@example.com"}}}`)}.body(),
			code: http.StatusUnprocessableEntity, msg: []string{"exactly one of email or id"}},
		"pat: email and id": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice,
			object: pat(alice, iamv1alpha1.UserReference{Email: alice, ID: "user-bob"})}.body(), code: http.StatusUnprocessableEntity, msg: []string{"exactly one of email or id"}},
		"pat: no user name": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, groups: []string{adminGroup}, object: pat("", aliceRef)}.body(),
			code: http.StatusForbidden, msg: []string{"no user name"}},
		"pat: requested-by not set (no mutating webhook)": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: pat("", aliceRef)}.body(),
			code: http.StatusForbidden, msg: []string{`must name the requester "alice@example.com" but is ""`, "madmission.iam.devin.ai"}},
		"pat: huge email of someone else": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: pat(alice, byEmail(huge+"@example.com"))}.body(),
			code: http.StatusForbidden, msg: []string{"may not create a PersonalAccessToken for xxx"}},
		"pat: huge unknown email, admin": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: "argocd", groups: []string{adminGroup}, object: pat("argocd", byEmail(huge))}.body(),
			code: http.StatusUnprocessableEntity, msg: []string{"no member of the Devin enterprise has it"}},
		"pat: huge requester": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: huge, object: pat(huge, aliceRef)}.body(),
			code: http.StatusForbidden, msg: []string{"may not create"}},
		"pat: SSO account, admin": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: "argocd", groups: []string{adminGroup}, object: pat("argocd", byID("user-bob"))}.body(),
			code: http.StatusForbidden, msg: []string{"user ID user-bob is linked to enterprise SSO", "ServiceUser"}},
		"pat: the API refuses the ID": {path: ValidatePersonalAccessTokenPath, api: failingAPI(fmt.Errorf("devinapi: GetUser: %w", devinapi.ErrInvalid)),
			body: rev{op: admissionv1.Create, user: "argocd", groups: []string{adminGroup}, object: pat("argocd", byID(".."))}.body(), code: http.StatusUnprocessableEntity, msg: []string{"spec.user.id"}},
		"pat: API unreachable": {path: ValidatePersonalAccessTokenPath, api: failingAPI(&devinapi.RequestError{Op: "FindUserByEmail", Err: errLeaky}),
			body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusServiceUnavailable,
			msg: []string{`cannot verify user "alice@example.com": the Devin API could not be reached (it is temporarily unavailable); retry in a moment`}},
		"pat: API throttled": {path: ValidatePersonalAccessTokenPath, api: failingAPI(&devinapi.APIError{Op: "FindUserByEmail", Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second}),
			body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusServiceUnavailable, msg: []string{"cannot verify", "retry in 30s"}},
		"pat: operator credential refused": {path: ValidatePersonalAccessTokenPath, api: failingAPI(&devinapi.APIError{Op: "FindUserByEmail", Status: http.StatusUnauthorized, Detail: errLeaky.Error()}),
			body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusServiceUnavailable,
			msg: []string{"cannot verify", "the operator's own Devin API credential was refused"}},
		"pat: API gives nonsense": {path: ValidatePersonalAccessTokenPath, api: failingAPI(errLeaky),
			body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusInternalServerError,
			msg: []string{`cannot verify user "alice@example.com": the Devin API gave an answer the operator does not understand`}},
		"pat: API returns no user": {path: ValidatePersonalAccessTokenPath, api: &fakeAPI{findUserByEmail: func(context.Context, string) (*devinapi.User, error) { return nil, nil }},
			body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusInternalServerError, msg: []string{"cannot verify"}},
		"pat: API times out": {path: ValidatePersonalAccessTokenPath, api: &fakeAPI{findUserByEmail: func(ctx context.Context, _ string) (*devinapi.User, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("devinapi: FindUserByEmail: %w", ctx.Err())
		}}, body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), code: http.StatusServiceUnavailable, msg: []string{"no answer within 1s"}},
		"pat: update that changes requested-by": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Update, user: alice,
			object: pat("mallory", aliceRef), oldObject: pat(alice, aliceRef)}.body(), code: http.StatusForbidden, msg: []string{"cannot be changed or removed"}},
		"pat: update of an object being deleted": {path: ValidatePersonalAccessTokenPath, api: failingAPI(errLeaky), body: rev{op: admissionv1.Update, user: alice,
			object: deleting(pat("", byEmail(huge))), oldObject: deleting(pat(alice, aliceRef))}.body(), allowed: true},
		"pat: delete": {path: ValidatePersonalAccessTokenPath, body: rev{op: admissionv1.Delete, user: alice, oldObject: pat(alice, aliceRef)}.body(), allowed: true},

		// PersonalAccessToken, mutating.
		"mutate: no annotations": {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: pat("", aliceRef)}.body(),
			allowed: true, patch: `[{"op":"add","path":"/metadata/annotations","value":{"iam.devin.ai/requested-by":"alice@example.com"}}]`},
		"mutate: forged requester": {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: pat("bob@example.com", aliceRef)}.body(),
			allowed: true, patch: `[{"op":"add","path":"/metadata/annotations/iam.devin.ai~1requested-by","value":"alice@example.com"}]`},
		"mutate: already recorded": {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), allowed: true},
		"mutate: annotations null": {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: []byte(`{"metadata":{"annotations":null}}`)}.body(),
			allowed: true, patch: `[{"op":"add","path":"/metadata/annotations","value":{"iam.devin.ai/requested-by":"alice@example.com"}}]`},
		"mutate: annotations not a map": {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: []byte(`{"metadata":{"annotations":"x"}}`)}.body(), code: http.StatusBadRequest},
		"mutate: no metadata":           {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice, object: []byte(`{"spec":{}}`)}.body(), code: http.StatusBadRequest},
		"mutate: no object":             {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, user: alice}.body(), code: http.StatusBadRequest},
		"mutate: no user name":          {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, object: pat("", aliceRef)}.body(), code: http.StatusForbidden, msg: []string{"no user name"}},
		"mutate: wrong kind":            {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Member", nil)}.body(), code: http.StatusBadRequest},
		"mutate: unknown operation":     {path: MutatePersonalAccessTokenPath, body: rev{op: "", user: alice, object: pat("", aliceRef)}.body(), code: http.StatusBadRequest},
		"mutate: update":                {path: MutatePersonalAccessTokenPath, body: rev{op: admissionv1.Update, user: alice, object: pat("", aliceRef), oldObject: pat(alice, aliceRef)}.body(), allowed: true},

		// madmission records the requester of a new PersonalAccessToken too (policies off here:
		// it seals nothing), so that no second mutating webhook makes the API server call it again.
		"admission: pat create, no annotations": {path: MutateAdmissionPath, body: rev{op: admissionv1.Create, user: alice, object: pat("", aliceRef)}.body(),
			allowed: true, patch: `[{"op":"add","path":"/metadata/annotations","value":{"iam.devin.ai/requested-by":"alice@example.com"}}]`},
		"admission: pat create, forged requester": {path: MutateAdmissionPath, body: rev{op: admissionv1.Create, user: alice, object: pat("bob@example.com", aliceRef)}.body(),
			allowed: true, patch: `[{"op":"add","path":"/metadata/annotations/iam.devin.ai~1requested-by","value":"alice@example.com"}]`},
		"admission: pat create, already recorded": {path: MutateAdmissionPath, body: rev{op: admissionv1.Create, user: alice, object: pat(alice, aliceRef)}.body(), allowed: true},
		"admission: pat create, no user name": {path: MutateAdmissionPath, body: rev{op: admissionv1.Create, object: pat("", aliceRef)}.body(),
			code: http.StatusForbidden, msg: []string{"no user name"}},
		"admission: pat create, no metadata (the schema refuses it)": {path: MutateAdmissionPath, body: rev{op: admissionv1.Create, user: alice, object: []byte(`{"spec":{}}`)}.body(), allowed: true},
		"admission: pat update records nothing":                      {path: MutateAdmissionPath, body: rev{op: admissionv1.Update, user: alice, object: pat("", aliceRef), oldObject: pat("", aliceRef)}.body(), allowed: true},
		"admission: su create records nothing":                       {path: MutateAdmissionPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Member", nil)}.body(), allowed: true},

		// ServiceUser.
		"su: known role": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("member", nil)}.body(), allowed: true},
		"su: unknown role": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Owner", nil)}.body(),
			code: http.StatusUnprocessableEntity, msg: []string{`spec.role: Invalid value: "Owner"`, "the organization roles are: Admin, Member"}},
		"su: huge role": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su(huge, nil)}.body(),
			code: http.StatusUnprocessableEntity, msg: []string{"spec.role"}},
		"su: no roles upstream": {path: ValidateServiceUserPath, api: &fakeAPI{listRoles: func(context.Context) ([]devinapi.Role, error) { return nil, nil }},
			body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Member", nil)}.body(), code: http.StatusUnprocessableEntity, msg: []string{"lists no organization roles"}},
		"su: ttl above the backend's limit": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Member", &metav1.Duration{Duration: 9000 * time.Hour})}.body(),
			code: http.StatusUnprocessableEntity, msg: []string{"spec.ttl", "at most 8760h"}},
		"su: negative ttl": {path: ValidateServiceUserPath, body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Member", &metav1.Duration{Duration: -time.Hour})}.body(),
			code: http.StatusUnprocessableEntity, msg: []string{"spec.ttl"}},
		"su: API unreachable": {path: ValidateServiceUserPath, api: failingAPI(&devinapi.APIError{Op: "ListRoles", Status: http.StatusServiceUnavailable, Detail: errLeaky.Error()}),
			body: rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Member", nil)}.body(), code: http.StatusServiceUnavailable, msg: []string{`cannot verify role "Member"`}},
		"su: update keeping the role, API unreachable": {path: ValidateServiceUserPath, api: failingAPI(errLeaky),
			body: rev{op: admissionv1.Update, kind: "ServiceUser", user: alice, object: su("Member", &metav1.Duration{Duration: time.Hour}), oldObject: su("Member", nil)}.body(), allowed: true},
		"su: update changing the role, API unreachable": {path: ValidateServiceUserPath, api: failingAPI(&devinapi.RequestError{Op: "ListRoles"}),
			body: rev{op: admissionv1.Update, kind: "ServiceUser", user: alice, object: su("Admin", nil), oldObject: su("Member", nil)}.body(), code: http.StatusServiceUnavailable, msg: []string{"cannot verify"}},
		"su: update of an object being deleted, API unreachable": {path: ValidateServiceUserPath, api: failingAPI(errLeaky),
			body: rev{op: admissionv1.Update, kind: "ServiceUser", user: alice, object: deletingSU(su("Owner", &metav1.Duration{Duration: 9000 * time.Hour})), oldObject: deletingSU(su("Member", nil))}.body(), allowed: true},
		"su: update changing the ttl beyond the limit": {path: ValidateServiceUserPath,
			body: rev{op: admissionv1.Update, kind: "ServiceUser", user: alice, object: su("Member", &metav1.Duration{Duration: 9000 * time.Hour}), oldObject: su("Member", nil)}.body(), code: http.StatusUnprocessableEntity},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			api := tc.api
			if api == nil {
				api = &fakeAPI{}
			}
			resp, raw := serve(t, api, tc.path, tc.body)
			if resp.Allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v (%+v)", resp.Allowed, tc.allowed, resp.Result)
			}
			if bytes.Contains(raw, []byte("cog_")) {
				t.Errorf("the answer carries a token: %s", raw)
			}
			if len(raw) > 8<<10 {
				t.Errorf("the answer is %d bytes long; values from the request must be shortened", len(raw))
			}
			if !tc.allowed {
				if resp.Result == nil || resp.Result.Message == "" {
					t.Fatalf("a refusal without a message: %+v", resp)
				}
				if tc.code != 0 && resp.Result.Code != tc.code {
					t.Errorf("code = %d, want %d: %s", resp.Result.Code, tc.code, resp.Result.Message)
				}
				for _, m := range tc.msg {
					if !strings.Contains(resp.Result.Message, m) {
						t.Errorf("message %q does not contain %q", resp.Result.Message, m)
					}
				}
			}
			if string(resp.Patch) != tc.patch {
				t.Errorf("patch = %s, want %s", resp.Patch, tc.patch)
			}
		})
	}
}

func TestCannotVerifyWhenTheOperatorsCredentialIsRevoked(t *testing.T) {
	srv := devinapitest.NewTestServer(t)
	defer srv.Close()
	api := srv.Client()
	old := srv.AdminToken().Reveal()
	srv.RotateAdminToken()

	const alice = "alice@example.com"
	resp, raw := serve(t, api, ValidatePersonalAccessTokenPath, rev{op: admissionv1.Create, user: alice, object: pat(alice, byEmail(alice))}.body())
	if resp.Allowed || resp.Result.Code != http.StatusServiceUnavailable {
		t.Fatalf("got %+v, want 503", resp.Result)
	}
	want := `cannot verify user "alice@example.com": the Devin API could not be reached (the operator's own Devin API credential was refused); retry in a moment`
	if resp.Result.Message != want {
		t.Errorf("message = %q, want %q", resp.Result.Message, want)
	}
	for _, tok := range []string{old, srv.AdminToken().Reveal()} {
		if bytes.Contains(raw, []byte(tok)) {
			t.Error("the answer carries a token")
		}
		if lines := logs.containing(tok); len(lines) > 0 {
			t.Errorf("%d log lines carry a token", len(lines))
		}
	}
}

func TestNewWebhooksNeedsADirectoryAndTheTypes(t *testing.T) {
	tests := map[string]struct {
		scheme *runtime.Scheme
		o      Options
		want   string
	}{
		"no directory":    {scheme: testScheme(), o: Options{}, want: "Options.Directory is required"},
		"no scheme":       {o: Options{Directory: directory.New(&fakeAPI{}, directory.Options{})}, want: "a scheme is required"},
		"types not known": {scheme: runtime.NewScheme(), o: Options{Directory: directory.New(&fakeAPI{}, directory.Options{})}, want: "the scheme does not know"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := newWebhooks(tc.scheme, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	hooks, err := newWebhooks(testScheme(), Options{Directory: directory.New(&fakeAPI{}, directory.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{MutatePersonalAccessTokenPath, ValidatePersonalAccessTokenPath, ValidateServiceUserPath} {
		if _, ok := hooks[p]; !ok {
			t.Errorf("no webhook for %s", p)
		}
	}
}

func TestDecisionsAreLoggedAtV1(t *testing.T) {
	// A service account of its own, so that the log lines of an earlier run (-count) differ.
	argocd := "system:serviceaccount:argocd:decision-logger-" + utilrand.String(6)
	resp, _ := serve(t, &fakeAPI{}, ValidatePersonalAccessTokenPath,
		rev{op: admissionv1.Create, user: argocd, groups: []string{adminGroup}, object: pat(argocd, byID("user-bob"))}.body())
	if resp.Allowed {
		t.Fatal("a PAT for an SSO account was admitted")
	}
	var found []string
	for _, l := range logs.containing(argocd) {
		if strings.Contains(l, `"level"=1`) && strings.Contains(l, `"msg"="denied"`) && strings.Contains(l, `"check"="sso"`) &&
			strings.Contains(l, `"webhook"="vpersonalaccesstoken.iam.devin.ai"`) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Errorf("want one V(1) line for the decision, got %q", logs.containing(argocd))
	}
}
