package devinapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TokenSource supplies the operator's own credential for every request. It is asked on each
// request, so a credential rotated at run time is used from the next request on.
type TokenSource interface {
	Token(ctx context.Context) (Token, error)
}

// Options configure a Client.
type Options struct {
	// BaseURL is the API root, e.g. https://api.devin.ai. Required.
	BaseURL string
	// Credentials authenticate every request (but the v2 one below). Required: a cog_ key,
	// normally a service user API key.
	Credentials TokenSource
	// EnterpriseAdminKey is optional: the personal API key (apk_user_...) of an enterprise
	// admin. The legacy v2 member record, the only documented source of a member's SAML
	// identity, accepts nothing else. When it is nil, or supplies an empty token, the client
	// never calls v2 and User.SAMLID stays unknown (nil). It is used for v2 only.
	EnterpriseAdminKey TokenSource
	// HTTPClient sends the requests; nil uses a client with sane transport defaults.
	HTTPClient *http.Client
	// Timeout bounds one request, including reading the answer; 0 means 30s.
	Timeout time.Duration
	// QPS and Burst configure the process-wide client-side rate limit; QPS <= 0 disables it.
	QPS   float64
	Burst int
	// AdmissionShare is the share of QPS and Burst kept for admission requests (contexts
	// marked with ForAdmission); zero means DefaultAdmissionShare.
	AdmissionShare float64
	// Registerer receives the client's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Account is the account label of the client's metrics; empty is DefaultAccount.
	Account string
	// UserAgent is sent on every request; empty uses "token-operator".
	UserAgent string
}

const (
	defaultTimeout   = 30 * time.Second
	defaultUserAgent = "token-operator"
	// pageSize is the largest page the API serves; fewer round trips means fewer chances to
	// hit the rate limit while walking a listing.
	pageSize = 200
	// maxBodyBytes bounds what the client reads of any answer.
	maxBodyBytes = 16 << 20
)

// Client is the typed HTTP client of the Devin API. It is the only code that knows paths
// and JSON shapes. It is safe for concurrent use.
//
// A Client never retries: every failure is returned, classified by the sentinels of this
// package, and the caller decides when to try again. It does hold back its own requests:
// every request first waits for the client-side rate limiter (Options.QPS) and for the end of
// any Retry-After delay the server announced with a 429 or 503 answer, so that one throttled
// answer slows down every caller sharing the Client.
type Client struct {
	baseURL   *url.URL
	creds     TokenSource
	adminKey  TokenSource
	http      *http.Client
	timeout   time.Duration
	userAgent string
	limiter   *limiters
	metrics   *metrics

	mu        sync.Mutex
	notBefore time.Time
}

// New returns a Client for opts. It fails when BaseURL is not an absolute http(s) URL or
// Credentials is nil, or when the metrics cannot be registered on opts.Registerer. Creating
// several clients on the same Registerer is allowed: they share the metrics (but not the rate
// limiter nor the Retry-After state: use one Client per process). With QPS > 0, a Burst <= 0
// means 1.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("devinapi: BaseURL is required")
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("devinapi: parse BaseURL: %w", err)
	}
	if (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("devinapi: BaseURL %q is not an absolute http(s) URL", opts.BaseURL)
	}
	if base.RawQuery != "" || base.Fragment != "" {
		return nil, fmt.Errorf("devinapi: BaseURL %q must not have a query or fragment", opts.BaseURL)
	}
	if opts.Credentials == nil {
		return nil, errors.New("devinapi: Credentials are required")
	}
	m, err := newMetrics(opts.Registerer, opts.Account)
	if err != nil {
		return nil, err
	}
	c := &Client{
		baseURL:   base,
		creds:     opts.Credentials,
		adminKey:  opts.EnterpriseAdminKey,
		http:      opts.HTTPClient,
		timeout:   opts.Timeout,
		userAgent: opts.UserAgent,
		metrics:   m,
	}
	if c.http == nil {
		c.http = defaultHTTPClient()
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	c.limiter = newLimiters(opts.QPS, opts.Burst, opts.AdmissionShare)
	return c, nil
}

// defaultHTTPClient does not follow redirects: the API does not redirect, and following one
// would resend a create to a place nobody chose.
func defaultHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// request is one HTTP exchange with the API.
type request struct {
	op     string
	method string
	// path is already escaped; build it with escapePath.
	path  string
	query url.Values
	body  any
	// token replaces the client's credentials when set.
	token *Token
	// scope selects the permission of a scope-dependent operation (see RequiredPermission).
	scope Scope
	// permission, when set, replaces RequiredPermission(op, scope) in an error.
	permission string
}

// requiredPermission is the permission an error answer to req names.
func (req request) requiredPermission() string {
	if req.permission != "" {
		return req.permission
	}
	return RequiredPermission(req.op, req.scope)
}

// mayCall takes the call from the context's budget, then waits for the rate limit and any
// Retry-After.
func (c *Client) mayCall(ctx context.Context, op string) error {
	if err := spend(ctx); err != nil {
		return fmt.Errorf("devinapi: %s: %w", op, err)
	}
	return c.wait(ctx, op)
}

// do sends req and decodes a 2xx answer into out (when out is not nil). Every other answer
// becomes an *APIError.
func (c *Client) do(ctx context.Context, req request, out any) error {
	tok, err := c.credential(ctx, req)
	if err != nil {
		return err
	}
	var body []byte
	if req.body != nil {
		if body, err = json.Marshal(req.body); err != nil {
			return fmt.Errorf("devinapi: %s: encode request: %w", req.op, err)
		}
	}
	if err := c.mayCall(ctx, req.op); err != nil {
		return err
	}

	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rdr io.Reader
	if body != nil {
		rdr = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(rctx, req.method, c.url(req.path, req.query), rdr)
	if err != nil {
		return fmt.Errorf("devinapi: %s: build request: %w", req.op, err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Accept", "application/json, application/problem+json")
	hreq.Header.Set("Authorization", "Bearer "+tok.Reveal())
	hreq.Header.Set("User-Agent", c.userAgent)

	start := time.Now()
	resp, err := c.http.Do(hreq)
	if err != nil {
		c.metrics.observe(req.op, "error", time.Since(start))
		return transportError(ctx, req.op, err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	_ = resp.Body.Close()
	if err != nil {
		c.metrics.observe(req.op, "error", time.Since(start))
		return transportError(ctx, req.op, err)
	}
	c.metrics.observe(req.op, strconv.Itoa(resp.StatusCode), time.Since(start))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := parseAPIError(req.op, resp.StatusCode, resp.Header, data, time.Now())
		apiErr.Permission = req.requiredPermission()
		c.throttled(apiErr)
		return apiErr
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("devinapi: %s: decode answer: %s", req.op, scrub(err.Error()))
	}
	return nil
}

// credential returns the token to send: the request's own or the client's credentials.
func (c *Client) credential(ctx context.Context, req request) (Token, error) {
	if req.token != nil {
		if req.token.IsZero() {
			return Token{}, fmt.Errorf("devinapi: %s: empty token: %w", req.op, ErrUnauthorized)
		}
		return *req.token, nil
	}
	tok, err := c.creds.Token(ctx)
	if err != nil {
		return Token{}, fmt.Errorf("devinapi: %s: get credentials: %w", req.op, err)
	}
	if tok.IsZero() {
		return Token{}, fmt.Errorf("devinapi: %s: no credential available: %w", req.op, ErrUnauthorized)
	}
	return tok, nil
}

// url joins the base URL and an escaped path and query.
func (c *Client) url(escapedPath string, q url.Values) string {
	u := *c.baseURL
	raw := strings.TrimRight(u.EscapedPath(), "/") + escapedPath
	u.Path, _ = url.PathUnescape(raw)
	u.RawPath = raw
	u.RawQuery = q.Encode()
	return u.String()
}

// escapePath builds a path from a format whose %s verbs are path segments, escaping each
// segment so that an ID can never change the route.
func escapePath(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}

// checkID rejects IDs that cannot be a path segment.
func checkID(op, what, id string) error {
	if id == "" || id == "." || id == ".." {
		return fmt.Errorf("devinapi: %s: %s %q is not a valid ID: %w", op, what, id, ErrInvalid)
	}
	return nil
}

// wait holds a request back until the server's last Retry-After has elapsed and the
// client-side limiter allows it. It gives up at once, with a retryable error carrying the
// remaining delay, when the caller's deadline would pass first.
func (c *Client) wait(ctx context.Context, op string) error {
	for {
		if d := time.Until(c.getNotBefore()); d > 0 {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
				return &RequestError{Op: op, Err: errThrottled, RetryAfter: d}
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return contextError(ctx, op)
			case <-t.C:
			}
		}
		if c.limiter != nil {
			if err := c.limiter.wait(ctx); err != nil {
				if ctx.Err() != nil {
					return contextError(ctx, op)
				}
				return &RequestError{Op: op, Err: err}
			}
		}
		// A throttled answer to another request may have arrived while this one waited.
		if !time.Now().Before(c.getNotBefore()) {
			return nil
		}
	}
}

func (c *Client) getNotBefore() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.notBefore
}

// throttled records a Retry-After of a 429 or 503 answer as the moment before which no
// request of this client may be sent.
func (c *Client) throttled(e *APIError) {
	if e.Status != http.StatusTooManyRequests && e.Status != http.StatusServiceUnavailable {
		return
	}
	if e.Status == http.StatusTooManyRequests || e.RetryAfter > 0 {
		c.metrics.rateLimited.WithLabelValues(c.metrics.account).Inc()
	}
	if e.RetryAfter <= 0 {
		return
	}
	until := time.Now().Add(e.RetryAfter)
	c.mu.Lock()
	defer c.mu.Unlock()
	if until.After(c.notBefore) {
		c.notBefore = until
	}
}

// transportError classifies a failure to get an answer. The cancellation of the caller's
// context is returned as such (the caller gave up: not retryable); anything else, including
// a deadline of the caller's context or the per-request timeout, is a retryable
// *RequestError.
func transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return contextError(ctx, op)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return &RequestError{Op: op, Err: err}
}

// contextError reports the end of the caller's context: a cancellation is not retryable, a
// deadline is a timeout like any other.
func contextError(ctx context.Context, op string) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("devinapi: %s: %w", op, ctx.Err())
	}
	return &RequestError{Op: op, Err: ctx.Err()}
}

// unixTime converts optional unix seconds of the wire to a time.
func unixTime(sec *int64) *time.Time {
	if sec == nil {
		return nil
	}
	t := time.Unix(*sec, 0).UTC()
	return &t
}

// unixSeconds converts an optional time to unix seconds for the wire.
func unixSeconds(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	s := t.Unix()
	return &s
}
