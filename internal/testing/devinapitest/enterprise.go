package devinapitest

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// DefaultEnterpriseName is the name of the enterprise every Server starts with, whose IDs
// carry no prefix.
const DefaultEnterpriseName = "default"

// Enterprise is one enterprise of a Server: its organizations, roles, human users, service
// users and keys, its admin service user and admin credential, and its enterprise admin's
// personal key. A request is served in the enterprise of the credential that authenticates
// it and sees nothing of another enterprise: a foreign ID is unknown (404). Its methods are
// safe for concurrent use; they share the Server's lock.
type Enterprise struct {
	srv *Server
	// mu is the Server's lock, which guards every enterprise.
	mu   *sync.Mutex
	name string
	// prefix starts every ID of the enterprise: empty for the default enterprise, the name
	// and a dash otherwise.
	prefix    string
	adminSUID string

	orgs       []string
	roles      []SeedRole
	users      map[string]*SeedUser
	userOrder  []string
	sus        map[string]*serviceUserRec
	suOrder    []string
	keys       map[string]*keyRec
	keyOrder   []string
	adminToken string
	adminKeyID string
	// entAdminKey is the enterprise admin's personal key, for v2.
	entAdminKey string
}

// EnterpriseOption configures an enterprise added by Server.AddEnterprise.
type EnterpriseOption func(*enterpriseConfig)

type enterpriseConfig struct {
	name       string
	adminToken string
	// personalKey is the apk_user_ personal key the v2 API accepts.
	personalKey string
}

// EnterpriseName names the enterprise: 1 to 32 characters of [a-z0-9-], starting and ending
// with a letter or digit, unique in the Server. Without it the name is "ent" and a number.
func EnterpriseName(name string) EnterpriseOption {
	return func(cfg *enterpriseConfig) { cfg.name = name }
}

// EnterpriseAdminToken fixes the value of the enterprise's admin credential instead of a
// random one.
func EnterpriseAdminToken(tok string) EnterpriseOption {
	return func(cfg *enterpriseConfig) { cfg.adminToken = tok }
}

// EnterpriseAdminKey fixes the value of the enterprise admin's personal API key (it should
// start with "apk_user_") instead of a random one.
func EnterpriseAdminKey(tok string) EnterpriseOption {
	return func(cfg *enterpriseConfig) { cfg.personalKey = tok }
}

var enterpriseNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// AddEnterprise adds an enterprise with the content of seed, its own admin service user,
// admin credential and enterprise admin personal key, and returns it. Every ID of the
// enterprise starts with its name and a dash: the seeded organization and user IDs get that
// prefix (unless they have it), and so do the IDs the enterprise issues; role IDs are kept
// as seeded. It panics when a name given by EnterpriseName is invalid or taken.
func (s *Server) AddEnterprise(seed Seed, opts ...EnterpriseOption) *Enterprise {
	var cfg enterpriseConfig
	for _, o := range opts {
		o(&cfg)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := len(s.ents) + 1; cfg.name == ""; n++ {
		if name := fmt.Sprintf("ent%d", n); s.enterpriseLocked(name) == nil {
			cfg.name = name
		}
	}
	if !enterpriseNameRE.MatchString(cfg.name) || s.enterpriseLocked(cfg.name) != nil {
		panic(fmt.Sprintf("devinapitest: enterprise name %q is invalid or taken", cfg.name))
	}
	return s.newEnterpriseLocked(cfg, cfg.name+"-", seed)
}

// newEnterpriseLocked creates an enterprise whose IDs start with prefix.
func (s *Server) newEnterpriseLocked(cfg enterpriseConfig, prefix string, seed Seed) *Enterprise {
	e := &Enterprise{srv: s, mu: &s.mu, name: cfg.name, prefix: prefix,
		adminSUID: prefix + AdminServiceUserID, entAdminKey: cfg.personalKey,
		users: map[string]*SeedUser{}, sus: map[string]*serviceUserRec{}, keys: map[string]*keyRec{}}
	if e.entAdminKey == "" {
		e.entAdminKey = newSecret(enterpriseAdminKeyPrefix)
	}
	for _, org := range seed.Organizations {
		e.orgs = append(e.orgs, e.scopedOrg(org))
	}
	e.roles = append(e.roles, seed.Roles...)
	for _, u := range seed.Users {
		e.upsertUserLocked(u)
	}
	e.seedAdmin(cfg.adminToken)
	s.ents = append(s.ents, e)
	return e
}

// seedAdmin creates the enterprise's admin service user and its API key.
func (e *Enterprise) seedAdmin(token string) {
	su := &serviceUserRec{id: e.adminSUID, name: "token-operator-admin", createdAt: e.now(), seq: e.nextSeq()}
	for _, r := range e.roles {
		if r.Type == "enterprise" && (su.roleID == "" || r.ID == RoleEnterpriseAdmin) {
			su.roleID = r.ID
		}
	}
	e.sus[su.id] = su
	e.suOrder = append(e.suOrder, su.id)
	if token == "" {
		token = newSecret(tokenPrefix)
	}
	k := e.addKeyLocked(kindAPIKey, su.id, "admin", nil, token)
	k.admin = true
	e.adminToken, e.adminKeyID = token, k.id
}

// enterpriseLocked returns the enterprise named name, or nil.
func (s *Server) enterpriseLocked(name string) *Enterprise {
	for _, e := range s.ents {
		if e.name == name {
			return e
		}
	}
	return nil
}

// personalKeyOwnerLocked returns the enterprise whose admin personal key is tok, or nil.
func (s *Server) personalKeyOwnerLocked(tok string) *Enterprise {
	h := hashToken(tok)
	for _, e := range s.ents {
		if h == hashToken(e.entAdminKey) {
			return e
		}
	}
	return nil
}

// DefaultEnterprise returns the enterprise the Server started with (named
// DefaultEnterpriseName), whose state the Server's own methods read and change.
func (s *Server) DefaultEnterprise() *Enterprise { return s.def }

// Name returns the enterprise's name.
func (e *Enterprise) Name() string { return e.name }

// AdminServiceUserID returns the ID of the service user whose API key is the enterprise's
// admin credential: AdminServiceUserID, prefixed in an added enterprise.
func (e *Enterprise) AdminServiceUserID() string { return e.adminSUID }

// AdminToken returns the enterprise's current admin credential, accepted on every v3 route.
func (e *Enterprise) AdminToken() devinapi.Token {
	e.mu.Lock()
	defer e.mu.Unlock()
	return devinapi.NewToken(e.adminToken)
}

// EnterpriseAdminKey returns the enterprise admin's personal API key (apk_user_...), the
// only credential the v2 member record accepts, for the members of this enterprise.
func (e *Enterprise) EnterpriseAdminKey() devinapi.Token { return devinapi.NewToken(e.entAdminKey) }

// Organizations returns the IDs of the enterprise's organizations, in seed order.
func (e *Enterprise) Organizations() []string { return append([]string(nil), e.orgs...) }

// UserID returns the ID of the enterprise's user whose email is email (case-insensitive).
func (e *Enterprise) UserID(email string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range e.userOrder {
		if strings.EqualFold(e.users[id].Email, email) {
			return id, true
		}
	}
	return "", false
}

// Client returns a real client pointed at the server with the enterprise's current admin
// token, no rate limit and no metrics; opts adjust the options. It panics when the options
// are invalid.
func (e *Enterprise) Client(opts ...func(*devinapi.Options)) *devinapi.Client {
	o := devinapi.Options{BaseURL: e.srv.URL, Credentials: devinapi.StaticToken(e.AdminToken())}
	for _, f := range opts {
		f(&o)
	}
	c, err := devinapi.New(o)
	if err != nil {
		panic(fmt.Sprintf("devinapitest: new client: %v", err))
	}
	return c
}

// scoped prefixes id with the enterprise's prefix unless it has it.
func (e *Enterprise) scoped(id string) string {
	if strings.HasPrefix(id, e.prefix) {
		return id
	}
	return e.prefix + id
}

// scopedOrg prefixes an organization ID after its "org-", which the API's IDs (and the
// CRDs' patterns) start with: "org-x" is "org-ent2-x" in enterprise ent2.
func (e *Enterprise) scopedOrg(id string) string {
	rest, ok := strings.CutPrefix(id, "org-")
	if !ok || e.prefix == "" || strings.HasPrefix(rest, e.prefix) {
		return e.scoped(id)
	}
	return "org-" + e.prefix + rest
}

// now reads the Server's clock.
func (e *Enterprise) now() time.Time { return e.srv.now() }

// nextSeq orders records of every enterprise in one sequence.
func (e *Enterprise) nextSeq() int64 { return e.srv.nextSeq() }
