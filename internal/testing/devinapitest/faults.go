package devinapitest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Faults make the server misbehave. The zero value injects nothing. Faults follow the real
// clock, not the injected one.
type Faults struct {
	// Latency, plus a random part up to LatencyJitter, delays every API call.
	Latency       time.Duration
	LatencyJitter time.Duration
	// ErrorRate is the probability, by route pattern (key "*" for every route not listed),
	// that a call is answered ErrorStatus (default 503) before it does anything.
	ErrorRate   map[string]float64
	ErrorStatus int
	// ErrorDetail is the detail of those answers; ErrorBody, when set, replaces the whole
	// problem document with a raw body (served as JSON when it is valid JSON, else as text).
	ErrorDetail string
	ErrorBody   string
	// RateLimitQPS > 0 answers 429 to the calls above that rate (burst: one second's worth),
	// with a Retry-After of RetryAfter (default 1s) in delta seconds or, with
	// RetryAfterHTTPDate, as an HTTP date. RetryAfter also goes with injected 429/503 errors.
	RateLimitQPS       float64
	RetryAfter         time.Duration
	RetryAfterHTTPDate bool
	// LoseCreateResponses is the probability that a successful create (a call that issues a
	// token or provisions a service user) commits and then loses its answer, as
	// LostResponseMode says: "502" (the default) answers 502, "hang" holds the answer until
	// the client gives up.
	LoseCreateResponses float64
	LostResponseMode    string
	// Down answers every API call 503 with a Retry-After.
	Down bool
	// Seed seeds the random choices; 0 seeds from the time.
	Seed int64
}

// faultsJSON is the wire form of Faults for /_fake/faults: durations are strings like
// "50ms" (integers are read as nanoseconds).
type faultsJSON struct {
	Latency             jsonDuration       `json:"latency,omitempty"`
	LatencyJitter       jsonDuration       `json:"latency_jitter,omitempty"`
	ErrorRate           map[string]float64 `json:"error_rate,omitempty"`
	ErrorStatus         int                `json:"error_status,omitempty"`
	ErrorDetail         string             `json:"error_detail,omitempty"`
	ErrorBody           string             `json:"error_body,omitempty"`
	RateLimitQPS        float64            `json:"rate_limit_qps,omitempty"`
	RetryAfter          jsonDuration       `json:"retry_after,omitempty"`
	RetryAfterHTTPDate  bool               `json:"retry_after_http_date,omitempty"`
	LoseCreateResponses float64            `json:"lose_create_responses,omitempty"`
	LostResponseMode    string             `json:"lost_response_mode,omitempty"`
	Down                bool               `json:"down,omitempty"`
	Seed                int64              `json:"seed,omitempty"`
}

type jsonDuration time.Duration

// MarshalJSON writes a duration string such as "50ms".
func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or integer nanoseconds.
func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration %s: want a string like \"50ms\" or nanoseconds", b)
	}
	*d = jsonDuration(n)
	return nil
}

// MarshalJSON writes lower_snake keys and durations as strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		Latency: jsonDuration(f.Latency), LatencyJitter: jsonDuration(f.LatencyJitter),
		ErrorRate: f.ErrorRate, ErrorStatus: f.ErrorStatus, ErrorDetail: f.ErrorDetail, ErrorBody: f.ErrorBody,
		RateLimitQPS: f.RateLimitQPS, RetryAfter: jsonDuration(f.RetryAfter), RetryAfterHTTPDate: f.RetryAfterHTTPDate,
		LoseCreateResponses: f.LoseCreateResponses, LostResponseMode: f.LostResponseMode, Down: f.Down, Seed: f.Seed,
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var w faultsJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = Faults{
		Latency: time.Duration(w.Latency), LatencyJitter: time.Duration(w.LatencyJitter),
		ErrorRate: w.ErrorRate, ErrorStatus: w.ErrorStatus, ErrorDetail: w.ErrorDetail, ErrorBody: w.ErrorBody,
		RateLimitQPS: w.RateLimitQPS, RetryAfter: time.Duration(w.RetryAfter), RetryAfterHTTPDate: w.RetryAfterHTTPDate,
		LoseCreateResponses: w.LoseCreateResponses, LostResponseMode: w.LostResponseMode, Down: w.Down, Seed: w.Seed,
	}
	return nil
}

// faultState is the faults in force and what they need to remember; guarded by Server.mu.
type faultState struct {
	f       Faults
	rng     *rand.Rand
	limiter *rate.Limiter
	// told holds, per connection (the client's address), the end of the latest Retry-After
	// answered on it; early counts the calls that arrived too soon (see isEarly).
	told  map[string]time.Time
	early int
}

// isEarly reports whether a call from the connection remote, arriving at now, provably
// ignored a Retry-After: it arrived on a connection that had itself been answered with one,
// before that one elapsed. An HTTP/1.1 client (the fake serves no HTTP/2) sends a request on
// a connection only once it has read the previous answer on it, so the client knew. A call
// on another connection is never judged: it may have been on its way when the answer was
// written, and no threshold of time can tell that apart on a loaded machine. That the client
// holds back every caller, not only the one told, is the client's unit test (a held-back
// call never reaches the server).
func (fs *faultState) isEarly(remote string, now time.Time) bool {
	return now.Before(fs.told[remote])
}

func (fs *faultState) reset(f Faults) {
	seed := f.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	f.ErrorRate = cloneRates(f.ErrorRate)
	fs.f = f
	fs.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>32|1))
	fs.limiter = nil
	if f.RateLimitQPS > 0 {
		burst := int(f.RateLimitQPS)
		if burst < 1 {
			burst = 1
		}
		fs.limiter = rate.NewLimiter(rate.Limit(f.RateLimitQPS), burst)
	}
}

func cloneRates(m map[string]float64) map[string]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// chance draws true with probability p.
func (fs *faultState) chance(p float64) bool { return p > 0 && fs.rng.Float64() < p }

func (fs *faultState) loseCreate() bool { return fs.chance(fs.f.LoseCreateResponses) }

func (fs *faultState) errorRate(pattern string) float64 {
	if p, ok := fs.f.ErrorRate[pattern]; ok {
		return p
	}
	return fs.f.ErrorRate["*"]
}

// announce returns a Retry-After header value and remembers until when it holds. An HTTP
// date is rounded up to the second, so that a client waiting until the date is never early.
func (fs *faultState) announce(remote string, now time.Time) string {
	d := fs.f.RetryAfter
	if d <= 0 {
		d = time.Second
	}
	var until time.Time
	var header string
	if fs.f.RetryAfterHTTPDate {
		end := now.Add(d)
		until = end.Truncate(time.Second)
		if until.Before(end) {
			until = until.Add(time.Second)
		}
		header = until.UTC().Format(http.TimeFormat)
	} else {
		secs := int64((d + time.Second - 1) / time.Second)
		until = now.Add(time.Duration(secs) * time.Second)
		header = strconv.FormatInt(secs, 10)
	}
	if fs.told == nil {
		fs.told = map[string]time.Time{}
	}
	for conn, end := range fs.told {
		if !now.Before(end) {
			delete(fs.told, conn) // elapsed: keeps the map as small as the connections in use
		}
	}
	fs.told[remote] = until
	return header
}

// SetFaults replaces the faults in force.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.reset(f)
}

// Faults returns the faults in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults.f
	f.ErrorRate = cloneRates(f.ErrorRate)
	return f
}

// EarlyRequests returns how many API calls ignored a Retry-After this server announced:
// they arrived before it elapsed, on a connection that had been answered with it (see
// isEarly). The operator is the only client, so any such call is its
// fault.
func (s *Server) EarlyRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.early
}

// applyFaults counts the call, delays it and answers it with an injected failure; it returns
// false when it answered. Injected answers are problem documents (the older {"detail"} body on
// the v2 route), checked against the contract like any other; a raw ErrorBody is not.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, rt route) bool {
	pattern := rt.pattern()
	s.mu.Lock()
	fs := &s.faults
	s.calls[pattern]++
	if fs.isEarly(r.RemoteAddr, time.Now()) {
		fs.early++
	}
	delay := fs.f.Latency
	if j := fs.f.LatencyJitter; j > 0 {
		delay += time.Duration(fs.rng.Int64N(int64(j)))
	}
	s.mu.Unlock()
	if delay > 0 {
		s.hold(r, delay)
	}

	s.mu.Lock()
	p, retryAfter, rawBody := fs.injected(r.RemoteAddr, pattern, time.Now())
	s.mu.Unlock()
	if p == nil {
		return true
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	if rawBody != "" {
		writeRawFault(w, p.status, rawBody)
		return false
	}
	p.legacy = rt.v2
	writeProblem(w, p)
	return false
}

// injected decides the fault to answer with, if any: the outage, the rate limit, or a
// random error. retryAfter is the Retry-After to announce; rawBody a body to send as is.
// The caller holds s.mu.
func (fs *faultState) injected(client, pattern string, now time.Time) (p *problem, retryAfter, rawBody string) {
	switch {
	case fs.f.Down:
		return &problem{status: http.StatusServiceUnavailable, typ: "unavailable", detail: "the service is down"}, fs.announce(client, now), ""
	case fs.limiter != nil && !fs.limiter.AllowN(now, 1):
		return &problem{status: http.StatusTooManyRequests, typ: "rate-limited", detail: "too many requests"}, fs.announce(client, now), ""
	case fs.chance(fs.errorRate(pattern)):
		p = &problem{status: fs.f.ErrorStatus, typ: "injected-fault", detail: fs.f.ErrorDetail}
		if p.status == 0 {
			p.status = http.StatusServiceUnavailable
		}
		if p.detail == "" {
			p.detail = "injected fault"
		}
		if fs.f.RetryAfter > 0 && (p.status == http.StatusTooManyRequests || p.status == http.StatusServiceUnavailable) {
			retryAfter = fs.announce(client, now)
		}
		return p, retryAfter, fs.f.ErrorBody
	}
	return nil, "", ""
}

// writeRawFault answers with a raw Faults.ErrorBody.
func writeRawFault(w http.ResponseWriter, status int, body string) {
	exemptFromContract(w, "a raw Faults.ErrorBody imitates what may stand between the client and the API "+
		"(a proxy, a gateway, an older server): it is deliberately not an answer of the contract")
	ct := "text/plain; charset=utf-8"
	if json.Valid([]byte(body)) {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// maxHang bounds a held answer, for clients without a timeout.
const maxHang = 5 * time.Minute

// hold waits for d; when the client goes away or the server closes first, it aborts the
// request without an answer.
func (s *Server) hold(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	case <-s.closing:
		panic(http.ErrAbortHandler)
	}
}

// loseAnswer drops the answer of a committed create: 502, or no answer at all ("hang").
func (s *Server) loseAnswer(w http.ResponseWriter, r *http.Request, mode string) {
	if strings.EqualFold(mode, "hang") {
		s.hold(r, maxHang)
		panic(http.ErrAbortHandler)
	}
	exemptFromContract(w, "a lost answer is a transport fault between the client and the API, not an answer of the API")
	writeProblem(w, &problem{status: http.StatusBadGateway, typ: "bad-gateway", detail: "the upstream answer was lost"})
}
