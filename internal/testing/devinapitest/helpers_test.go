package devinapitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// newFake starts a server for one test, which fails for every contract violation left
// untaken.
func newFake(t *testing.T, opts ...devinapitest.Option) *devinapitest.Server {
	t.Helper()
	return devinapitest.NewTestServer(t, opts...)
}

// takeViolations takes the contract violations a test provoked on purpose and checks that
// there is one for each of want, in order (each a substring of the violation's description).
func takeViolations(t *testing.T, s *devinapitest.Server, want ...string) {
	t.Helper()
	got := s.TakeViolations()
	if len(got) != len(want) {
		t.Errorf("%d contract violations, want %d: %v", len(got), len(want), got)
		return
	}
	for i, w := range want {
		if !strings.Contains(got[i].String(), w) {
			t.Errorf("violation %d is %q, want it to mention %q", i, got[i], w)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// answer is a raw HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// problemDoc is an RFC 9457 problem document.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	} `json:"errors"`
}

func (a answer) problem(t *testing.T) problemDoc {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (body %s)", ct, a.body)
	}
	var p problemDoc
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("problem document %s: %v", a.body, err)
	}
	if p.Status != a.status || p.Title != http.StatusText(a.status) {
		t.Fatalf("problem %+v for a %d answer", p, a.status)
	}
	return p
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// call sends a raw request; token "" sends no Authorization header; body may be a string
// (sent as is) or a value (sent as JSON).
func call(t *testing.T, base, method, path, token string, body any) answer {
	t.Helper()
	var rdr io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rdr = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rdr = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, base+path, rdr)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// admin sends a raw request with the admin token.
func admin(t *testing.T, s *devinapitest.Server, method, path string, body any) answer {
	t.Helper()
	return call(t, s.URL, method, path, s.AdminToken().Reveal(), body)
}
