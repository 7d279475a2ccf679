package devinapitest_test

import (
	"bytes"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

var tokenFormat = regexp.MustCompile(`^cog_[A-Za-z0-9]{40}$`)

func TestTokenIsShownOnce(t *testing.T) {
	s := newFake(t)
	a := admin(t, s, http.MethodPost, "/v3beta1/enterprise/service-users", map[string]any{"name": "bot", "role_id": devinapitest.RoleEnterpriseMember, "ttl_seconds": 3600})
	if a.status != http.StatusOK {
		t.Fatalf("provision: %d %s", a.status, a.body)
	}
	var prov struct {
		ServiceUser struct {
			ID        string `json:"service_user_id"`
			ExpiresAt *int64 `json:"expires_at"`
		} `json:"service_user"`
		Token string `json:"token"`
	}
	a.decode(t, &prov)
	if !tokenFormat.MatchString(prov.Token) || prov.ServiceUser.ExpiresAt == nil {
		t.Fatalf("provisioning answer %s", a.body)
	}
	a = admin(t, s, http.MethodPost, "/v3beta1/enterprise/service-users/"+prov.ServiceUser.ID+"/api-keys", map[string]any{"name": "second"})
	var key struct {
		ID    string `json:"api_key_id"`
		Name  string `json:"api_key_name"`
		Token string `json:"token"`
	}
	a.decode(t, &key)
	if a.status != http.StatusOK || !tokenFormat.MatchString(key.Token) || key.Name != "second" || key.Token == prov.Token {
		t.Fatalf("create key: %d %s", a.status, a.body)
	}

	// No later answer, listing or state dump carries a value.
	reads := []answer{
		admin(t, s, http.MethodGet, "/v3beta1/enterprise/service-users/"+prov.ServiceUser.ID+"/api-keys?status=all", nil),
		admin(t, s, http.MethodGet, "/v3/enterprise/members/service-users?include_inactive=true", nil),
		admin(t, s, http.MethodGet, "/v3/enterprise/members/service-users/"+prov.ServiceUser.ID, nil),
		call(t, s.URL, http.MethodGet, "/_fake/tokens", "", nil),
		call(t, s.URL, http.MethodGet, "/_fake/calls", "", nil),
	}
	for _, r := range reads {
		if r.status != http.StatusOK || bytes.Contains(r.body, []byte("cog_")) {
			t.Errorf("answer %d carries a token or failed: %s", r.status, r.body)
		}
	}
	want := []devinapitest.TokenRecord{
		{Kind: "api_key", OwnerID: prov.ServiceUser.ID, Name: "initial"},
		{Kind: "api_key", OwnerID: prov.ServiceUser.ID, ID: key.ID, Name: "second"},
	}
	got := s.Tokens()
	for i := range got {
		if got[i].CreatedAt.IsZero() || got[i].ExpiresAt == nil || got[i].RevokedAt != nil {
			t.Errorf("record %+v", got[i])
		}
		got[i].CreatedAt, got[i].ExpiresAt = time.Time{}, nil
	}
	if len(got) == 2 {
		want[0].ID = got[0].ID
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tokens (-want +got):\n%s", diff)
	}
}

func TestAuthentication(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(revoked.ID); err != nil {
		t.Fatal(err)
	}
	type testCase struct {
		header string
		path   string
		status int
		// violation is the contract violation the request is, if any.
		violation string
	}
	const cogOnly, apkOnly = "accepts only cogBearer", "accepts only apkUserBearer"
	entKey := "Bearer " + s.EnterpriseAdminKey().Reveal()
	tests := map[string]testCase{
		"admin on any route":     {header: "Bearer " + s.AdminToken().Reveal(), path: "/v3/enterprise/roles", status: 200},
		"admin on self":          {header: "Bearer " + s.AdminToken().Reveal(), path: "/v3/self", status: 200},
		"PAT on self":            {header: "Bearer " + pat.Token.Reveal(), path: "/v3/self", status: 200},
		"PAT elsewhere":          {header: "Bearer " + pat.Token.Reveal(), path: "/v3/enterprise/roles", status: 403},
		"revoked PAT":            {header: "Bearer " + revoked.Token.Reveal(), path: "/v3/self", status: 401},
		"unknown token":          {header: "Bearer cog_unknown", path: "/v3/self", status: 401},
		"no header":              {path: "/v3/self", status: 401, violation: cogOnly},
		"other scheme":           {header: "Basic " + s.AdminToken().Reveal(), path: "/v3/self", status: 401, violation: cogOnly},
		"empty bearer":           {header: "Bearer ", path: "/v3/self", status: 401, violation: cogOnly},
		"enterprise key on v3":   {header: entKey, path: "/v3/self", status: 401, violation: cogOnly},
		"v2 record, admin key":   {header: entKey, path: "/v2/enterprise/members/user-alice", status: 200},
		"v2 record, cog_ admin":  {header: "Bearer " + s.AdminToken().Reveal(), path: "/v2/enterprise/members/user-alice", status: 401, violation: apkOnly},
		"v2 record as PAT":       {header: "Bearer " + pat.Token.Reveal(), path: "/v2/enterprise/members/user-alice", status: 401, violation: apkOnly},
		"v2, wrong apk_user_":    {header: "Bearer apk_user_unknown", path: "/v2/enterprise/members/user-alice", status: 401},
		"unknown v2 member":      {header: entKey, path: "/v2/enterprise/members/user-eve", status: 404},
		"unknown route, no auth": {path: "/v3/nothing", status: 404, violation: "unknown-operation"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if tc.violation != "" {
				takeViolations(t, s, tc.violation)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	// The v2 record answers and errs in the older format.
	key := s.EnterpriseAdminKey().Reveal()
	a := call(t, s.URL, http.MethodGet, "/v2/enterprise/members/user-eve", key, nil)
	if a.header.Get("Content-Type") != "application/json" || string(a.body) != `{"detail":"Member not found"}` {
		t.Errorf("v2 404: %s %s", a.header.Get("Content-Type"), a.body)
	}
	a = call(t, s.URL, http.MethodGet, "/v2/enterprise/members/user-bob", key, nil)
	if !strings.Contains(string(a.body), `"saml_id":"bob@idp.example.com"`) {
		t.Errorf("v2 record of bob: %s", a.body)
	}
	a = call(t, s.URL, http.MethodGet, "/v2/enterprise/members/user-alice", key, nil)
	if !strings.Contains(string(a.body), `"saml_id":null`) {
		t.Errorf("v2 record of alice: %s", a.body)
	}
	a = admin(t, s, http.MethodGet, "/v2/enterprise/members/user-alice", nil)
	takeViolations(t, s, apkOnly)
	if a.status != http.StatusUnauthorized || !strings.Contains(string(a.body), `"detail":"Invalid API key`) {
		t.Errorf("v2 with a cog_ key: %d %s", a.status, a.body)
	}
}

func TestExpiryFollowsTheInjectedClock(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	s := newFake(t, devinapitest.WithClock(clk))
	c := s.Client()
	ctx := testCtx(t)

	inHour := start.Add(time.Hour)
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "short", ExpiresAt: &inHour})
	if err != nil {
		t.Fatal(err)
	}
	su, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "bot", RoleID: devinapitest.RoleEnterpriseMember, TTL: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !su.ServiceUser.ExpiresAt.Equal(start.Add(2 * time.Hour)) {
		t.Fatalf("service user expires at %v", su.ServiceUser.ExpiresAt)
	}
	longKey, err := c.CreateServiceUserAPIKey(ctx, su.ServiceUser.ID, devinapi.CreateKeyRequest{Name: "long"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.LiveTokens()); n != 3 {
		t.Fatalf("%d live tokens, want 3", n)
	}

	clk.Step(90 * time.Minute)
	_, err = c.SelfWithToken(ctx, pat.Token)
	if !errors.Is(err, devinapi.ErrUnauthorized) {
		t.Errorf("expired PAT: %v", err)
	}
	if _, err := c.SelfWithToken(ctx, longKey.Token); err != nil {
		t.Errorf("key of a live service user: %v", err)
	}
	expired, err := c.ListPATs(ctx, "user-alice", devinapi.KeyStatusExpired)
	if err != nil || len(expired) != 1 || expired[0].ID != pat.ID || expired[0].IsActive {
		t.Errorf("expired PATs = %+v, %v", expired, err)
	}
	if n := len(s.LiveTokens()); n != 2 {
		t.Errorf("%d live tokens, want 2", n)
	}

	// Past its expiry, the service user is inactive and its keys stop working.
	clk.Step(time.Hour)
	_, err = c.SelfWithToken(ctx, longKey.Token)
	if !errors.Is(err, devinapi.ErrUnauthorized) {
		t.Errorf("key of an expired service user: %v", err)
	}
	if got, err := c.GetServiceUser(ctx, su.ServiceUser.ID); err != nil || got.IsActive {
		t.Errorf("GetServiceUser = %+v, %v; want inactive", got, err)
	}
	active, err := c.ListServiceUsers(ctx, false)
	if err != nil || len(active) != 1 {
		t.Errorf("active service users = %+v, %v; want only the admin", active, err)
	}
	if got := s.ServiceUsers(); len(got) != 1 || got[0].IsActive {
		t.Errorf("ServiceUsers() = %+v", got)
	}
	keys, err := c.ListServiceUserAPIKeys(ctx, su.ServiceUser.ID, devinapi.KeyStatusExpired)
	if err != nil || len(keys) != 2 {
		t.Errorf("expired keys = %+v, %v", keys, err)
	}
	_, err = c.CreateServiceUserAPIKey(ctx, su.ServiceUser.ID, devinapi.CreateKeyRequest{Name: "late"})
	if !errors.Is(err, devinapi.ErrConflict) {
		t.Errorf("key for an expired service user: %v", err)
	}
	_, err = c.RotateServiceUserAPIKey(ctx, su.ServiceUser.ID, longKey.ID, devinapi.RotateKeyRequest{})
	if !errors.Is(err, devinapi.ErrInvalid) {
		t.Errorf("rotate an expired key: %v", err)
	}
	if n := len(s.LiveTokens()); n != 0 {
		t.Errorf("%d live tokens, want none", n)
	}
	for _, r := range s.Tokens() {
		if r.Active(clk.Now()) {
			t.Errorf("record %+v is active", r)
		}
	}
}

func TestValidation(t *testing.T) {
	s := newFake(t)
	su, err := s.Client().ProvisionServiceUser(testCtx(t), devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "bot", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	suPath := "/v3/enterprise/members/service-users/" + su.ServiceUser.ID
	keysPath := "/v3beta1/enterprise/service-users/" + su.ServiceUser.ID + "/api-keys"
	type testCase struct {
		method  string
		path    string
		body    any
		status  int
		wantLoc string
		// violation, when set, is the contract violation the request is (the 422 then comes
		// from the contract layer); other 422s come from the fake's own checks.
		violation string
	}
	provision := "/v3beta1/enterprise/service-users"
	// body is a valid provisioning body with fields changed (a nil value removes the field).
	body := func(change map[string]any) map[string]any {
		b := map[string]any{"name": "n", "role_id": devinapitest.RoleEnterpriseMember, "ttl_seconds": 3600}
		for k, v := range change {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	const required = "field required"
	tests := map[string]testCase{
		"no body":       {method: "POST", path: provision, status: 422, wantLoc: "body", violation: "body: a JSON body is required"},
		"not JSON":      {method: "POST", path: provision, body: "{", status: 422, wantLoc: "body", violation: "body: the body is not valid JSON"},
		"wrong type":    {method: "POST", path: provision, body: `{"name": 5, "role_id": "r", "ttl_seconds": 1}`, status: 422, wantLoc: "body.name", violation: "body.name: value must be a string"},
		"missing name":  {method: "POST", path: provision, body: body(map[string]any{"name": nil}), status: 422, wantLoc: "body.name", violation: "body.name: " + required},
		"empty name":    {method: "POST", path: provision, body: body(map[string]any{"name": ""}), status: 422, wantLoc: "body.name", violation: "body.name: minimum string length is 1"},
		"name too long": {method: "POST", path: provision, body: body(map[string]any{"name": strings.Repeat("é", 257)}), status: 422, wantLoc: "body.name", violation: "body.name: maximum string length is 256"},
		"name of 256":   {method: "POST", path: provision, body: body(map[string]any{"name": strings.Repeat("é", 256)}), status: 200},
		"missing role":  {method: "POST", path: provision, body: body(map[string]any{"role_id": nil}), status: 422, wantLoc: "body.role_id", violation: "body.role_id: " + required},
		"missing TTL":   {method: "POST", path: provision, body: body(map[string]any{"ttl_seconds": nil}), status: 422, wantLoc: "body.ttl_seconds", violation: "body.ttl_seconds: " + required},
		"unknown role":  {method: "POST", path: provision, body: body(map[string]any{"role_id": "role-x"}), status: 422, wantLoc: "body.role_id"},
		"org role":      {method: "POST", path: provision, body: body(map[string]any{"role_id": devinapitest.RoleOrgAdmin}), status: 422, wantLoc: "body.role_id"},
		"enterprise in org": {method: "POST", path: "/v3beta1/organizations/org-default/service-users", body: body(map[string]any{"role_id": devinapitest.RoleEnterpriseAdmin}),
			status: 422, wantLoc: "body.role_id"},
		"unknown org":            {method: "POST", path: "/v3beta1/organizations/org-x/service-users", body: body(map[string]any{"role_id": devinapitest.RoleOrgAdmin}), status: 404},
		"TTL zero":               {method: "POST", path: provision, body: body(map[string]any{"ttl_seconds": 0}), status: 422, wantLoc: "body.ttl_seconds"},
		"TTL over a year":        {method: "POST", path: provision, body: body(map[string]any{"ttl_seconds": 31536001}), status: 422, wantLoc: "body.ttl_seconds", violation: "body.ttl_seconds: number must be at most"},
		"TTL of a year":          {method: "POST", path: provision, body: body(map[string]any{"ttl_seconds": 31536000}), status: 200},
		"first 0":                {method: "GET", path: "/v3/enterprise/roles?first=0", status: 422, wantLoc: "query.first", violation: "query.first: number must be at least 1"},
		"first 201":              {method: "GET", path: "/v3/enterprise/roles?first=201", status: 422, wantLoc: "query.first", violation: "query.first: number must be at most 200"},
		"first not a number":     {method: "GET", path: "/v3/enterprise/roles?first=ten", status: 422, wantLoc: "query.first", violation: "query.first: value ten: an invalid integer"},
		"first 200":              {method: "GET", path: "/v3/enterprise/roles?first=200", status: 200},
		"bad cursor":             {method: "GET", path: "/v3/enterprise/roles?after=nope", status: 422, wantLoc: "query.after"},
		"bad cursor number":      {method: "GET", path: "/v3/enterprise/roles?after=c2VxOng", status: 422, wantLoc: "query.after"},
		"bad status":             {method: "GET", path: keysPath + "?status=old", status: 422, wantLoc: "query.status", violation: "query.status: value is not one of the allowed values"},
		"bad users status":       {method: "GET", path: "/v3/enterprise/members/users?first=-1", status: 422, wantLoc: "query.first", violation: "query.first: number must be at least 1"},
		"bad include":            {method: "GET", path: "/v3/enterprise/members/service-users?include_inactive=maybe", status: 422, wantLoc: "query.include_inactive", violation: "query.include_inactive: value maybe"},
		"bad SU page":            {method: "GET", path: "/v3/enterprise/members/service-users?first=500", status: 422, wantLoc: "query.first", violation: "query.first: number must be at most 200"},
		"key list ignores first": {method: "GET", path: keysPath + "?first=500", status: 200, violation: `query parameter "first" is not documented`},
		"PAT list ignores first": {method: "GET", path: "/v3beta1/enterprise/members/users/user-alice/personal-access-tokens?first=500", status: 200},
		"key without name":       {method: "POST", path: keysPath, body: map[string]any{}, status: 422, wantLoc: "body.name", violation: "body.name: " + required},
		"key expiry past":        {method: "POST", path: keysPath, body: map[string]any{"name": "k", "expires_at": 1}, status: 422, wantLoc: "body.expires_at"},
		"role update no body":    {method: "PATCH", path: suPath, status: 422, wantLoc: "body", violation: "body: a JSON body is required"},
		"role update no role":    {method: "PATCH", path: suPath, body: map[string]any{}, status: 422, wantLoc: "body.role_id", violation: "body.role_id: " + required},
		"role update, unknown org": {method: "PATCH", path: "/v3/enterprise/organizations/org-x/members/service-users/" + su.ServiceUser.ID,
			body: map[string]any{"role_id": devinapitest.RoleOrgAdmin}, status: 404},
		"role update, unknown user": {method: "PATCH", path: "/v3/enterprise/members/service-users/su-x", body: map[string]any{"role_id": devinapitest.RoleEnterpriseAdmin}, status: 404},
		"rotate without body":       {method: "POST", path: keysPath + "/" + mustFirstKey(t, s, su.ServiceUser.ID) + "/rotate", status: 422, wantLoc: "body"},
		"rotate, expiry in the past": {method: "POST", path: keysPath + "/" + mustFirstKey(t, s, su.ServiceUser.ID) + "/rotate",
			body: map[string]any{"new_key_expires_at": 1}, status: 422, wantLoc: "body.new_key_expires_at"},
		"rotate unknown key":         {method: "POST", path: keysPath + "/apk-x/rotate", body: map[string]any{}, status: 404},
		"keys of unknown SU":         {method: "GET", path: "/v3beta1/enterprise/service-users/su-x/api-keys", status: 404},
		"revoke on unknown SU":       {method: "DELETE", path: "/v3beta1/enterprise/service-users/su-x/api-keys/apk-x", status: 404},
		"PAT without name":           {method: "POST", path: "/v3beta1/enterprise/members/users/user-alice/personal-access-tokens", body: map[string]any{}, status: 422, wantLoc: "body.name"},
		"revoke PAT of unknown user": {method: "DELETE", path: "/v3beta1/enterprise/members/users/user-x/personal-access-tokens/pat-x", status: 404},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a := admin(t, s, tc.method, tc.path, tc.body)
			if tc.violation != "" {
				takeViolations(t, s, tc.violation)
			}
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.body)
			}
			if tc.status < 400 {
				return
			}
			p := a.problem(t)
			if tc.wantLoc == "" {
				return
			}
			var locs []string
			for _, e := range p.Errors {
				var parts []string
				for _, l := range e.Loc {
					parts = append(parts, l.(string))
				}
				locs = append(locs, strings.Join(parts, "."))
			}
			if !strings.HasSuffix(p.Type, "/validation-error") || len(locs) == 0 || locs[0] != tc.wantLoc {
				t.Errorf("problem %s with locations %v, want %s", p.Type, locs, tc.wantLoc)
			}
		})
	}
}

// mustFirstKey returns the ID of the first API key of a service user.
func mustFirstKey(t *testing.T, s *devinapitest.Server, suID string) string {
	t.Helper()
	keys, err := s.Client().ListServiceUserAPIKeys(testCtx(t), suID, devinapi.KeyStatusAll)
	if err != nil || len(keys) == 0 {
		t.Fatalf("keys of %s: %v, %v", suID, keys, err)
	}
	return keys[0].ID
}

func TestConcurrentUse(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				pat, err := c.CreatePAT(ctx, "user-dave", devinapi.CreateKeyRequest{Name: "p"})
				if err != nil {
					errs <- err
					continue
				}
				if _, err := c.ListPATs(ctx, "user-dave", devinapi.KeyStatusAll); err != nil {
					errs <- err
				}
				errs <- c.RevokePAT(ctx, "user-dave", pat.ID)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n, live := len(s.Tokens()), len(s.LiveTokens()); n != workers*each || live != 0 {
		t.Errorf("%d tokens, %d live; want %d, 0", n, live, workers*each)
	}
}
