package contract_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/contract"
)

func validator(t *testing.T) *contract.Validator {
	t.Helper()
	v, err := contract.Default()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestEmbeddedFiles(t *testing.T) {
	if !strings.HasPrefix(string(contract.Spec()), "openapi: 3.1.0") {
		t.Errorf("Spec does not start as an OpenAPI 3.1 document")
	}
	if !strings.Contains(string(contract.Sources()), "## Per operation") {
		t.Errorf("Sources lacks its per-operation table")
	}
	if _, err := contract.New([]byte("openapi: [")); err == nil {
		t.Errorf("New accepted a document that is not YAML")
	}
	if _, err := contract.New([]byte("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {/x: {get: {responses: {'200': {$ref: '#/nope'}}}}}\n")); err == nil {
		t.Errorf("New accepted a document with a dangling reference")
	}
}

func TestExempt(t *testing.T) {
	const pats = "/v3beta1/enterprise/members/users/user-a/personal-access-tokens"
	type testCase struct {
		method, path string
		want         contract.Origin
	}
	tests := map[string]testCase{
		"create PAT":        {method: "POST", path: pats, want: contract.OriginAssumed},
		"list PATs":         {method: "GET", path: pats, want: contract.OriginAssumed},
		"revoke PAT":        {method: "DELETE", path: pats + "/pat-1", want: contract.OriginAssumed},
		"PUT on PATs":       {method: "PUT", path: pats},
		"PAT of no user":    {method: "GET", path: "/v3beta1/enterprise/members/users//personal-access-tokens"},
		"deeper than a PAT": {method: "DELETE", path: pats + "/pat-1/x"},
		"fake control":      {method: "PUT", path: "/_fake/faults", want: contract.OriginFakeOnly},
		"fake, deep":        {method: "POST", path: "/_fake/keys/k/revoke", want: contract.OriginFakeOnly},
		"API":               {method: "GET", path: "/v3/self"},
		"root":              {method: "GET", path: "/"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e, ok := contract.Exempt(tc.method, tc.path)
			if ok != (tc.want != "") || e.Origin != tc.want {
				t.Errorf("Exempt = %+v, %v; want origin %q", e, ok, tc.want)
			}
		})
	}
	for _, e := range contract.Exemptions() {
		if e.Origin == "" || e.Why == "" {
			t.Errorf("exemption %+v has no origin or reason", e)
		}
	}
}

func TestCheckRequest(t *testing.T) {
	v := validator(t)
	const cog, apk = "Bearer cog_x", "Bearer apk_user_x"
	type testCase struct {
		method, path, auth, body string
		// want are the violations, as kind and a part of the description.
		want     []string
		enforced string
		exempt   bool
	}
	tests := map[string]testCase{
		"valid provisioning": {method: "POST", path: "/v3beta1/enterprise/service-users", auth: cog, body: `{"name":"n","role_id":"r","ttl_seconds":60}`},
		"without TTL": {method: "POST", path: "/v3beta1/enterprise/service-users", auth: cog, body: `{"name":"n","role_id":"r"}`,
			want: []string{"request: body.ttl_seconds: field required"}, enforced: "body.ttl_seconds: field required"},
		"several fields": {method: "POST", path: "/v3beta1/enterprise/service-users", auth: cog, body: `{"name":5}`,
			want: []string{"request: body.name: value must be a string; body.role_id: field required; body.ttl_seconds: field required"}},
		"not JSON":    {method: "POST", path: "/v3beta1/enterprise/service-users", auth: cog, body: `{`, want: []string{"request: body: the body is not valid JSON"}},
		"no body":     {method: "POST", path: "/v3beta1/enterprise/service-users", auth: cog, want: []string{"request: body: a JSON body is required"}},
		"bad query":   {method: "GET", path: "/v3/enterprise/roles?first=0", auth: cog, want: []string{"request: query.first: number must be at least 1"}},
		"extra query": {method: "GET", path: "/v3beta1/enterprise/service-users/s/api-keys?status=all&after=c", auth: cog, want: []string{`undocumented-parameter: query parameter "after"`}},
		"no credential": {method: "GET", path: "/v3/self",
			want: []string{"security: the operation accepts only cogBearer (a bearer token with the cog_ prefix)"}},
		"cog_ on v2":       {method: "GET", path: "/v2/enterprise/members/u", auth: cog, want: []string{"security: the operation accepts only apkUserBearer"}},
		"apk_user_ on v2":  {method: "GET", path: "/v2/enterprise/members/u", auth: apk},
		"bare prefix":      {method: "GET", path: "/v3/self", auth: "Bearer cog_", want: []string{"security"}},
		"unknown":          {method: "GET", path: "/v4/x", auth: cog, want: []string{"unknown-operation"}},
		"wrong method":     {method: "PUT", path: "/v3/self", auth: cog, want: []string{"unknown-operation"}},
		"trailing slash":   {method: "GET", path: "/v3/self/", auth: cog, want: []string{"no operation has a trailing slash"}},
		"escaped slash ID": {method: "GET", path: "/v3/enterprise/members/users/a%2F..%2Fb", auth: cog},
		"exempt PAT":       {method: "POST", path: "/v3beta1/enterprise/members/users/u/personal-access-tokens", body: "{", exempt: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			x := v.CheckRequest(r, []byte(tc.body))
			if (x.Exemption != nil) != tc.exempt {
				t.Errorf("exemption %+v, want exempt %v", x.Exemption, tc.exempt)
			}
			var got []string
			for _, vi := range x.Violations {
				got = append(got, fmt.Sprintf("%s: %s", vi.Kind, vi.Message))
				if !strings.HasPrefix(vi.String(), "contract "+string(vi.Kind)+" violation: "+tc.method) {
					t.Errorf("String() = %q", vi)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("violations %q, want %q", got, tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i]+" "+x.Violations[i].String(), w) {
					t.Errorf("violation %q, want it to mention %q", got[i], w)
				}
			}
			if tc.enforced != "" {
				f := x.Enforced()
				if len(f) != 1 || strings.Join(f[0].Loc, ".")+": "+f[0].Msg != tc.enforced {
					t.Errorf("Enforced() = %+v, want %s", f, tc.enforced)
				}
			}
		})
	}
}

// TestBuiltInValidatorChecksThe31Subset guards the choice of kin-openapi's built-in validator
// for a 3.1 document (see New): the 3.1 constructs of the YAML are enforced all the same.
func TestBuiltInValidatorChecksThe31Subset(t *testing.T) {
	v := validator(t)
	const key = `{"api_key_id":"k","api_key_name":"n","created_at":1,"expires_at":%s,"is_active":true,"last_used_at":null,"revoked_at":null}`
	type testCase struct {
		path   string
		status int
		ct     string
		body   string
		want   string
	}
	tests := map[string]testCase{
		"null where nullable":    {path: "/v3beta1/enterprise/service-users/s/api-keys", body: `{"items":[` + fmt.Sprintf(key, "null") + `],"end_cursor":null}`},
		"string in int|null":     {path: "/v3beta1/enterprise/service-users/s/api-keys", body: `{"items":[` + fmt.Sprintf(key, `"x"`) + `]}`, want: `"/items/0/expires_at": value must be one of integer, null`},
		"null where not":         {path: "/v3beta1/enterprise/service-users/s/api-keys", body: `{"items":[` + strings.Replace(fmt.Sprintf(key, "1"), `"created_at":1`, `"created_at":null`, 1) + `]}`, want: "created_at"},
		"missing items":          {path: "/v3/enterprise/roles", body: `{"has_next_page":false}`, want: `property "items" is missing`},
		"bad role type":          {path: "/v3/enterprise/roles", body: `{"items":[{"role_id":"r","role_name":"n","role_type":"account"}]}`, want: "role_type"},
		"service user self":      {path: "/v3/self", body: `{"principal_type":"service_user","service_user_id":"s","service_user_name":"n","org_id":null}`},
		"PAT self, short":        {path: "/v3/self", body: `{"principal_type":"pat_user","service_user_id":"s","service_user_name":"n"}`, want: "anyOf"},
		"unknown principal":      {path: "/v3/self", body: `{"principal_type":"robot","service_user_id":"s","service_user_name":"n"}`, want: `discriminator property "principal_type" has invalid value`},
		"undocumented success":   {path: "/v3/self", status: 201, body: `{}`, want: "status 201 is not documented; documented: 200, 401, 403, default"},
		"problem":                {path: "/v3/self", status: 503, ct: "application/problem+json", body: `{"type":"t","title":"Service Unavailable","status":503}`},
		"legacy body as problem": {path: "/v3/self", status: 404, body: `{"detail":"Not Found"}`, want: `property "status" is missing`},
		"v2 legacy 404":          {path: "/v2/enterprise/members/u", status: 404, body: `{"detail":"Member not found"}`},
		"v2 undocumented 500":    {path: "/v2/enterprise/members/u", status: 500, body: `oops`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			x := v.CheckRequest(r, nil)
			status, ct := tc.status, tc.ct
			if status == 0 {
				status = http.StatusOK
			}
			if ct == "" {
				ct = "application/json"
			}
			got := x.CheckResponse(status, http.Header{"Content-Type": {ct}}, []byte(tc.body))
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("violations %v, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0].String(), tc.want)):
				t.Errorf("violations %v, want one with %q", got, tc.want)
			}
		})
	}
	// Exempt and unknown requests have no answer to check.
	for _, path := range []string{"/_fake/calls", "/v4/x"} {
		x := v.CheckRequest(httptest.NewRequest(http.MethodGet, path, nil), nil)
		if got := x.CheckResponse(200, http.Header{}, []byte("x")); got != nil {
			t.Errorf("%s: %v", path, got)
		}
	}
}

func TestViolationStringRedactsCredentials(t *testing.T) {
	vi := contract.Violation{Kind: contract.KindResponse, Method: "GET", Path: "/v3/self", Status: 200,
		Message: "token cog_AAAAbbbbCCCCdddd1234 and apk_user_Zzz9 leaked"}
	s := vi.String()
	if strings.Contains(s, "AAAA") || strings.Contains(s, "Zzz9") || !strings.Contains(s, "(no operation) answered 200") {
		t.Errorf("String() = %q", s)
	}
}

// TestClientPermissionsMatchTheContract checks the client's permission table against the
// x-permission of the operations each client call uses.
func TestClientPermissionsMatchTheContract(t *testing.T) {
	v := validator(t)
	type testCase struct {
		op         string
		scope      devinapi.Scope
		operations []string
	}
	tests := []testCase{
		{op: "Self", operations: []string{"getSelf"}},
		{op: "ProvisionServiceUser", scope: devinapi.ScopeEnterprise, operations: []string{"provisionEnterpriseServiceUser"}},
		{op: "ProvisionServiceUser", scope: devinapi.ScopeOrganization, operations: []string{"provisionOrganizationServiceUser"}},
		{op: "GetServiceUser", operations: []string{"getServiceUser"}},
		{op: "ListServiceUsers", operations: []string{"listServiceUsers"}},
		{op: "UpdateServiceUserRole", operations: []string{"updateServiceUserEnterpriseRole", "updateServiceUserOrgRole"}},
		{op: "DeleteServiceUser", operations: []string{"deleteServiceUser"}},
		{op: "CreateServiceUserAPIKey", operations: []string{"createServiceUserApiKey"}},
		{op: "ListServiceUserAPIKeys", operations: []string{"listServiceUserApiKeys"}},
		{op: "RevokeServiceUserAPIKey", operations: []string{"revokeServiceUserApiKey"}},
		{op: "RotateServiceUserAPIKey", operations: []string{"rotateServiceUserApiKey"}},
		{op: "GetUser", operations: []string{"getUser"}},
		{op: "FindUserByEmail", operations: []string{"listUsers", "listIdpGroupUsers", "getUser"}},
		{op: "ListRoles", operations: []string{"listRoles"}},
	}
	known := map[string]bool{}
	for _, id := range v.Operations() {
		known[id] = true
	}
	for _, tc := range tests {
		perm := devinapi.RequiredPermission(tc.op, tc.scope)
		for _, id := range tc.operations {
			text, ok := v.Extension(id, "x-permission")
			if !known[id] || !ok || !strings.Contains(fmt.Sprint(text), perm) || perm == "" {
				t.Errorf("%s (%s): permission %q, contract %s says %v", tc.op, tc.scope, perm, id, text)
			}
		}
	}
	if _, ok := v.Extension("noSuchOperation", "x-permission"); ok {
		t.Errorf("Extension found an unknown operation")
	}
}
