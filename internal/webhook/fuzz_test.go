package webhook

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// FuzzAdmissionReview throws arbitrary bodies at every webhook: each answers with an
// AdmissionReview (allowed, denied or errored), never panics, and never repeats the token of
// a backend error.
func FuzzAdmissionReview(f *testing.F) {
	const alice = "alice@example.com"
	seeds := [][]byte{
		nil, []byte("{"), []byte(`{"request":{}}`), []byte(`{"request":{"operation":"CREATE","object":{}}}`),
		rev{op: admissionv1.Create, user: alice, object: pat(alice, byEmail(alice))}.body(),
		rev{op: admissionv1.Create, user: "argocd", groups: []string{adminGroup}, object: pat("argocd", byID("user-zed"))}.body(),
		rev{op: admissionv1.Update, user: alice, object: pat("x", byEmail(alice)), oldObject: pat(alice, byEmail(alice))}.body(),
		rev{op: admissionv1.Create, kind: "ServiceUser", user: alice, object: su("Owner", nil)}.body(),
		rev{op: admissionv1.Update, kind: "ServiceUser", user: alice, object: su("Admin", nil), oldObject: su("Member", nil)}.body(),
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	paths := []string{MutatePersonalAccessTokenPath, ValidatePersonalAccessTokenPath, ValidateServiceUserPath}
	// The directory knows alice; every other lookup fails with a token in its error text.
	api := &fakeAPI{
		findUserByEmail: func(_ context.Context, email string) (*devinapi.User, error) {
			if strings.EqualFold(email, alice) {
				return &fakeUsers[0], nil
			}
			return nil, &devinapi.RequestError{Op: "FindUserByEmail", Err: errLeaky}
		},
		getUser: func(context.Context, string) (*devinapi.User, error) { return nil, errLeaky },
		listRoles: func(context.Context) ([]devinapi.Role, error) {
			return nil, &devinapi.APIError{Op: "ListRoles", Status: http.StatusUnauthorized, Detail: errLeaky.Error()}
		},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		resp, raw := serve(t, api, paths[int(which)%len(paths)], body)
		if !resp.Allowed && (resp.Result == nil || resp.Result.Message == "") {
			t.Fatalf("a refusal without a message: %s", raw)
		}
		if !bytes.Contains(body, []byte("cog_leakedsecret")) && bytes.Contains(raw, []byte("cog_leakedsecret")) {
			t.Fatalf("the answer repeats a backend error's token: %s", raw)
		}
	})
}
