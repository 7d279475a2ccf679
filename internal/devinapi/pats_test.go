package devinapi_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestPATs(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	exp := time.Now().Add(time.Hour)
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "laptop", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	self, err := c.SelfWithToken(ctx, pat.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := devinapi.Self{Kind: devinapi.PrincipalPATUser, UserID: "user-alice", UserName: "Alice", APIKeyID: pat.ID,
		APIKeyName: "laptop", OrgID: devinapitest.DefaultOrg}
	if diff := cmp.Diff(want, *self); diff != "" {
		t.Errorf("self (-want +got):\n%s", diff)
	}
	list, err := c.ListPATs(ctx, "user-alice", "")
	if err != nil || len(list) != 1 || list[0].ID != pat.ID || list[0].ExpiresAt == nil {
		t.Fatalf("ListPATs = %+v, %v", list, err)
	}
	if err := c.RevokePAT(ctx, "user-alice", pat.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.SelfWithToken(ctx, pat.Token)
	only(t, err, devinapi.ErrUnauthorized)

	past := time.Now().Add(-time.Hour)
	type testCase struct {
		call    func() error
		wantErr []error
	}
	tests := map[string]testCase{
		"revoke twice": {call: func() error { return c.RevokePAT(ctx, "user-alice", pat.ID) }, wantErr: []error{devinapi.ErrConflict}},
		"revoke unknown": {call: func() error { return c.RevokePAT(ctx, "user-alice", "pat-unknown") },
			wantErr: []error{devinapi.ErrNotFound}},
		"revoke empty key id": {call: func() error { return c.RevokePAT(ctx, "user-alice", "") }, wantErr: []error{devinapi.ErrInvalid}},
		"revoke empty user":   {call: func() error { return c.RevokePAT(ctx, "", pat.ID) }, wantErr: []error{devinapi.ErrInvalid}},
		"unknown user": {call: func() error {
			_, err := c.CreatePAT(ctx, "user-eve", devinapi.CreateKeyRequest{Name: "x"})
			return err
		}, wantErr: []error{devinapi.ErrNotFound}},
		"SSO account": {call: func() error {
			_, err := c.CreatePAT(ctx, "user-bob", devinapi.CreateKeyRequest{Name: "x"})
			return err
		}, wantErr: []error{devinapi.ErrSSOAccount, devinapi.ErrForbidden}},
		"feature off": {call: func() error {
			_, err := c.CreatePAT(ctx, "user-carol", devinapi.CreateKeyRequest{Name: "x"})
			return err
		}, wantErr: []error{devinapi.ErrFeatureNotEnabled, devinapi.ErrForbidden}},
		"expiry in the past": {call: func() error {
			_, err := c.CreatePAT(ctx, "user-dave", devinapi.CreateKeyRequest{Name: "x", ExpiresAt: &past})
			return err
		}, wantErr: []error{devinapi.ErrInvalid}},
		"empty user id": {call: func() error {
			_, err := c.CreatePAT(ctx, "", devinapi.CreateKeyRequest{Name: "x"})
			return err
		}, wantErr: []error{devinapi.ErrInvalid}},
		"list for unknown user": {call: func() error {
			_, err := c.ListPATs(ctx, "user-eve", devinapi.KeyStatusAll)
			return err
		}, wantErr: []error{devinapi.ErrNotFound}},
		"list with empty user": {call: func() error {
			_, err := c.ListPATs(ctx, "", devinapi.KeyStatusAll)
			return err
		}, wantErr: []error{devinapi.ErrInvalid}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			only(t, tc.call(), tc.wantErr...)
		})
	}
}

func TestPaginationFollowsEveryPage(t *testing.T) {
	const n = 450
	seed := devinapitest.DefaultSeed()
	seed.Roles = nil
	var want []devinapi.Role
	for i := 0; i < n; i++ {
		r := devinapitest.SeedRole{ID: fmt.Sprintf("role-%03d", i), Name: "R", Type: "org"}
		seed.Roles = append(seed.Roles, r)
		want = append(want, devinapi.Role{ID: r.ID, Name: r.Name, Type: r.Type})
	}
	s := newFake(t, devinapitest.WithSeed(seed))
	var queries []url.Values
	s.SetRequestHook(func(r devinapitest.ObservedRequest) { queries = append(queries, r.Query) })
	roles, err := s.Client().ListRoles(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, roles); diff != "" {
		t.Fatalf("roles (-want +got):\n%s", diff)
	}
	// Three pages of at most 200, each after the cursor of the one before.
	if len(queries) != 3 || queries[0].Get("after") != "" || queries[1].Get("after") == "" || queries[2].Get("after") == queries[1].Get("after") {
		t.Errorf("queries %v, want three pages following the cursor", queries)
	}
	for _, q := range queries {
		if q.Get("first") != "200" {
			t.Errorf("query %v, want first=200", q)
		}
	}
}
