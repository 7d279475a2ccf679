package devinapitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// problemTypeBase prefixes the problem types, as the vendor's do.
const problemTypeBase = "https://api.devin.ai/problems/"

// maxRequestBody bounds what the server reads of a request.
const maxRequestBody = 1 << 20

// fieldError is one entry of a 422 answer's "errors".
type fieldError struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// problem is an error answer.
type problem struct {
	status int
	// typ is the last segment of the problem type URI.
	typ    string
	detail string
	errors []fieldError
	// legacy answers the older {"detail": "..."} body instead of a problem document.
	legacy bool
}

func writeProblem(w http.ResponseWriter, p *problem) {
	if p.legacy {
		writeJSON(w, p.status, map[string]string{"detail": p.detail})
		return
	}
	doc := struct {
		Type   string       `json:"type"`
		Title  string       `json:"title"`
		Status int          `json:"status"`
		Detail string       `json:"detail,omitempty"`
		Errors []fieldError `json:"errors,omitempty"`
	}{problemTypeBase + p.typ, http.StatusText(p.status), p.status, p.detail, p.errors}
	body, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func notFound(what string) *problem {
	return &problem{status: http.StatusNotFound, typ: "not-found", detail: what + " not found"}
}

func invalid(errs ...fieldError) *problem {
	return &problem{status: http.StatusUnprocessableEntity, typ: "validation-error",
		detail: "the request is not valid", errors: errs}
}

func bodyError(field, msg string) fieldError {
	return fieldError{Loc: []any{"body", field}, Msg: msg, Type: "value_error"}
}

func queryError(field, msg string) fieldError {
	return fieldError{Loc: []any{"query", field}, Msg: msg, Type: "value_error"}
}

// decodeBody decodes a JSON request body into v; a missing or malformed body is a 422.
func decodeBody(body []byte, v any) *problem {
	if len(bytes.TrimSpace(body)) == 0 {
		return invalid(fieldError{Loc: []any{"body"}, Msg: "a JSON body is required", Type: "missing"})
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return invalid(fieldError{Loc: []any{"body", te.Field}, Msg: "wrong type, want " + te.Type.String(), Type: "type_error"})
		}
		return invalid(fieldError{Loc: []any{"body"}, Msg: "the body is not valid JSON", Type: "json_invalid"})
	}
	return nil
}

// checkName validates a name of 1..256 characters.
func checkName(field string, name *string) []fieldError {
	if name == nil {
		return []fieldError{bodyError(field, "field required")}
	}
	if n := len([]rune(*name)); n < 1 || n > 256 {
		return []fieldError{bodyError(field, "must be 1 to 256 characters")}
	}
	return nil
}

// checkFuture validates an optional unix time that must be in the future.
func checkFuture(field string, sec *int64, now time.Time) (*time.Time, []fieldError) {
	if sec == nil {
		return nil, nil
	}
	t := time.Unix(*sec, 0).UTC()
	if !t.After(now) {
		return nil, []fieldError{bodyError(field, "must be in the future")}
	}
	return &t, nil
}

func unixPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	s := t.Unix()
	return &s
}

// pageWire is one page of a listing.
type pageWire struct {
	Items       []any  `json:"items"`
	EndCursor   string `json:"end_cursor,omitempty"`
	HasNextPage bool   `json:"has_next_page"`
}

// sequenced is an item of a listing with its position in creation order, so that cursors
// stay valid while items come and go.
type sequenced struct {
	seq  int64
	item any
}

// paginate serves one page of items (sorted by seq) per the "first" and "after" query.
func paginate(r *http.Request, items []sequenced) (pageWire, *problem) {
	q := r.URL.Query()
	first := 100
	if v := q.Get("first"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return pageWire{}, invalid(queryError("first", "must be an integer from 1 to 200"))
		}
		first = n
	}
	var after int64
	if v := q.Get("after"); v != "" {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		rest, ok := strings.CutPrefix(string(raw), "seq:")
		if err == nil && ok {
			after, err = strconv.ParseInt(rest, 10, 64)
		}
		if err != nil || !ok {
			return pageWire{}, invalid(queryError("after", "not a valid cursor"))
		}
	}
	p := pageWire{Items: []any{}}
	var last int64
	for _, it := range items {
		if it.seq <= after {
			continue
		}
		if len(p.Items) == first {
			p.HasNextPage = true
			break
		}
		p.Items = append(p.Items, it.item)
		last = it.seq
	}
	if len(p.Items) > 0 {
		p.EndCursor = base64.RawURLEncoding.EncodeToString([]byte("seq:" + strconv.FormatInt(last, 10)))
	}
	return p, nil
}

// apiRequest is what an API handler sees: it runs with the server's lock held.
type apiRequest struct {
	r         *http.Request
	route     string
	body      []byte
	principal *keyRec
	// ent is the enterprise of the credential: the request is served in it.
	ent *Enterprise
	now time.Time
}

// result is what an API handler answers.
type result struct {
	status int
	body   any
	// event is set when the request changed state.
	event *Event
	err   *problem
}

func ok(body any) result { return result{status: http.StatusOK, body: body} }

func fail(p *problem) result { return result{err: p} }

// serveAPI wraps an API handler: it counts the call, applies the faults, authenticates,
// refuses a request the contract says is malformed (422), runs the handler under the lock,
// calls the hook and writes (or loses) the answer.
func (s *Server) serveAPI(rt route) http.Handler {
	pattern := rt.pattern()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.observe(r, pattern)
		if !s.applyFaults(w, r, rt) {
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
		if err != nil {
			writeProblem(w, &problem{status: http.StatusBadRequest, typ: "bad-request", detail: "cannot read the body"})
			return
		}
		s.mu.Lock()
		req := &apiRequest{r: r, route: pattern, body: body, now: s.now()}
		var res result
		req.principal, req.ent, res.err = s.authenticate(r, rt, req.now)
		if res.err == nil {
			res.err = enforced(r)
		}
		if res.err == nil {
			res = rt.handler(req.ent, req)
		}
		if res.event != nil && req.ent != s.def {
			res.event.Enterprise = req.ent.name
		}
		hook := s.hook
		lose := res.err == nil && rt.create && s.faults.loseCreate()
		mode := s.faults.f.LostResponseMode
		s.mu.Unlock()

		if res.err != nil {
			writeProblem(w, res.err)
			return
		}
		if res.event != nil && hook != nil {
			ev := *res.event
			ev.Route, ev.Method, ev.Status = pattern, r.Method, res.status
			hook(ev)
		}
		if lose {
			s.loseAnswer(w, r, mode)
			return
		}
		writeJSON(w, res.status, res.body)
	})
}

// observe passes the request to the request hook.
func (s *Server) observe(r *http.Request, pattern string) {
	s.mu.Lock()
	h := s.reqHook
	s.mu.Unlock()
	if h != nil {
		h(ObservedRequest{Route: pattern, Path: r.URL.EscapedPath(), Query: r.URL.Query()})
	}
}

// authenticate accepts the admin credential of an enterprise on every v3 route, any other
// live key or PAT on GET /v3/self only, and on the v2 route nothing but an enterprise admin's
// personal key. It answers the enterprise of the credential, where the request is served.
func (s *Server) authenticate(r *http.Request, rt route, now time.Time) (*keyRec, *Enterprise, *problem) {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if rt.v2 {
		e := s.personalKeyOwnerLocked(tok)
		if !found || e == nil {
			// v2 refuses cog_ keys: it takes an enterprise admin's personal key only.
			return nil, nil, &problem{status: http.StatusUnauthorized, legacy: true,
				detail: "Invalid API key: the v2 API accepts an enterprise admin's personal API key only"}
		}
		return nil, e, nil
	}
	if !found || tok == "" {
		return nil, nil, &problem{status: http.StatusUnauthorized, typ: "unauthorized", detail: "missing bearer token"}
	}
	k := s.byHash[hashToken(tok)]
	if k == nil || !k.ent.keyLive(k, now) {
		return nil, nil, &problem{status: http.StatusUnauthorized, typ: "unauthorized", detail: "invalid, expired or revoked token"}
	}
	k.lastUsedAt = &now
	// Permissions are the principal's: every API key of the admin service user may call
	// what the admin may (a key the operator rotated in included).
	if (k.kind != kindAPIKey || k.ownerID != k.ent.adminSUID) && rt.pattern() != "GET /v3/self" {
		return nil, nil, &problem{status: http.StatusForbidden, typ: "forbidden", detail: "this credential may not call this endpoint"}
	}
	return k, k.ent, nil
}
