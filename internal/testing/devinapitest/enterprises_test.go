package devinapitest_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// tenant is an enterprise of a test with a service user it provisioned and a PAT of alice.
type tenant struct {
	e      *devinapitest.Enterprise
	c      *devinapi.Client
	suID   string
	suTok  devinapi.Token
	keyID  string
	alice  string
	patTok devinapi.Token
}

// newTenant adds an enterprise seeded with DefaultSeed (or uses the default one when name is
// empty), provisions a service user in its first organization and issues a PAT to alice.
func newTenant(t *testing.T, s *devinapitest.Server, name string) tenant {
	t.Helper()
	e := s.DefaultEnterprise()
	if name != "" {
		e = s.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName(name))
	}
	ctx := testCtx(t)
	tn := tenant{e: e, c: e.Client()}
	p, err := tn.c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization,
		OrgID: e.Organizations()[0], Name: "team-" + name, RoleID: devinapitest.RoleOrgMember, TTL: time.Hour})
	if err != nil {
		t.Fatalf("provision in %s: %v", e.Name(), err)
	}
	tn.suID, tn.suTok = p.ServiceUser.ID, p.Token
	var ok bool
	if tn.keyID, ok = e.KeyIDOf(p.Token.Reveal()); !ok {
		t.Fatalf("%s does not know the key it issued", e.Name())
	}
	u, err := tn.c.FindUserByEmail(ctx, "alice@example.com")
	if err != nil {
		t.Fatalf("find alice in %s: %v", e.Name(), err)
	}
	tn.alice = u.ID
	pat, err := tn.c.CreatePAT(ctx, u.ID, devinapi.CreateKeyRequest{Name: "pat-" + name})
	if err != nil {
		t.Fatalf("PAT of alice in %s: %v", e.Name(), err)
	}
	tn.patTok = pat.Token
	return tn
}

// threeTenants serves the default enterprise, "acme" and "beta" on one server.
func threeTenants(t *testing.T) (*devinapitest.Server, tenant, tenant, tenant) {
	t.Helper()
	s := newFake(t)
	return s, newTenant(t, s, ""), newTenant(t, s, "acme"), newTenant(t, s, "beta")
}

func TestEnterprisesListOnlyTheirOwn(t *testing.T) {
	s, def, a, b := threeTenants(t)
	ctx := testCtx(t)
	for _, tn := range []tenant{def, a, b} {
		sus, err := tn.c.ListServiceUsers(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, su := range sus {
			ids = append(ids, su.ID)
		}
		if want := []string{tn.e.AdminServiceUserID(), tn.suID}; strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("%s lists service users %v, want %v", tn.e.Name(), ids, want)
		}
		if got := tn.e.ServiceUsers(); len(got) != 1 || got[0].ID != tn.suID {
			t.Errorf("%s.ServiceUsers() = %+v, want %s only", tn.e.Name(), got, tn.suID)
		}
		if got := tn.e.LiveTokens(); len(got) != 2 || got[0].ID != tn.keyID || got[1].OwnerID != tn.alice {
			t.Errorf("%s.LiveTokens() = %+v, want its key and its PAT", tn.e.Name(), got)
		}
		if got, want := listedUsers(t, s, tn.e), prefixed(tn, "user-alice", "user-bob", "user-carol", "user-dave", "user-sam"); got != want {
			t.Errorf("%s lists users %s, want %s", tn.e.Name(), got, want)
		}
	}
	if def.alice != "user-alice" || a.alice != "acme-user-alice" || b.alice != "beta-user-alice" {
		t.Errorf("alice is %q, %q and %q, want one user per enterprise", def.alice, a.alice, b.alice)
	}
	if got := s.ServiceUsers(); len(got) != 1 || got[0].ID != def.suID {
		t.Errorf("Server.ServiceUsers() = %+v, want the default enterprise's", got)
	}
	if keys, err := b.c.ListServiceUserAPIKeys(ctx, a.suID, devinapi.KeyStatusAll); !errors.Is(err, devinapi.ErrNotFound) {
		t.Errorf("beta lists the keys of acme's service user: %v, %v", keys, err)
	}
}

// listedUsers lists the users of e through the API, as comma-separated IDs.
func listedUsers(t *testing.T, s *devinapitest.Server, e *devinapitest.Enterprise) string {
	t.Helper()
	var page struct {
		Items []struct {
			UserID string `json:"user_id"`
		} `json:"items"`
	}
	call(t, s.URL, http.MethodGet, "/v3/enterprise/members/users", e.AdminToken().Reveal(), nil).decode(t, &page)
	var ids []string
	for _, u := range page.Items {
		ids = append(ids, u.UserID)
	}
	return strings.Join(ids, ",")
}

// prefixed joins ids, each with the prefix of tn's enterprise (none for the default one).
func prefixed(tn tenant, ids ...string) string {
	if tn.e.Name() != devinapitest.DefaultEnterpriseName {
		for i := range ids {
			ids[i] = tn.e.Name() + "-" + ids[i]
		}
	}
	return strings.Join(ids, ",")
}

func TestEnterprisesAnswerForeignIDsAsUnknown(t *testing.T) {
	_, def, a, b := threeTenants(t)
	ctx := testCtx(t)
	rotate := devinapi.RotateKeyRequest{RevokeCurrent: true}
	checks := map[string]func() error{
		"get service user": func() error { _, err := b.c.GetServiceUser(ctx, a.suID); return err },
		"create key": func() error {
			_, err := b.c.CreateServiceUserAPIKey(ctx, a.suID, devinapi.CreateKeyRequest{Name: "k"})
			return err
		},
		"revoke key":          func() error { return b.c.RevokeServiceUserAPIKey(ctx, a.suID, a.keyID) },
		"revoke key via own":  func() error { return b.c.RevokeServiceUserAPIKey(ctx, b.suID, a.keyID) },
		"rotate key":          func() error { _, err := b.c.RotateServiceUserAPIKey(ctx, a.suID, a.keyID, rotate); return err },
		"rotate key via own":  func() error { _, err := b.c.RotateServiceUserAPIKey(ctx, b.suID, a.keyID, rotate); return err },
		"delete service user": func() error { return b.c.DeleteServiceUser(ctx, a.suID) },
		"update role": func() error {
			_, err := b.c.UpdateServiceUserRole(ctx, devinapi.ScopeEnterprise, "", a.suID, devinapitest.RoleEnterpriseMember)
			return err
		},
		"provision into org": func() error {
			_, err := b.c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization,
				OrgID: a.e.Organizations()[0], Name: "intruder", RoleID: devinapitest.RoleOrgMember, TTL: time.Hour})
			return err
		},
		"get user":           func() error { _, err := b.c.GetUser(ctx, a.alice); return err },
		"get default user":   func() error { _, err := b.c.GetUser(ctx, def.alice); return err },
		"create PAT":         func() error { _, err := b.c.CreatePAT(ctx, a.alice, devinapi.CreateKeyRequest{Name: "p"}); return err },
		"list PATs":          func() error { _, err := b.c.ListPATs(ctx, a.alice, devinapi.KeyStatusAll); return err },
		"out of band revoke": func() error { return b.e.RevokeKey(a.keyID) },
		"out of band delete": func() error { return b.e.DeleteServiceUser(a.suID) },
		"out of band role":   func() error { return b.e.SetServiceUserRole(a.suID, devinapitest.RoleOrgAdmin) },
		"server revoke":      func() error { return def.e.RevokeKey(b.keyID) },
	}
	for name, f := range checks {
		if err := f(); !errors.Is(err, devinapi.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if got := a.e.LiveTokens(); len(got) != 2 || got[0].ID != a.keyID {
		t.Errorf("acme's tokens after beta's attempts: %+v", got)
	}
	if got := a.e.ServiceUsers(); len(got) != 1 || !got[0].IsActive || got[0].RoleAssignments[0].Role.ID != devinapitest.RoleOrgMember {
		t.Errorf("acme's service users after beta's attempts: %+v", got)
	}
	if _, ok := b.e.KeyIDOf(a.suTok.Reveal()); ok {
		t.Errorf("beta knows acme's key")
	}
}

func TestEnterprisesAuthenticateIntoTheirOwn(t *testing.T) {
	s, def, a, b := threeTenants(t)
	ctx := testCtx(t)
	for _, tn := range []tenant{def, a, b} {
		self, err := tn.c.SelfWithToken(ctx, tn.suTok)
		if err != nil || self.Kind != devinapi.PrincipalServiceUser || self.ServiceUserID != tn.suID || self.OrgID != tn.e.Organizations()[0] {
			t.Errorf("%s's service user key is %+v, %v", tn.e.Name(), self, err)
		}
		self, err = tn.c.SelfWithToken(ctx, tn.patTok)
		if err != nil || self.Kind != devinapi.PrincipalPATUser || self.UserID != tn.alice || self.OrgID != tn.e.Organizations()[0] {
			t.Errorf("%s's PAT is %+v, %v", tn.e.Name(), self, err)
		}
		self, err = tn.c.Self(ctx)
		if err != nil || self.ServiceUserID != tn.e.AdminServiceUserID() {
			t.Errorf("%s's admin credential is %+v, %v", tn.e.Name(), self, err)
		}
	}
	// A credential of beta used on acme's service user: unknown, not forbidden.
	if _, err := a.e.Client(func(o *devinapi.Options) { o.Credentials = devinapi.StaticToken(b.e.AdminToken()) }).
		GetServiceUser(ctx, a.suID); !errors.Is(err, devinapi.ErrNotFound) {
		t.Errorf("beta's admin key reads acme's service user: %v", err)
	}
	if _, err := b.c.GetServiceUser(ctx, b.suID); err != nil {
		t.Errorf("beta's admin key reads beta's service user: %v", err)
	}
	// Rotating beta's admin credential leaves the others working.
	old := b.e.AdminToken()
	b.e.RotateAdminToken()
	if _, err := b.e.Client().Self(ctx); err != nil {
		t.Errorf("beta's new admin credential: %v", err)
	}
	if _, err := b.c.SelfWithToken(ctx, old); !errors.Is(err, devinapi.ErrUnauthorized) {
		t.Errorf("beta's old admin credential: %v", err)
	}
	for _, c := range []*devinapi.Client{s.Client(), a.c} {
		if _, err := c.ListServiceUsers(ctx, false); err != nil {
			t.Errorf("after beta rotated: %v", err)
		}
	}
	if v := s.TakeViolations(); len(v) > 0 {
		t.Errorf("contract violations: %v", v)
	}
}

func TestEnterprisesV2PersonalKeys(t *testing.T) {
	s := newFake(t)
	a := s.AddEnterprise(devinapitest.DefaultSeed(), devinapitest.EnterpriseName("acme"),
		devinapitest.EnterpriseAdminKey("apk_user_acme"))
	ctx := testCtx(t)
	withKey := func(e *devinapitest.Enterprise, key devinapi.Token) *devinapi.Client {
		return e.Client(func(o *devinapi.Options) { o.EnterpriseAdminKey = devinapi.StaticToken(key) })
	}
	if u, err := withKey(a, a.EnterpriseAdminKey()).GetUser(ctx, "acme-user-sam"); err != nil || u.SAMLID == nil {
		t.Errorf("acme's sam with acme's personal key: %+v, %v", u, err)
	}
	// The default enterprise's personal key does not know acme's members: no SAML identity.
	if u, err := withKey(a, s.EnterpriseAdminKey()).GetUser(ctx, "acme-user-sam"); err != nil || u.SAMLID != nil {
		t.Errorf("acme's sam with the default personal key: %+v, %v", u, err)
	}
	if u, err := withKey(s.DefaultEnterprise(), a.EnterpriseAdminKey()).GetUser(ctx, "user-sam"); err != nil || u.SAMLID != nil {
		t.Errorf("default sam with acme's personal key: %+v, %v", u, err)
	}
	if ans := call(t, s.URL, http.MethodGet, "/v2/enterprise/members/acme-user-sam", s.EnterpriseAdminKey().Reveal(), nil); ans.status != http.StatusNotFound {
		t.Errorf("v2 member of acme with the default personal key: %d %s", ans.status, ans.body)
	}
}

func TestAddEnterpriseNamesAndEvents(t *testing.T) {
	s := newFake(t)
	var events []devinapitest.Event
	s.SetHook(func(ev devinapitest.Event) { events = append(events, ev) })
	e := s.AddEnterprise(devinapitest.Seed{Organizations: []string{"org-x"}, Roles: devinapitest.DefaultSeed().Roles})
	if e.Name() != "ent2" || e.Organizations()[0] != "org-ent2-x" || e.AdminServiceUserID() != "ent2-"+devinapitest.AdminServiceUserID {
		t.Errorf("added enterprise %q, organizations %v, admin %q", e.Name(), e.Organizations(), e.AdminServiceUserID())
	}
	p, err := e.Client().ProvisionServiceUser(testCtx(t), devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise,
		Name: "x", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
	if err != nil || !strings.HasPrefix(p.ServiceUser.ID, "ent2-su-") {
		t.Fatalf("provision in ent2: %+v, %v", p, err)
	}
	if len(events) != 1 || events[0].Enterprise != "ent2" || events[0].OwnerID != p.ServiceUser.ID {
		t.Errorf("events %+v", events)
	}
	for _, name := range []string{"ent2", devinapitest.DefaultEnterpriseName, "Upper", "-x", ""} {
		func() {
			defer func() {
				if recover() == nil && name != "" {
					t.Errorf("AddEnterprise named %q did not panic", name)
				}
			}()
			s.AddEnterprise(devinapitest.Seed{}, devinapitest.EnterpriseName(name))
		}()
	}
}
