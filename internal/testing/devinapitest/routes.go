package devinapitest

import (
	"net/http"
	"sort"
	"strings"
)

// route is one API endpoint.
type route struct {
	method string
	path   string
	// handler serves a request in the enterprise of its credential.
	handler func(*Enterprise, *apiRequest) result
	// create marks endpoints that issue a token; their answers may be lost (Faults).
	create bool
	// v2 marks the legacy v2 API: its own credential, {"detail": "..."} error bodies.
	v2 bool
}

func (r route) pattern() string { return r.method + " " + r.path }

// Route paths shared by several endpoints.
const (
	suPath      = "/v3/enterprise/members/service-users/{service_user_id}"
	keysPath    = "/v3beta1/enterprise/service-users/{service_user_id}/api-keys"
	patsPath    = "/v3beta1/enterprise/members/users/{user_id}/personal-access-tokens"
	orgRolePath = "/v3/enterprise/organizations/{org_id}/members/service-users/{service_user_id}"
	v2Member    = "/v2/enterprise/members/{user_id}"
)

// apiRoutes lists the endpoints the fake serves; the PAT endpoints (assumed, not published)
// only when the PAT API is on.
func (s *Server) apiRoutes() []route {
	api := []route{
		{method: http.MethodPost, path: "/v3beta1/organizations/{org_id}/service-users", handler: (*Enterprise).provisionOrg, create: true},
		{method: http.MethodPost, path: "/v3beta1/enterprise/service-users", handler: (*Enterprise).provisionEnterprise, create: true},
		{method: http.MethodGet, path: "/v3/enterprise/members/service-users", handler: (*Enterprise).listServiceUsers},
		{method: http.MethodGet, path: suPath, handler: (*Enterprise).getServiceUser},
		{method: http.MethodPatch, path: suPath, handler: (*Enterprise).updateRoleEnterprise},
		{method: http.MethodDelete, path: suPath, handler: (*Enterprise).deleteServiceUser},
		{method: http.MethodPatch, path: orgRolePath, handler: (*Enterprise).updateRoleOrg},
		{method: http.MethodPost, path: keysPath, handler: (*Enterprise).createAPIKey, create: true},
		{method: http.MethodGet, path: keysPath, handler: (*Enterprise).listAPIKeys},
		{method: http.MethodDelete, path: keysPath + "/{api_key_id}", handler: (*Enterprise).revokeAPIKey},
		{method: http.MethodPost, path: keysPath + "/{api_key_id}/rotate", handler: (*Enterprise).rotateAPIKey, create: true},
		{method: http.MethodGet, path: "/v3/enterprise/members/users", handler: (*Enterprise).listUsers},
		{method: http.MethodGet, path: "/v3/enterprise/members/idp-users", handler: (*Enterprise).listIdpUsers},
		{method: http.MethodGet, path: "/v3/enterprise/members/users/{user_id}", handler: (*Enterprise).getUser},
		{method: http.MethodGet, path: v2Member, handler: (*Enterprise).getMemberV2, v2: true},
		{method: http.MethodGet, path: "/v3/enterprise/roles", handler: (*Enterprise).listRoles},
		{method: http.MethodGet, path: "/v3/self", handler: (*Enterprise).self},
	}
	if s.patAPI {
		api = append(api,
			route{method: http.MethodPost, path: patsPath, handler: (*Enterprise).createPAT, create: true},
			route{method: http.MethodGet, path: patsPath, handler: (*Enterprise).listPATs},
			route{method: http.MethodDelete, path: patsPath + "/{api_key_id}", handler: (*Enterprise).revokePAT},
		)
	}
	return api
}

// routes builds the mux: the API routes (authenticated, faulty), the answers of the real API
// (FastAPI) for wrong methods and unknown routes, and the /_fake control API.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range s.apiRoutes() {
		mux.Handle(rt.pattern(), s.serveAPI(rt))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for path, methods := range allowed {
		sort.Strings(methods)
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Allow", allow)
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
		})
	}
	s.fakeRoutes(mux)
	mux.HandleFunc("/", writeUnknownRoute)
	return mux
}

// writeUnknownRoute answers as the API answers a path it does not serve: FastAPI's default
// 404, not a problem document. The client tells an absent PAT API by it.
func writeUnknownRoute(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
}
