package devinapitest

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"github.com/cogtokens/token-operator/internal/testing/contract"
)

// contractKey carries the contract check of a request to serveAPI, which enforces it.
type contractKey struct{}

// contractLayer checks every request and answer against the published contract:
//   - an exempt request (contract.Exemptions: the assumed PAT endpoints, /_fake) passes
//     unchecked;
//   - every violation is recorded (see Violations and CheckContract);
//   - a request the API would refuse as malformed is answered 422 by serveAPI, after the
//     faults and the authentication, as the API would;
//   - the answer is buffered, passed to the ResponseMutator if any, checked unless the fault
//     injection marked it exempt, and written.
func (s *Server) contractLayer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		if err != nil {
			writeProblem(w, &problem{status: http.StatusBadRequest, typ: "bad-request", detail: "cannot read the body"})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		x := s.contract.CheckRequest(r, body)
		if x.Exemption != nil {
			next.ServeHTTP(w, r)
			return
		}
		s.recordViolations(x.Violations)
		buf := &responseBuffer{header: http.Header{}, status: http.StatusOK}
		// A handler that aborts (a held answer) panics through here: nothing is written.
		next.ServeHTTP(buf, r.WithContext(context.WithValue(r.Context(), contractKey{}, x)))
		out := buf.body.Bytes()
		if s.mutator != nil {
			out = s.mutator(r, buf.status, out)
		}
		if buf.exempt == "" {
			s.recordViolations(x.CheckResponse(buf.status, buf.header, out))
		}
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(out)
	})
}

// enforced returns the 422 answer the API gives to the request of r, or nil when the
// contract accepts it (or is off).
func enforced(r *http.Request) *problem {
	x, _ := r.Context().Value(contractKey{}).(*contract.Exchange)
	if x == nil {
		return nil
	}
	fields := x.Enforced()
	if len(fields) == 0 {
		return nil
	}
	errs := make([]fieldError, len(fields))
	for i, f := range fields {
		loc := make([]any, len(f.Loc))
		for j, l := range f.Loc {
			loc[j] = l
		}
		errs[i] = fieldError{Loc: loc, Msg: f.Msg, Type: f.Type}
	}
	return invalid(errs...)
}

// responseBuffer holds an answer until it has been checked.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
	// exempt, when set, says why the answer is not checked against the contract.
	exempt string
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if !b.wrote {
		b.status, b.wrote = status, true
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

// exemptFromContract keeps the answer being written to w from being checked, for reason: an
// answer injected as a fault between the client and the API is not an answer of the API.
func exemptFromContract(w http.ResponseWriter, reason string) {
	if b, ok := w.(*responseBuffer); ok {
		b.exempt = reason
	}
}

// recordViolations keeps vs and reports each to the WithContractFailure function.
func (s *Server) recordViolations(vs []contract.Violation) {
	if len(vs) == 0 {
		return
	}
	s.vmu.Lock()
	s.violations = append(s.violations, vs...)
	s.vmu.Unlock()
	if s.onViolation != nil {
		for _, v := range vs {
			s.onViolation(v.String())
		}
	}
}

// Violations returns the contract violations recorded so far: requests outside the published
// contract (the client's fault) and answers that do not match it (the fake's fault).
func (s *Server) Violations() []contract.Violation {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	return append([]contract.Violation(nil), s.violations...)
}

// TakeViolations returns the violations recorded so far and forgets them: a test that
// provokes a violation on purpose takes it, so that CheckContract does not report it.
func (s *Server) TakeViolations() []contract.Violation {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	out := s.violations
	s.violations = nil
	return out
}

// TestingT is the part of testing.TB that CheckContract and NewTestServer use.
type TestingT interface {
	Helper()
	Errorf(format string, args ...any)
	Cleanup(func())
}

// CheckContract makes t fail, when it ends, with one error per contract violation recorded
// and not taken by then (see TakeViolations).
func (s *Server) CheckContract(t TestingT) {
	t.Helper()
	t.Cleanup(func() {
		for _, v := range s.TakeViolations() {
			t.Errorf("devinapitest: %s", v)
		}
	})
}

// NewTestServer starts a Server for one test, closes it when the test ends, and fails the
// test for every contract violation left untaken (CheckContract).
func NewTestServer(t TestingT, opts ...Option) *Server {
	t.Helper()
	s := NewServer(opts...)
	t.Cleanup(s.Close)
	s.CheckContract(t)
	return s
}
