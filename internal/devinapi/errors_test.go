package devinapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseAPIError(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	long := strings.Repeat("x", 500)
	type testCase struct {
		status int
		header http.Header
		body   string
		want   APIError
	}
	tests := map[string]testCase{
		"problem document": {
			status: 403,
			body:   `{"type":"https://api.devin.ai/problems/sso-account","title":"Forbidden","status":403,"detail":"linked to SSO","instance":"/x"}`,
			want:   APIError{Op: "Op", Status: 403, Type: "https://api.devin.ai/problems/sso-account", Title: "Forbidden", Detail: "linked to SSO", Instance: "/x"},
		},
		"validation errors": {
			status: 422,
			body:   `{"type":"t","errors":[{"loc":["body","name",0,true,{"x":1}],"msg":"too long","type":"value_error"},"junk",{"msg":"m"}]}`,
			want: APIError{Op: "Op", Status: 422, Type: "t", Errors: []FieldError{
				{Loc: []any{"body", "name", float64(0), true}, Msg: "too long", Type: "value_error"}, {Msg: "m"},
			}},
		},
		"older detail string": {
			status: 404, body: `{"detail":"Member not found"}`,
			want: APIError{Op: "Op", Status: 404, Detail: "Member not found"},
		},
		"older detail list": {
			status: 422, body: `{"detail":[{"loc":["query","first"],"msg":"bad"}]}`,
			want: APIError{Op: "Op", Status: 422, Errors: []FieldError{{Loc: []any{"query", "first"}, Msg: "bad"}}},
		},
		"wrong member types are ignored": {
			status: 400, body: `{"type":5,"title":["a"],"detail":{"a":1},"errors":"no"}`,
			want: APIError{Op: "Op", Status: 400},
		},
		"plain text": {
			status: 502, body: "  Bad gateway\n from the proxy ",
			want: APIError{Op: "Op", Status: 502, Detail: "Bad gateway  from the proxy"},
		},
		"long text is cut": {
			status: 500, body: long,
			want: APIError{Op: "Op", Status: 500, Detail: long[:200] + "…"},
		},
		"JSON null": {status: 500, body: "null", want: APIError{Op: "Op", Status: 500, Detail: "null"}},
		"empty body": {status: 503, header: http.Header{"Retry-After": {"7"}},
			want: APIError{Op: "Op", Status: 503, RetryAfter: 7 * time.Second}},
		"tokens are scrubbed everywhere": {
			status: 400,
			body:   `{"type":"cog_t","title":"COG_abc","detail":"key cog_AbC-9_z leaked","instance":"cog_","errors":[{"loc":["cog_x"],"msg":"cog_y","type":"cog_z"}]}`,
			want: APIError{Op: "Op", Status: 400, Type: "[REDACTED]", Title: "[REDACTED]", Detail: "key [REDACTED] leaked", Instance: "[REDACTED]",
				Errors: []FieldError{{Loc: []any{"[REDACTED]"}, Msg: "[REDACTED]", Type: "[REDACTED]"}}},
		},
		"escaped token in JSON is scrubbed": {
			status: 400, body: `{"detail":"cog\u005fsecret"}`,
			want: APIError{Op: "Op", Status: 400, Detail: "[REDACTED]"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			got := parseAPIError("Op", tc.status, h, []byte(tc.body), now)
			if diff := cmp.Diff(&tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAPIErrorBoundsFieldErrors(t *testing.T) {
	var items []map[string]any
	for i := 0; i < 50; i++ {
		items = append(items, map[string]any{"loc": []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, "msg": "m"})
	}
	body, _ := json.Marshal(map[string]any{"detail": items, "errors": items})
	e := parseAPIError("Op", 422, http.Header{}, body, time.Now())
	if len(e.Errors) != maxFieldErrors || len(e.Errors[0].Loc) != maxLocParts {
		t.Fatalf("kept %d errors with %d loc parts", len(e.Errors), len(e.Errors[0].Loc))
	}
	if !strings.Contains(e.Error(), "; and 17 more") {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	type testCase struct {
		value string
		want  time.Duration
	}
	tests := map[string]testCase{
		"absent":          {},
		"seconds":         {value: "3", want: 3 * time.Second},
		"zero":            {value: "0"},
		"with spaces":     {value: " 2 ", want: 2 * time.Second},
		"huge is capped":  {value: "999999999999", want: maxRetryAfter},
		"negative":        {value: "-1"},
		"fraction":        {value: "1.5"},
		"HTTP date":       {value: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second},
		"far date capped": {value: now.Add(48 * time.Hour).Format(http.TimeFormat), want: maxRetryAfter},
		"past date":       {value: now.Add(-time.Minute).Format(http.TimeFormat)},
		"garbage":         {value: "soon"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseRetryAfter(tc.value, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func TestAPIErrorClasses(t *testing.T) {
	const (
		sso     = "https://api.devin.ai/problems/sso-account"
		feature = "https://api.devin.ai/problems/feature-not-enabled"
	)
	type testCase struct {
		status int
		typ    string
		want   []error
	}
	tests := map[string]testCase{
		"400":             {status: 400, want: []error{ErrInvalid}},
		"401":             {status: 401, want: []error{ErrUnauthorized}},
		"403":             {status: 403, want: []error{ErrForbidden}},
		"403 sso":         {status: 403, typ: sso, want: []error{ErrForbidden, ErrSSOAccount}},
		"403 feature":     {status: 403, typ: feature, want: []error{ErrForbidden, ErrFeatureNotEnabled}},
		"404":             {status: 404, want: []error{ErrNotFound}},
		"408":             {status: 408, want: []error{ErrRetryable}},
		"409":             {status: 409, want: []error{ErrConflict}},
		"422":             {status: 422, want: []error{ErrInvalid}},
		"422 sso":         {status: 422, typ: sso, want: []error{ErrForbidden, ErrSSOAccount}},
		"422 feature":     {status: 422, typ: feature, want: []error{ErrInvalid}},
		"429":             {status: 429, want: []error{ErrRetryable}},
		"500":             {status: 500, want: []error{ErrRetryable}},
		"503":             {status: 503, want: []error{ErrRetryable}},
		"599":             {status: 599, want: []error{ErrRetryable}},
		"404 sso":         {status: 404, typ: sso, want: []error{ErrNotFound}},
		"410 unclassed":   {status: 410},
		"302 unclassed":   {status: 302},
		"other sentinels": {status: 200},
	}
	all := []error{ErrNotFound, ErrConflict, ErrUnauthorized, ErrForbidden, ErrSSOAccount, ErrFeatureNotEnabled, ErrInvalid, ErrRetryable}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := error(&APIError{Op: "Op", Status: tc.status, Type: tc.typ})
			for _, s := range all {
				want := false
				for _, w := range tc.want {
					want = want || w == s
				}
				if got := errors.Is(err, s); got != want {
					t.Errorf("errors.Is(%d %q, %v) = %v, want %v", tc.status, tc.typ, s, got, want)
				}
			}
			if errors.Is(err, errors.New("other")) {
				t.Errorf("matches an unrelated error")
			}
		})
	}
}

func TestAPIErrorText(t *testing.T) {
	type testCase struct {
		err  APIError
		want string
	}
	tests := map[string]testCase{
		"detail":        {err: APIError{Op: "CreatePAT", Status: 403, Title: "Forbidden", Detail: "no"}, want: "devinapi: CreatePAT: 403 Forbidden: no"},
		"title only":    {err: APIError{Op: "CreatePAT", Status: 403, Title: "Forbidden here"}, want: "devinapi: CreatePAT: 403 Forbidden: Forbidden here"},
		"nothing":       {err: APIError{Op: "Self", Status: 401}, want: "devinapi: Self: 401 Unauthorized"},
		"unknown code":  {err: APIError{Status: 599}, want: "devinapi: 599"},
		"field errors":  {err: APIError{Op: "X", Status: 422, Errors: []FieldError{{Loc: []any{"body", "name"}, Msg: "bad"}, {Msg: "m"}, {Loc: []any{"q"}}}}, want: "devinapi: X: 422 Unprocessable Entity (body.name: bad; m; q)"},
		"token in text": {err: APIError{Op: "X", Status: 500, Detail: "cog_abc"}, want: "devinapi: X: 500 Internal Server Error: [REDACTED]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRequestError(t *testing.T) {
	type testCase struct {
		err        *RequestError
		want       string
		wantRetry  time.Duration
		wantRetryB bool
	}
	tests := map[string]testCase{
		"with cause":   {err: &RequestError{Op: "Self", Err: errors.New("dial cog_x: refused")}, want: "devinapi: Self: request failed: dial [REDACTED]: refused"},
		"no cause":     {err: &RequestError{}, want: "devinapi: request failed"},
		"with a delay": {err: &RequestError{Op: "Self", Err: errThrottled, RetryAfter: time.Second}, want: "devinapi: Self: request failed: " + errThrottled.Error(), wantRetry: time.Second, wantRetryB: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if !errors.Is(tc.err, ErrRetryable) {
				t.Errorf("not retryable")
			}
			if d, ok := RetryAfter(tc.err); d != tc.wantRetry || ok != tc.wantRetryB {
				t.Errorf("RetryAfter = %v, %v", d, ok)
			}
		})
	}
}

func TestClientURL(t *testing.T) {
	type testCase struct {
		base string
		path string
		want string
	}
	tests := map[string]testCase{
		"root":                {base: "https://api.devin.ai", path: "/v3/self", want: "https://api.devin.ai/v3/self"},
		"prefix":              {base: "https://host/api/", path: "/v3/self", want: "https://host/api/v3/self"},
		"escaped segment":     {base: "https://host", path: escapePath("/v3/x/%s", "a/b c"), want: "https://host/v3/x/a%2Fb%20c"},
		"escaped with prefix": {base: "https://host/a%2Fb", path: escapePath("/x/%s", "?"), want: "https://host/a%2Fb/x/%3F"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := New(Options{BaseURL: tc.base, Credentials: StaticToken(NewToken("t"))})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.url(tc.path, nil); got != tc.want {
				t.Errorf("url = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzParseError feeds arbitrary answers to the error parser: it must not panic, and no
// token-like string of the body may reach the error.
func FuzzParseError(f *testing.F) {
	f.Add(403, "", `{"type":"https://api.devin.ai/problems/sso-account","detail":"cog_abc"}`)
	f.Add(422, "3", `{"detail":[{"loc":["body","cog_x"],"msg":"cog_y"}]}`)
	f.Add(500, "Wed, 21 Oct 2015 07:28:00 GMT", "<html>cog_secret</html>")
	f.Add(429, "-5", `{"errors":[null,1,"x",{"loc":{"a":"cog_b"}}]}`)
	f.Add(0, "x", "\xff\xfecog_\x00abc")
	f.Add(999, "", `{"title":"COG_ABC","instance":"cog\u005fabc"}`)
	f.Fuzz(func(t *testing.T, status int, retryAfter, body string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := parseAPIError("FuzzOp", status, h, []byte(body), time.Now())
		fields := []string{e.Type, e.Title, e.Detail, e.Instance}
		for _, fe := range e.Errors {
			fields = append(fields, fe.Msg, fe.Type)
			for _, l := range fe.Loc {
				if s, ok := l.(string); ok {
					fields = append(fields, s)
				}
			}
		}
		for _, s := range fields {
			if len(s) > maxEchoBytes+len("…") {
				t.Fatalf("a field of %d bytes: %q", len(s), s)
			}
		}
		texts := append(fields, e.Error())
		for _, fe := range e.Errors {
			texts = append(texts, fe.String())
		}
		for _, s := range texts {
			if strings.Contains(strings.ToLower(s), "cog_") {
				t.Fatalf("token-like text reached the error: %q", s)
			}
		}
		if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
			t.Fatalf("RetryAfter = %v", e.RetryAfter)
		}
		_ = errors.Is(e, ErrRetryable)
		_ = IsGone(e)
	})
}
