// Package devinapitest is an in-memory Devin API server for tests and the dev environment.
// It speaks the HTTP contract of the devinapi client (same paths, JSON, problem documents and
// pagination), keeps its state in memory, stores token values only as SHA-256 hashes, and can
// inject faults: latency, errors, rate limiting, lost create answers and a full outage.
//
// Time-driven state (expiry) follows the injected clock; faults follow the real clock.
package devinapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// AdminServiceUserID is the ID of the seeded enterprise service user whose API key is the
// admin credential (AdminToken).
const AdminServiceUserID = "su-token-operator-admin"

// Option configures a Server.
type Option func(*config)

type config struct {
	clock      clock.PassiveClock
	seed       *Seed
	adminToken string
}

// WithClock makes the server read time (creation, expiry) from c instead of the real clock.
func WithClock(c clock.PassiveClock) Option { return func(cfg *config) { cfg.clock = c } }

// WithSeed replaces DefaultSeed as the initial content.
func WithSeed(seed Seed) Option { return func(cfg *config) { cfg.seed = &seed } }

// WithAdminToken fixes the value of the admin credential instead of a random one.
func WithAdminToken(tok string) Option { return func(cfg *config) { cfg.adminToken = tok } }

// Event describes a request that changed the server's state.
type Event struct {
	// Route is the route pattern, e.g. "POST /v3beta1/enterprise/service-users".
	Route  string
	Method string
	// Status is the status of the answer the server is about to write (for a create whose
	// answer is then lost, the status it would have had).
	Status int
	// TokenID is the key issued or revoked, if any.
	TokenID string
	// OwnerID is the service user or user the change is about.
	OwnerID string
}

// Server is an in-memory Devin API. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of a server started by NewServer; empty for NewUnstarted.
	URL string

	ts        *httptest.Server
	handler   http.Handler
	clock     clock.PassiveClock
	closing   chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	orgs       []string
	roles      []SeedRole
	users      map[string]*SeedUser
	userOrder  []string
	sus        map[string]*serviceUserRec
	suOrder    []string
	keys       map[string]*keyRec
	keyOrder   []string
	byHash     map[[32]byte]*keyRec
	adminToken string
	adminKeyID string
	seq        int64
	calls      map[string]int
	hook       func(Event)
	faults     faultState
}

// NewServer starts a Server listening on 127.0.0.1 on a random port; call Close when done.
func NewServer(opts ...Option) *Server {
	s := NewUnstarted(opts...)
	s.ts = httptest.NewServer(s.handler)
	s.URL = s.ts.URL
	return s
}

// NewUnstarted returns a Server that does not listen: serve Handler yourself (the dev
// environment does). Call Close to release requests held by faults.
func NewUnstarted(opts ...Option) *Server {
	cfg := config{clock: clock.RealClock{}}
	for _, o := range opts {
		o(&cfg)
	}
	seed := DefaultSeed()
	if cfg.seed != nil {
		seed = *cfg.seed
	}
	s := &Server{
		clock:   cfg.clock,
		closing: make(chan struct{}),
		users:   map[string]*SeedUser{},
		sus:     map[string]*serviceUserRec{},
		keys:    map[string]*keyRec{},
		byHash:  map[[32]byte]*keyRec{},
		calls:   map[string]int{},
	}
	s.faults.reset(Faults{})
	s.orgs = append(s.orgs, seed.Organizations...)
	s.roles = append(s.roles, seed.Roles...)
	for _, u := range seed.Users {
		s.upsertUserLocked(u)
	}
	s.seedAdmin(cfg.adminToken)
	s.handler = s.routes()
	return s
}

// seedAdmin creates the operator's admin service user and its API key.
func (s *Server) seedAdmin(token string) {
	su := &serviceUserRec{id: AdminServiceUserID, name: "token-operator-admin", createdAt: s.clock.Now(), seq: s.nextSeq()}
	for _, r := range s.roles {
		if r.Type == "enterprise" && (su.roleID == "" || r.ID == RoleEnterpriseAdmin) {
			su.roleID = r.ID
		}
	}
	s.sus[su.id] = su
	s.suOrder = append(s.suOrder, su.id)
	if token == "" {
		token = newTokenValue()
	}
	k := s.addKeyLocked(kindAPIKey, su.id, "admin", nil, token)
	k.admin = true
	s.adminToken, s.adminKeyID = token, k.id
}

// Handler serves the API and the /_fake control API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the server (if NewServer started it) and releases requests held by faults.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	if s.ts != nil {
		s.ts.Close()
	}
}

// AdminToken returns the current admin credential, the one the operator authenticates with.
// It is accepted on every route.
func (s *Server) AdminToken() devinapi.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return devinapi.NewToken(s.adminToken)
}

// Client returns a real client pointed at this server with the current admin token, no rate
// limit and no metrics; opts adjust the options. It panics when the options are invalid.
func (s *Server) Client(opts ...func(*devinapi.Options)) *devinapi.Client {
	o := devinapi.Options{BaseURL: s.URL, Credentials: devinapi.StaticToken(s.AdminToken())}
	for _, f := range opts {
		f(&o)
	}
	c, err := devinapi.New(o)
	if err != nil {
		panic(fmt.Sprintf("devinapitest: new client: %v", err))
	}
	return c
}

// SetHook installs h, called synchronously after a request changed state and before its
// answer is written; nil removes it. h may call the Server's methods.
func (s *Server) SetHook(h func(ev Event)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// Calls returns how many API requests each route pattern received, e.g.
// "POST /v3beta1/enterprise/members/users/{user_id}/personal-access-tokens". Requests the
// faults answered count too; unknown routes and the /_fake API do not.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// TotalCalls returns the number of API requests received, as counted by Calls.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, v := range s.calls {
		n += v
	}
	return n
}

// ResetCalls forgets the counted calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
}

// route is one API endpoint.
type route struct {
	method  string
	path    string
	handler func(*apiRequest) result
	// create marks endpoints that issue a token; their answers may be lost (Faults).
	create bool
}

func (r route) pattern() string { return r.method + " " + r.path }

// routes builds the mux: the API routes (authenticated, faulty), a problem answer for wrong
// methods and unknown routes, and the /_fake control API.
func (s *Server) routes() http.Handler {
	const (
		suPath  = "/v3/enterprise/members/service-users/{service_user_id}"
		keys    = "/v3beta1/enterprise/service-users/{service_user_id}/api-keys"
		pats    = "/v3beta1/enterprise/members/users/{user_id}/personal-access-tokens"
		orgRole = "/v3/enterprise/organizations/{org_id}/members/service-users/{service_user_id}"
	)
	api := []route{
		{http.MethodPost, "/v3beta1/organizations/{org_id}/service-users", s.provisionOrg, true},
		{http.MethodPost, "/v3beta1/enterprise/service-users", s.provisionEnterprise, true},
		{http.MethodGet, "/v3/enterprise/members/service-users", s.listServiceUsers, false},
		{http.MethodGet, suPath, s.getServiceUser, false},
		{http.MethodPatch, suPath, s.updateRoleEnterprise, false},
		{http.MethodDelete, suPath, s.deleteServiceUser, false},
		{http.MethodPatch, orgRole, s.updateRoleOrg, false},
		{http.MethodPost, keys, s.createAPIKey, true},
		{http.MethodGet, keys, s.listAPIKeys, false},
		{http.MethodDelete, keys + "/{api_key_id}", s.revokeAPIKey, false},
		{http.MethodPost, keys + "/{api_key_id}/rotate", s.rotateAPIKey, true},
		{http.MethodGet, "/v3/enterprise/members/users", s.listUsers, false},
		{http.MethodGet, "/v3/enterprise/members/users/{user_id}", s.getUser, false},
		{http.MethodGet, "/v2/enterprise/members/{user_id}", s.getMemberV2, false},
		{http.MethodGet, "/v3/enterprise/roles", s.listRoles, false},
		{http.MethodPost, pats, s.createPAT, true},
		{http.MethodGet, pats, s.listPATs, false},
		{http.MethodDelete, pats + "/{api_key_id}", s.revokePAT, false},
		{http.MethodGet, "/v3/self", s.self, false},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range api {
		mux.Handle(rt.pattern(), s.serveAPI(rt))
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	for path, methods := range allowed {
		sort.Strings(methods)
		allow := strings.Join(methods, ", ")
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeProblem(w, &problem{status: http.StatusMethodNotAllowed, typ: "method-not-allowed",
				detail: fmt.Sprintf("%s is not allowed here; use %s", r.Method, allow)})
		})
	}
	s.fakeRoutes(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, &problem{status: http.StatusNotFound, typ: "not-found", detail: "no such route"})
	})
	return mux
}

// now reads the injected clock.
func (s *Server) now() time.Time { return s.clock.Now() }

// nextSeq orders records for stable listings and cursors.
func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}
