package devinapitest

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// tokenRecordJSON is a TokenRecord as /_fake/tokens serves it.
type tokenRecordJSON struct {
	TokenRecord
	Active bool `json:"active"`
}

// fakeRoutes adds the control API, without auth but for loopback clients only; tokens, keys
// and the admin token are those of the default enterprise:
//
//	GET|PUT /_fake/faults            the Faults in force (JSON, durations like "50ms")
//	GET|DELETE /_fake/calls          {"calls": {pattern: n}, "total": n, "early_requests": n}; reset
//	GET /_fake/tokens                every issued token, without values
//	POST /_fake/keys/{id}/revoke     revoke a key out of band
//	POST /_fake/admin-token/rotate   {"token": "<new admin credential>"}
func (s *Server) fakeRoutes(mux *http.ServeMux) {
	handle := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, loopbackOnly(h)) }
	handle("GET /_fake/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	handle("PUT /_fake/faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		var f Faults
		if err == nil {
			err = json.Unmarshal(body, &f)
		}
		if err != nil {
			writeProblem(w, invalid(fieldError{Loc: []any{"body"}, Msg: err.Error(), Type: "value_error"}))
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, s.Faults())
	})
	handle("GET /_fake/calls", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"calls": s.Calls(), "total": s.TotalCalls(), "early_requests": s.EarlyRequests()})
	})
	handle("DELETE /_fake/calls", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	handle("GET /_fake/tokens", func(w http.ResponseWriter, _ *http.Request) {
		now := s.now()
		out := []tokenRecordJSON{}
		for _, r := range s.Tokens() {
			out = append(out, tokenRecordJSON{TokenRecord: r, Active: r.Active(now)})
		}
		writeJSON(w, http.StatusOK, out)
	})
	handle("POST /_fake/keys/{id}/revoke", func(w http.ResponseWriter, r *http.Request) {
		err := s.RevokeKey(r.PathValue("id"))
		switch {
		case errors.Is(err, devinapi.ErrNotFound):
			writeProblem(w, notFound("key"))
		case errors.Is(err, devinapi.ErrConflict):
			writeProblem(w, &problem{status: http.StatusConflict, typ: "conflict", detail: "the key is already revoked"})
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	handle("POST /_fake/admin-token/rotate", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"token": s.RotateAdminToken().Reveal()})
	})
	for _, path := range []string{"/_fake/faults", "/_fake/calls", "/_fake/tokens", "/_fake/keys/{id}/revoke", "/_fake/admin-token/rotate"} {
		handle(path, func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, &problem{status: http.StatusMethodNotAllowed, typ: "method-not-allowed", detail: r.Method + " is not allowed here"})
		})
	}
}

// loopbackOnly refuses clients that are not on this machine.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeProblem(w, &problem{status: http.StatusForbidden, typ: "forbidden", detail: "the control API is for loopback clients only"})
			return
		}
		h.ServeHTTP(w, r)
	})
}
