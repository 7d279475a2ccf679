package devinapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the client's Prometheus collectors. Their labels name the account (the
// operator's default one, or a DevinAccount or ClusterDevinAccount: at most as many as the
// operator keeps connections), operations and status codes: never an ID or a token.
type metrics struct {
	account     string
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
}

// DefaultAccount is the account label of a client whose Options name none.
const DefaultAccount = "default"

// newMetrics creates the collectors and registers them on reg (when not nil). Collectors
// already registered by an earlier client are reused, so that New can be called twice with
// the same registerer.
func newMetrics(reg prometheus.Registerer, account string) (*metrics, error) {
	if account == "" {
		account = DefaultAccount
	}
	m := &metrics{
		account: account,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "devinapi_requests_total",
			Help: "Requests sent to the Devin API, by client operation and HTTP status code (\"error\" when no answer came).",
		}, []string{"account", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "devinapi_request_duration_seconds",
			Help:    "Time from sending a Devin API request to reading its whole answer, by client operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"account", "operation"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "devinapi_rate_limited_total",
			Help: "Answers of the Devin API that asked the client to back off (429, or 503 with Retry-After).",
		}, []string{"account"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.rateLimited, err = register(reg, m.rateLimited); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the equal collector registered before.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("devinapi: register metrics: %w", err)
}

func (m *metrics) observe(op, code string, d time.Duration) {
	m.requests.WithLabelValues(m.account, op, code).Inc()
	m.duration.WithLabelValues(m.account, op).Observe(d.Seconds())
}

// forget drops the account's series (the account is gone).
func (m *metrics) forget() {
	l := prometheus.Labels{"account": m.account}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.rateLimited.DeletePartialMatch(l)
}

// ForgetMetrics drops the series of the client's account: its account is gone.
func (c *Client) ForgetMetrics() { c.metrics.forget() }
