package contract

import (
	"net/http"
	"strings"
)

// Origin tells why a request outside the published contract is made at all.
type Origin string

const (
	// OriginAssumed marks an endpoint the vendor has not published, whose path and shape the
	// project assumes (and keeps in one place of the client so that it can be changed).
	OriginAssumed Origin = "assumed"
	// OriginFakeOnly marks an endpoint that exists only in the in-memory fake (devinapitest):
	// its control API. No real server has it.
	OriginFakeOnly Origin = "fake-only"
)

// Exemption is a request outside the published contract that is neither checked nor
// reported: an assumed endpoint or the fake's own control API.
type Exemption struct {
	// Method is the HTTP method; empty matches every method.
	Method string
	// Path is a pattern of escaped path segments: "{name}" matches one segment and a final
	// "{name...}" matches the rest of the path (as in net/http patterns).
	Path   string
	Origin Origin
	// Why says why the request is made although the vendor does not publish it.
	Why string
}

// patPath is the assumed path of a user's personal access tokens (devinapi/pats.go).
const patPath = "/v3beta1/enterprise/members/users/{user_id}/personal-access-tokens"

// patWhy is why the PAT endpoints are exempt.
const patWhy = "no PAT management endpoint is published (SOURCES.md, \"Personal access tokens\"); " +
	"the client's PAT calls mirror the service-user API key endpoints and are refused with " +
	"ErrPATAPIUnavailable where the route does not exist"

// exemptions is THE list of requests outside the published contract. Nothing else is exempt:
// add an entry here, with its reason, rather than anywhere else.
var exemptions = []Exemption{
	// ASSUMED: the operator's PAT calls (devinapi.CreatePAT, ListPATs, RevokePAT).
	{Method: http.MethodPost, Path: patPath, Origin: OriginAssumed, Why: patWhy},
	{Method: http.MethodGet, Path: patPath, Origin: OriginAssumed, Why: patWhy},
	{Method: http.MethodDelete, Path: patPath + "/{api_key_id}", Origin: OriginAssumed, Why: patWhy},
	// FAKE ONLY: the control API of devinapitest (faults, call counts, token records,
	// out-of-band revocation, admin credential rotation), served beside the API for tests and
	// the dev environment; every method, including the wrong ones it answers 405 to.
	{Path: "/_fake/{rest...}", Origin: OriginFakeOnly,
		Why: "the fake's control API for tests and the dev environment; not part of any real API"},
}

// Exemptions returns a copy of the table of exempt requests.
func Exemptions() []Exemption { return append([]Exemption(nil), exemptions...) }

// Exempt returns the exemption that matches a request's method and escaped path, if any.
func Exempt(method, escapedPath string) (Exemption, bool) {
	for _, e := range exemptions {
		if (e.Method == "" || e.Method == method) && matchPath(e.Path, escapedPath) {
			return e, true
		}
	}
	return Exemption{}, false
}

// matchPath matches an escaped path against a pattern of segments (see Exemption.Path).
func matchPath(pattern, path string) bool {
	pp := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	sp := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, p := range pp {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "...}") {
			return i == len(pp)-1
		}
		if i >= len(sp) {
			return false
		}
		wildcard := strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}")
		if (wildcard && sp[i] == "") || (!wildcard && sp[i] != p) {
			return false
		}
	}
	return len(pp) == len(sp)
}
