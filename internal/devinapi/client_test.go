package devinapi_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestNewValidatesOptions(t *testing.T) {
	creds := devinapi.StaticToken(devinapi.NewToken("x"))
	type testCase struct {
		opts    devinapi.Options
		wantErr string
	}
	tests := map[string]testCase{
		"no base URL":      {opts: devinapi.Options{Credentials: creds}, wantErr: "BaseURL is required"},
		"relative URL":     {opts: devinapi.Options{BaseURL: "/api", Credentials: creds}, wantErr: "not an absolute"},
		"other scheme":     {opts: devinapi.Options{BaseURL: "ftp://host", Credentials: creds}, wantErr: "not an absolute"},
		"unparsable URL":   {opts: devinapi.Options{BaseURL: "http://[::1", Credentials: creds}, wantErr: "parse BaseURL"},
		"query in URL":     {opts: devinapi.Options{BaseURL: "https://host/?a=b", Credentials: creds}, wantErr: "query or fragment"},
		"no credentials":   {opts: devinapi.Options{BaseURL: "https://api.devin.ai"}, wantErr: "Credentials are required"},
		"valid":            {opts: devinapi.Options{BaseURL: "https://api.devin.ai", Credentials: creds}},
		"valid with limit": {opts: devinapi.Options{BaseURL: "https://api.devin.ai/", Credentials: creds, QPS: 5}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := devinapi.New(tc.opts)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New() = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New() error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestArgumentsCheckedBeforeSending(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	type testCase struct {
		call func() error
	}
	tests := map[string]testCase{
		"provision without org": {call: func() error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeOrganization, Name: "x", RoleID: "r", TTL: time.Hour})
			return err
		}},
		"provision unknown scope": {call: func() error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: "", Name: "x", RoleID: "r", TTL: time.Hour})
			return err
		}},
		"provision without TTL": {call: func() error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "x", RoleID: "r"})
			return err
		}},
		"provision, TTL under a second": {call: func() error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "x", RoleID: "r", TTL: time.Millisecond})
			return err
		}},
		"provision, TTL over a year": {call: func() error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "x", RoleID: "r", TTL: devinapi.MaxServiceUserTTL + time.Second})
			return err
		}},
		"provision negative TTL": {call: func() error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "x", RoleID: "r", TTL: -time.Second})
			return err
		}},
		"get service user":     {call: func() error { _, err := c.GetServiceUser(ctx, ""); return err }},
		"delete service user":  {call: func() error { return c.DeleteServiceUser(ctx, ".") }},
		"create key":           {call: func() error { _, err := c.CreateServiceUserAPIKey(ctx, "", devinapi.CreateKeyRequest{}); return err }},
		"list keys":            {call: func() error { _, err := c.ListServiceUserAPIKeys(ctx, "", ""); return err }},
		"revoke key, no owner": {call: func() error { return c.RevokeServiceUserAPIKey(ctx, "", "k") }},
		"revoke key, no key":   {call: func() error { return c.RevokeServiceUserAPIKey(ctx, "su", "") }},
		"rotate key, no owner": {call: func() error {
			_, err := c.RotateServiceUserAPIKey(ctx, "", "k", devinapi.RotateKeyRequest{})
			return err
		}},
		"rotate key, no key": {call: func() error {
			_, err := c.RotateServiceUserAPIKey(ctx, "su", "", devinapi.RotateKeyRequest{})
			return err
		}},
		"update role, org scope without org": {call: func() error {
			_, err := c.UpdateServiceUserRole(ctx, devinapi.ScopeOrganization, "", "su", "r")
			return err
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			only(t, tc.call(), devinapi.ErrInvalid)
		})
	}
	if n := s.TotalCalls(); n != 0 {
		t.Errorf("the server saw %d calls, want none", n)
	}
}

// recordingTransport records the headers of every request it passes on.
type recordingTransport struct {
	mu      sync.Mutex
	headers []http.Header
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.headers = append(rt.headers, req.Header.Clone())
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestHeadersAndBaseURLPath(t *testing.T) {
	s := newFake(t)
	rt := &recordingTransport{}
	type testCase struct {
		userAgent string
		want      string
	}
	tests := map[string]testCase{
		"default user agent": {want: "token-operator"},
		"custom user agent":  {userAgent: "token-operator/1.2", want: "token-operator/1.2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rt.headers = nil
			c := s.Client(func(o *devinapi.Options) {
				o.HTTPClient = &http.Client{Transport: rt}
				o.UserAgent = tc.userAgent
				o.BaseURL = s.URL + "/" // a trailing slash must not double the slash
			})
			if _, err := c.Self(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			h := rt.headers[0]
			if h.Get("User-Agent") != tc.want || h.Get("Authorization") != "Bearer "+s.AdminToken().Reveal() {
				t.Errorf("User-Agent %q, Authorization set: %v", h.Get("User-Agent"), h.Get("Authorization") != "")
			}
		})
	}
}

func TestDecodeFailuresOfSuccessfulAnswers(t *testing.T) {
	type testCase struct {
		status int
		body   string
		call   func(c *devinapi.Client, ctx context.Context) error
		want   string
	}
	tests := map[string]testCase{
		"not JSON": {status: 200, body: "hello cog_secret", want: "decode answer", call: func(c *devinapi.Client, ctx context.Context) error {
			_, err := c.Self(ctx)
			return err
		}},
		"create without token": {status: 201, body: `{"api_key_id":"k"}`, want: "no token", call: func(c *devinapi.Client, ctx context.Context) error {
			_, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "x"})
			return err
		}},
		"provision without token": {status: 201, body: `{"service_user":{"service_user_id":"s"}}`, want: "no token", call: func(c *devinapi.Client, ctx context.Context) error {
			_, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "x", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
			return err
		}},
		"key list with more pages": {status: 200, body: `{"items":[],"has_next_page":true}`, want: "more items exist", call: func(c *devinapi.Client, ctx context.Context) error {
			_, err := c.ListServiceUserAPIKeys(ctx, "su-x", "")
			return err
		}},
		"cursor that does not advance": {status: 200, body: `{"items":[],"has_next_page":true}`, want: "cursor", call: func(c *devinapi.Client, ctx context.Context) error {
			_, err := c.ListRoles(ctx)
			return err
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			s.SetFaults(devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: tc.status, ErrorBody: tc.body})
			err := tc.call(s.Client(), testCtx(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.want)
			}
			only(t, err)
		})
	}
}
