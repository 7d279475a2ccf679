// Package devinapitest is an in-memory Devin API server for tests and the dev environment.
// It speaks the vendor's published contract (internal/testing/contract: same paths, JSON,
// problem documents and pagination), keeps its state in memory, stores token values only as
// SHA-256 hashes, and can inject faults: latency, errors, rate limiting, lost create answers
// and a full outage.
//
// # Contract checks
//
// Every request and answer is checked against the contract (on by default; see
// WithoutContractChecks). A request the API would refuse as malformed, e.g. a service-user
// provisioning without ttl_seconds, is answered 422 as the API would; a request to an
// operation the contract does not have (other than the assumed PAT endpoints and /_fake, see
// contract.Exemptions) is answered as an unknown route. Both are recorded as violations, and
// so is every answer of the fake that does not match the contract. Tests make violations fail
// them:
//
//	s := devinapitest.NewTestServer(t)  // started, closed and checked at the end of t
//	// or, for a server made elsewhere:
//	s.CheckContract(t)                  // t fails for every violation left untaken
//
// A test that provokes a violation on purpose takes it with TakeViolations; WithContractFailure
// reports each violation at once instead. WithResponseMutator rewrites answers, to prove that a
// deviation of the fake is caught. WithoutPATAPI drops the PAT endpoints (assumed, not
// published), which then answer like any unknown route of the API: 404 {"detail":"Not Found"}.
//
// # Credentials
//
// AdminToken is the operator's cog_ credential, accepted on every v3 route; other issued keys
// and PATs are accepted on GET /v3/self only. The v2 member record accepts only
// EnterpriseAdminKey (apk_user_...), as the real v2 API accepts only an enterprise admin's
// personal key. KeyIDOf tells which key a token is, since /v3/self does not say so for a
// service user key.
//
// # Enterprises
//
// A Server starts with one enterprise, the default one, whose state the Server's own methods
// (AdminToken, Tokens, ServiceUsers, RevokeKey...) read and change. AddEnterprise adds
// another, with its own seed, admin service user, admin credential and enterprise admin
// personal key, and returns an Enterprise that offers the same methods for its own state.
// Every request is served in the enterprise of the credential that authenticates it (admin
// key, service user key, PAT or, on v2, personal key) and sees nothing of the others: an ID
// of another enterprise answers as an unknown ID, 404. Every ID of an added enterprise starts
// with its name and a dash (seeded organizations and users included), so IDs never collide
// and one email can be a different user in each enterprise. Faults, call counts, hooks and
// the /_fake control API are the Server's; the control API's tokens and keys are those of
// the default enterprise.
//
// Time-driven state (expiry) follows the injected clock; faults follow the real clock.
package devinapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/contract"
)

// AdminServiceUserID is the ID of the seeded enterprise service user whose API key is the
// admin credential (AdminToken).
const AdminServiceUserID = "su-token-operator-admin"

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
	// Enterprise is the name of the enterprise the request was served in, empty for the
	// default enterprise.
	Enterprise string
}

// Server is an in-memory Devin API. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of a server started by NewServer; empty for NewUnstarted.
	URL string

	ts        *httptest.Server
	handler   http.Handler
	clock     clock.PassiveClock
	started   time.Time
	closing   chan struct{}
	closeOnce sync.Once

	mu sync.Mutex
	// def is the default enterprise, the first of ents.
	def  *Enterprise
	ents []*Enterprise
	// byHash finds a key of any enterprise by the hash of its value.
	byHash  map[[32]byte]*keyRec
	seq     int64
	calls   map[string]int
	hook    func(Event)
	reqHook func(ObservedRequest)
	faults  faultState

	// Fixed at construction.
	patAPI      bool
	contract    *contract.Validator
	onViolation func(string)
	mutator     ResponseMutator

	vmu        sync.Mutex
	violations []contract.Violation
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
		clock:       cfg.clock,
		started:     cfg.clock.Now(),
		closing:     make(chan struct{}),
		byHash:      map[[32]byte]*keyRec{},
		calls:       map[string]int{},
		patAPI:      !cfg.noPATAPI,
		onViolation: cfg.onViolation,
		mutator:     cfg.mutator,
	}
	s.faults.reset(Faults{})
	s.def = s.newEnterpriseLocked(enterpriseConfig{name: DefaultEnterpriseName, adminToken: cfg.adminToken,
		personalKey: cfg.enterpriseAdminKey}, "", seed)
	s.handler = s.routes()
	if !cfg.noContract {
		v, err := contract.Default()
		if err != nil {
			// The contract is embedded: it fails for every caller or for none.
			panic(fmt.Sprintf("devinapitest: load the contract: %v", err))
		}
		s.contract = v
		s.handler = s.contractLayer(s.handler)
	}
	return s
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

// AdminToken returns the current admin credential of the default enterprise, the one the
// operator authenticates with. It is accepted on every v3 route.
func (s *Server) AdminToken() devinapi.Token { return s.def.AdminToken() }

// Client returns a real client pointed at this server with the default enterprise's current
// admin token, no rate limit and no metrics; opts adjust the options. It panics when the
// options are invalid.
func (s *Server) Client(opts ...func(*devinapi.Options)) *devinapi.Client {
	return s.def.Client(opts...)
}

// EnterpriseAdminKey returns the default enterprise admin's personal API key (apk_user_...),
// the only credential the v2 member record accepts; configure it as
// devinapi.Options.EnterpriseAdminKey to let the client read SAML identities. It is refused
// on every v3 route.
func (s *Server) EnterpriseAdminKey() devinapi.Token { return s.def.EnterpriseAdminKey() }

// Tokens returns the tokens of the default enterprise; see Enterprise.Tokens.
func (s *Server) Tokens() []TokenRecord { return s.def.Tokens() }

// LiveTokens returns the live tokens of the default enterprise; see Enterprise.LiveTokens.
func (s *Server) LiveTokens() []TokenRecord { return s.def.LiveTokens() }

// KeyIDOf returns the ID of the default enterprise's key whose value is token; see
// Enterprise.KeyIDOf.
func (s *Server) KeyIDOf(token string) (string, bool) { return s.def.KeyIDOf(token) }

// ServiceUsers returns the service users of the default enterprise; see
// Enterprise.ServiceUsers.
func (s *Server) ServiceUsers() []devinapi.ServiceUser { return s.def.ServiceUsers() }

// RevokeKey revokes a key of the default enterprise out of band; see Enterprise.RevokeKey.
func (s *Server) RevokeKey(keyID string) error { return s.def.RevokeKey(keyID) }

// DeleteServiceUser deletes a service user of the default enterprise out of band; see
// Enterprise.DeleteServiceUser.
func (s *Server) DeleteServiceUser(id string) error { return s.def.DeleteServiceUser(id) }

// SetServiceUserRole changes the role of a service user of the default enterprise out of
// band; see Enterprise.SetServiceUserRole.
func (s *Server) SetServiceUserRole(id, roleID string) error {
	return s.def.SetServiceUserRole(id, roleID)
}

// UpsertUser adds or replaces a user of the default enterprise; see Enterprise.UpsertUser.
func (s *Server) UpsertUser(u SeedUser) { s.def.UpsertUser(u) }

// RotateAdminToken rotates the admin credential of the default enterprise; see
// Enterprise.RotateAdminToken.
func (s *Server) RotateAdminToken() devinapi.Token { return s.def.RotateAdminToken() }

// ObservedRequest is an API request as the server received it, without its headers (they
// carry the credential) nor its body.
type ObservedRequest struct {
	// Route is the route pattern, e.g. "GET /v3/enterprise/roles".
	Route string
	Path  string
	Query url.Values
}

// SetRequestHook installs h, called synchronously for every API request that reached a
// route, before anything else happens to it; nil removes it.
func (s *Server) SetRequestHook(h func(ObservedRequest)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqHook = h
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

// now reads the injected clock.
func (s *Server) now() time.Time { return s.clock.Now() }

// nextSeq orders records for stable listings and cursors.
func (s *Server) nextSeq() int64 {
	s.seq++
	return s.seq
}
