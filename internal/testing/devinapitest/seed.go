package devinapitest

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// Seed is the initial content of a Server: organizations, roles and human users. It can be
// written as JSON or YAML (lower_snake keys) and read with LoadSeed.
type Seed struct {
	// Organizations are organization IDs, e.g. "org-default". The first one is where users
	// are members.
	Organizations []string   `json:"organizations"`
	Roles         []SeedRole `json:"roles"`
	Users         []SeedUser `json:"users"`
}

// SeedRole is a role of the enterprise.
type SeedRole struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Type is "org" (an organization role) or "enterprise" (an account-level role).
	Type string `json:"type"`
}

// SeedUser is a human member of the enterprise.
type SeedUser struct {
	// ID defaults to "user-" and the local part of Email.
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	// SAMLID, when set, links the account to enterprise SSO (v2 member record "saml_id").
	SAMLID string `json:"saml_id,omitempty"`
	// IDPGroups, when not empty, grant roles through IdP groups, which also makes the account
	// SSO-linked.
	IDPGroups []string `json:"idp_groups,omitempty"`
	// IDPOnly makes the user a member through its IdP groups only (IDPGroups is then
	// required): no direct role assignment, listed by GET /v3/enterprise/members/idp-users and
	// not by GET /v3/enterprise/members/users.
	IDPOnly bool `json:"idp_only,omitempty"`
	// PATEnabled is the closed beta flag that allows personal access tokens.
	PATEnabled bool `json:"pat_enabled"`
}

// Role IDs of DefaultSeed.
const (
	RoleOrgAdmin         = "role-org-admin"
	RoleOrgMember        = "role-org-member"
	RoleOrgDeepWikiOnly  = "role-org-deepwiki-only"
	RoleEnterpriseAdmin  = "role-enterprise-admin"
	RoleEnterpriseMember = "role-enterprise-member"
	// DefaultOrg is the organization of DefaultSeed.
	DefaultOrg = "org-default"
)

// DefaultSeed returns one organization "org-default", the default roles (organization Admin,
// Member and DeepWiki Only; Enterprise Admin and Enterprise Member) and users of every kind:
//   - alice@example.com ("user-alice"): direct member, PAT enabled;
//   - bob@example.com ("user-bob"): direct member, SSO-linked by a SAML identity and an IdP
//     group (seen as SSO-linked with or without the enterprise admin key);
//   - carol@example.com ("user-carol"): direct member, PAT feature off;
//   - dave@example.com ("user-dave"): direct member, PAT enabled;
//   - irene@example.com ("user-irene"): IdP-only member (group "engineering"), SSO-linked;
//   - sam@example.com ("user-sam"): direct member with a SAML identity only, so seen as
//     SSO-linked only by a client with the enterprise admin key; PAT enabled, yet refused
//     as an SSO account by the PAT endpoint.
func DefaultSeed() Seed {
	return Seed{
		Organizations: []string{DefaultOrg},
		Roles: []SeedRole{
			{ID: RoleOrgAdmin, Name: "Admin", Type: "org"},
			{ID: RoleOrgMember, Name: "Member", Type: "org"},
			{ID: RoleOrgDeepWikiOnly, Name: "DeepWiki Only", Type: "org"},
			{ID: RoleEnterpriseAdmin, Name: "Enterprise Admin", Type: "enterprise"},
			{ID: RoleEnterpriseMember, Name: "Enterprise Member", Type: "enterprise"},
		},
		Users: []SeedUser{
			{ID: "user-alice", Email: "alice@example.com", Name: "Alice", PATEnabled: true},
			{ID: "user-bob", Email: "bob@example.com", Name: "Bob", SAMLID: "bob@idp.example.com",
				IDPGroups: []string{"engineering"}, PATEnabled: true},
			{ID: "user-carol", Email: "carol@example.com", Name: "Carol"},
			{ID: "user-dave", Email: "dave@example.com", Name: "Dave", PATEnabled: true},
			{ID: "user-irene", Email: "irene@example.com", Name: "Irene", IDPGroups: []string{"engineering"}, IDPOnly: true},
			{ID: "user-sam", Email: "sam@example.com", Name: "Sam", SAMLID: "sam@idp.example.com", PATEnabled: true},
		},
	}
}

// LoadSeed reads a Seed from a JSON or YAML file and checks it: role types are "org" or
// "enterprise", IDs and emails are unique, every user has an email, an IdP-only user has IdP
// groups. Missing user IDs are derived from the email.
func LoadSeed(path string) (Seed, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Seed{}, fmt.Errorf("read seed: %w", err)
	}
	var seed Seed
	if err := yaml.UnmarshalStrict(data, &seed); err != nil {
		return Seed{}, fmt.Errorf("parse seed %s: %w", path, err)
	}
	if err := seed.normalize(); err != nil {
		return Seed{}, fmt.Errorf("seed %s: %w", path, err)
	}
	return seed, nil
}

// normalize fills derived user IDs and validates the seed.
func (s *Seed) normalize() error {
	seen := map[string]bool{}
	for _, org := range s.Organizations {
		if org == "" || seen[org] {
			return fmt.Errorf("organization %q is empty or duplicated", org)
		}
		seen[org] = true
	}
	for _, r := range s.Roles {
		if r.ID == "" || seen[r.ID] {
			return fmt.Errorf("role %q is empty or duplicated", r.ID)
		}
		if r.Type != "org" && r.Type != "enterprise" {
			return fmt.Errorf("role %q has type %q, want org or enterprise", r.ID, r.Type)
		}
		seen[r.ID] = true
	}
	emails := map[string]bool{}
	for i := range s.Users {
		u := &s.Users[i]
		if u.Email == "" {
			return errors.New("a user has no email")
		}
		if u.IDPOnly && len(u.IDPGroups) == 0 {
			return fmt.Errorf("user %q is IdP-only without IdP groups", u.Email)
		}
		if emails[strings.ToLower(u.Email)] {
			return fmt.Errorf("email %q is duplicated", u.Email)
		}
		emails[strings.ToLower(u.Email)] = true
		if u.ID == "" {
			u.ID = userIDFromEmail(u.Email)
		}
		if seen[u.ID] {
			return fmt.Errorf("user id %q is duplicated", u.ID)
		}
		seen[u.ID] = true
	}
	return nil
}

func userIDFromEmail(email string) string {
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	return "user-" + local
}
