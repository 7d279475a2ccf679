package devinapitest_test

import (
	"testing"

	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestRoutingProblems(t *testing.T) {
	type testCase struct {
		opts      []devinapitest.Option
		method    string
		path      string
		status    int
		wantAllow string
		wantBody  string
		// violation is the contract violation the request is, if any.
		violation string
	}
	const notFound, notAllowed = `{"detail":"Not Found"}`, `{"detail":"Method Not Allowed"}`
	tests := map[string]testCase{
		"unknown route":     {method: "GET", path: "/v4/anything", status: 404, wantBody: notFound, violation: "unknown-operation"},
		"trailing slash":    {method: "GET", path: "/v3/self/", status: 404, wantBody: notFound, violation: "unknown-operation"},
		"wrong method":      {method: "PUT", path: "/v3/self", status: 405, wantAllow: "GET", wantBody: notAllowed, violation: "unknown-operation"},
		"several methods":   {method: "PUT", path: "/v3/enterprise/members/service-users/su-x", status: 405, wantAllow: "DELETE, GET, PATCH", wantBody: notAllowed, violation: "unknown-operation"},
		"fake unknown":      {method: "GET", path: "/_fake/nothing", status: 404, wantBody: notFound},
		"fake wrong method": {method: "POST", path: "/_fake/tokens", status: 405},
		"PAT API absent": {opts: []devinapitest.Option{devinapitest.WithoutPATAPI()}, method: "POST",
			path: "/v3beta1/enterprise/members/users/user-alice/personal-access-tokens", status: 404, wantBody: notFound},
		"PAT API absent, list": {opts: []devinapitest.Option{devinapitest.WithoutPATAPI()}, method: "GET",
			path: "/v3beta1/enterprise/members/users/user-alice/personal-access-tokens?status=active", status: 404, wantBody: notFound},
		"in the contract, not in the fake": {method: "GET", path: "/v3/enterprise/audit-logs", status: 404, wantBody: notFound,
			violation: "listAuditLogs) answered 404: response body doesn't match schema"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := newFake(t, tc.opts...)
			a := admin(t, s, tc.method, tc.path, nil)
			if tc.violation != "" {
				takeViolations(t, s, tc.violation)
			}
			if a.status != tc.status {
				t.Fatalf("status %d, want %d", a.status, tc.status)
			}
			if tc.wantBody != "" && (string(a.body) != tc.wantBody || a.header.Get("Content-Type") != "application/json") {
				t.Errorf("answer %s %s, want %s", a.header.Get("Content-Type"), a.body, tc.wantBody)
			}
			if a.header.Get("Allow") != tc.wantAllow {
				t.Errorf("Allow %q, want %q", a.header.Get("Allow"), tc.wantAllow)
			}
			if n := s.TotalCalls(); n != 0 {
				t.Errorf("unknown routes counted as %d calls", n)
			}
		})
	}
}
