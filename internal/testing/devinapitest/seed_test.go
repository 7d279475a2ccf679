package devinapitest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestLoadSeed(t *testing.T) {
	type testCase struct {
		file    string
		want    devinapitest.Seed
		wantErr string
	}
	tests := map[string]testCase{
		"JSON": {
			file: `{"organizations":["org-a"],"roles":[{"id":"r1","name":"Admin","type":"org"}],"users":[{"email":"x@example.com","pat_enabled":true}]}`,
			want: devinapitest.Seed{Organizations: []string{"org-a"}, Roles: []devinapitest.SeedRole{{ID: "r1", Name: "Admin", Type: "org"}},
				Users: []devinapitest.SeedUser{{ID: "user-x", Email: "x@example.com", PATEnabled: true}}},
		},
		"YAML": {
			file: "organizations: [org-a]\nusers:\n- id: u1\n  email: y@example.com\n  saml_id: y@idp\n  idp_groups: [g]\n",
			want: devinapitest.Seed{Organizations: []string{"org-a"}, Users: []devinapitest.SeedUser{{ID: "u1", Email: "y@example.com", SAMLID: "y@idp", IDPGroups: []string{"g"}}}},
		},
		"unknown field":           {file: `{"orgs":[]}`, wantErr: "unknown field"},
		"bad role type":           {file: `{"roles":[{"id":"r","type":"galaxy"}]}`, wantErr: "type"},
		"duplicate role":          {file: `{"roles":[{"id":"r","type":"org"},{"id":"r","type":"org"}]}`, wantErr: "duplicated"},
		"empty org":               {file: `{"organizations":[""]}`, wantErr: "duplicated"},
		"no email":                {file: `{"users":[{"id":"u"}]}`, wantErr: "no email"},
		"duplicate email":         {file: `{"users":[{"email":"a@x"},{"email":"A@x"}]}`, wantErr: "duplicated"},
		"duplicate id":            {file: `{"users":[{"id":"u","email":"a@x"},{"id":"u","email":"b@x"}]}`, wantErr: "duplicated"},
		"IdP-only without groups": {file: `{"users":[{"email":"a@x","idp_only":true}]}`, wantErr: "IdP-only without IdP groups"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "seed.yaml")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := devinapitest.LoadSeed(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := devinapitest.LoadSeed(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("a missing file loaded")
	}
}

func TestCustomSeed(t *testing.T) {
	type testCase struct {
		seed      devinapitest.Seed
		wantRoles []devinapi.RoleAssignment
		wantAdmin []devinapi.RoleAssignment
	}
	tests := map[string]testCase{
		"no organizations, no enterprise role": {
			seed: devinapitest.Seed{Roles: []devinapitest.SeedRole{{ID: "r", Name: "R", Type: "org"}}, Users: []devinapitest.SeedUser{{ID: "u", Email: "u@x"}}},
		},
		"first org role when no Member": {
			seed: devinapitest.Seed{Organizations: []string{"org-1"}, Roles: []devinapitest.SeedRole{{ID: "e", Name: "E", Type: "enterprise"}, {ID: "r", Name: "R", Type: "org"}},
				Users: []devinapitest.SeedUser{{ID: "u", Email: "u@x"}}},
			wantRoles: []devinapi.RoleAssignment{{Role: devinapi.Role{ID: "r", Name: "R", Type: "org"}, OrgID: "org-1"}},
			wantAdmin: []devinapi.RoleAssignment{{Role: devinapi.Role{ID: "e", Name: "E", Type: "enterprise"}}},
		},
		"organization without org roles": {
			seed: devinapitest.Seed{Organizations: []string{"org-1"}, Users: []devinapitest.SeedUser{{ID: "u", Email: "u@x", PATEnabled: true}}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t, devinapitest.WithSeed(tc.seed))
			c := s.Client()
			ctx := testCtx(t)
			u, err := c.GetUser(ctx, "u")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantRoles, u.RoleAssignments); diff != "" {
				t.Errorf("user roles (-want +got):\n%s", diff)
			}
			adm, err := c.GetServiceUser(ctx, devinapitest.AdminServiceUserID)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantAdmin, adm.RoleAssignments); diff != "" {
				t.Errorf("admin roles (-want +got):\n%s", diff)
			}
			if pat, err := c.CreatePAT(ctx, "u", devinapi.CreateKeyRequest{Name: "p"}); err == nil {
				self, err := c.SelfWithToken(ctx, pat.Token)
				if err != nil || self.OrgID != strings.Join(tc.seed.Organizations, "") {
					t.Errorf("self = %+v, %v", self, err)
				}
			}
		})
	}
}
