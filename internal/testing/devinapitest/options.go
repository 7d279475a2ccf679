package devinapitest

import (
	"net/http"

	"k8s.io/utils/clock"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	clock      clock.PassiveClock
	seed       *Seed
	adminToken string
	// enterpriseAdminKey is the apk_user_ personal key the v2 API accepts.
	enterpriseAdminKey string
	noPATAPI           bool
	noContract         bool
	onViolation        func(string)
	mutator            ResponseMutator
}

// WithClock makes the server read time (creation, expiry) from c instead of the real clock.
func WithClock(c clock.PassiveClock) Option { return func(cfg *config) { cfg.clock = c } }

// WithSeed replaces DefaultSeed as the initial content.
func WithSeed(seed Seed) Option { return func(cfg *config) { cfg.seed = &seed } }

// WithAdminToken fixes the value of the admin credential instead of a random one.
func WithAdminToken(tok string) Option { return func(cfg *config) { cfg.adminToken = tok } }

// WithEnterpriseAdminKey fixes the value of the enterprise admin's personal API key (it should
// start with "apk_user_"), the only credential the v2 member record accepts, instead of a
// random one. See Server.EnterpriseAdminKey.
func WithEnterpriseAdminKey(tok string) Option {
	return func(cfg *config) { cfg.enterpriseAdminKey = tok }
}

// WithoutPATAPI serves no personal access token endpoint, as the real API does today (the
// vendor has published none): those paths answer what any unknown route of the API answers,
// FastAPI's 404 {"detail": "Not Found"}.
func WithoutPATAPI() Option { return func(cfg *config) { cfg.noPATAPI = true } }

// WithoutContractChecks turns the contract layer off: requests are neither checked nor
// refused by the contract and answers are not checked. For measuring the fake itself; tests
// should keep the checks.
func WithoutContractChecks() Option { return func(cfg *config) { cfg.noContract = true } }

// WithContractFailure calls f with the description of every contract violation as it is
// recorded, from the goroutine serving the request: f must be safe for concurrent use and
// must not outlive its test (t.Errorf panics after the test has ended; prefer
// Server.CheckContract, which reports at the test's end).
func WithContractFailure(f func(violation string)) Option {
	return func(cfg *config) { cfg.onViolation = f }
}

// ResponseMutator rewrites the body of an answer before it is checked against the contract
// and written. It exists to prove that the contract layer catches a deviation of the fake.
type ResponseMutator func(r *http.Request, status int, body []byte) []byte

// WithResponseMutator installs m for every API answer (not for exempt requests: the PAT
// endpoints and /_fake).
func WithResponseMutator(m ResponseMutator) Option { return func(cfg *config) { cfg.mutator = m } }
