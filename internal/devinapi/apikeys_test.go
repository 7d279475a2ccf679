package devinapi_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestServiceUserAPIKeys(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	p, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "bot", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	suID := p.ServiceUser.ID
	exp := time.Now().Add(48 * time.Hour)
	key, err := c.CreateServiceUserAPIKey(ctx, suID, devinapi.CreateKeyRequest{Name: "deploy", ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if key.ID == "" || key.Name != "deploy" || key.ExpiresAt == nil || !key.ExpiresAt.Equal(exp.Truncate(time.Second)) || key.Token.IsZero() {
		t.Fatalf("issued key = %+v", key)
	}
	if _, err := c.SelfWithToken(ctx, key.Token); err != nil {
		t.Fatalf("new key does not authenticate: %v", err)
	}

	rotated, err := c.RotateServiceUserAPIKey(ctx, suID, key.ID, devinapi.RotateKeyRequest{RevokeCurrent: true})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID == key.ID || rotated.Name != "deploy" || rotated.Token.Reveal() == key.Token.Reveal() {
		t.Fatalf("rotated key = %+v", rotated)
	}
	_, err = c.SelfWithToken(ctx, key.Token)
	only(t, err, devinapi.ErrUnauthorized)

	// Rotating a revoked key is refused as invalid.
	_, err = c.RotateServiceUserAPIKey(ctx, suID, key.ID, devinapi.RotateKeyRequest{RevokeCurrent: true})
	only(t, err, devinapi.ErrInvalid)

	kept, err := c.RotateServiceUserAPIKey(ctx, suID, rotated.ID, devinapi.RotateKeyRequest{NewKeyExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SelfWithToken(ctx, rotated.Token); err != nil {
		t.Errorf("rotation without revoke_current revoked the key: %v", err)
	}

	type testCase struct {
		status devinapi.KeyStatus
		want   []string
	}
	tests := map[string]testCase{
		"default is active": {want: []string{"initial", rotated.ID, kept.ID}},
		"active":            {status: devinapi.KeyStatusActive, want: []string{"initial", rotated.ID, kept.ID}},
		"revoked":           {status: devinapi.KeyStatusRevoked, want: []string{key.ID}},
		"expired":           {status: devinapi.KeyStatusExpired},
		"all":               {status: devinapi.KeyStatusAll, want: []string{"initial", key.ID, rotated.ID, kept.ID}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			keys, err := c.ListServiceUserAPIKeys(ctx, suID, tc.status)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range keys {
				if k.Name == "initial" {
					got = append(got, "initial")
				} else {
					got = append(got, k.ID)
				}
				if k.CreatedAt.IsZero() || k.IsActive != (k.RevokedAt == nil) {
					t.Errorf("key %+v", k)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	if err := c.RevokeServiceUserAPIKey(ctx, suID, rotated.ID); err != nil {
		t.Fatal(err)
	}
	err = c.RevokeServiceUserAPIKey(ctx, suID, rotated.ID)
	only(t, err, devinapi.ErrConflict)
	if !devinapi.IsGone(err) {
		t.Errorf("IsGone(%v) = false", err)
	}
	err = c.RevokeServiceUserAPIKey(ctx, suID, "apk-unknown")
	only(t, err, devinapi.ErrNotFound)
	_, err = c.ListServiceUserAPIKeys(ctx, suID, "bogus")
	only(t, err, devinapi.ErrInvalid)
	_, err = c.CreateServiceUserAPIKey(ctx, "su-unknown", devinapi.CreateKeyRequest{Name: "x"})
	only(t, err, devinapi.ErrNotFound)
	_, err = c.CreateServiceUserAPIKey(ctx, suID, devinapi.CreateKeyRequest{Name: ""})
	only(t, err, devinapi.ErrInvalid)
	// The two malformed requests, refused by the contract.
	takeViolations(t, s, "query.status: value is not one of the allowed values", "body.name: minimum string length is 1")
	if devinapi.IsGone(err) {
		t.Errorf("IsGone(%v) = true", err)
	}
}
