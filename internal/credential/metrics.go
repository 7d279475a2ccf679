package credential

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Metrics are the lifecycle's Prometheus metrics. Labels name resources, never tokens.
type Metrics struct {
	Issued         *prometheus.CounterVec
	Rotated        *prometheus.CounterVec
	Revoked        *prometheus.CounterVec
	OrphansRevoked *prometheus.CounterVec
	// RevokedUpstream counts current tokens found revoked upstream by someone else.
	RevokedUpstream *prometheus.CounterVec
	Expiry          *prometheus.GaugeVec
	RenewAt         *prometheus.GaugeVec
	// RevokedInUse counts replaced tokens revoked at the end of their grace period while
	// their consumers still used them.
	RevokedInUse *prometheus.CounterVec
	// ConsumerRestarts counts workloads restarted for a new token.
	ConsumerRestarts *prometheus.CounterVec
	// LastCheck is when each resource's token was last seen active upstream (status no
	// longer records it, to spare a write per check).
	LastCheck *prometheus.GaugeVec
	// LastUsed is when each resource's current token was last used, as the upstream reports
	// it (service user keys); no series for a token never used or whose use is not reported.
	LastUsed *prometheus.GaugeVec
	// MintBudgetExhausted counts the times a resource reached the mint budget.
	MintBudgetExhausted *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (when not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_tokens_issued_total",
			Help: "Tokens issued for a resource that had none.",
		}, []string{"kind"}),
		Rotated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_tokens_rotated_total",
			Help: "Tokens replaced by a new one, by reason.",
		}, []string{"kind", "reason"}),
		Revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_tokens_revoked_total",
			Help: "Tokens revoked upstream (after a rotation's grace period or on deletion).",
		}, []string{"kind"}),
		OrphansRevoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_orphans_revoked_total",
			Help: "Tokens found upstream that no Secret held (a lost answer or a crash), revoked.",
		}, []string{"kind"}),
		RevokedUpstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_tokens_revoked_upstream_total",
			Help: "Current tokens (or service users) found revoked upstream by someone other than the operator.",
		}, []string{"kind"}),
		Expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "token_operator_token_expiry_timestamp_seconds",
			Help: "When the current token of a resource expires (Unix seconds).",
		}, []string{"kind", "namespace", "name"}),
		RenewAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "token_operator_token_renewal_timestamp_seconds",
			Help: "When the current token of a resource is due for rotation (Unix seconds).",
		}, []string{"kind", "namespace", "name"}),
		RevokedInUse: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_tokens_revoked_while_in_use_total",
			Help: "Replaced tokens revoked at the end of their grace period although their consumers had not switched.",
		}, []string{"kind"}),
		ConsumerRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_consumer_restarts_total",
			Help: "Workloads restarted (rolloutRestartTargets) for a new token.",
		}, []string{"kind"}),
		LastCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "token_operator_token_last_check_timestamp_seconds",
			Help: "When the current token of a resource was last seen active upstream (Unix seconds).",
		}, []string{"kind", "namespace", "name"}),
		LastUsed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "token_operator_token_last_used_timestamp_seconds",
			Help: "When the current token of a resource was last used, as the Devin API reports it at the periodic check (Unix seconds; service users only).",
		}, []string{"kind", "namespace", "name"}),
		MintBudgetExhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_operator_mint_budget_exhausted_total",
			Help: "Times a resource caused as many creates upstream in an hour as the mint budget allows, and was stalled.",
		}, []string{"kind"}),
	}
	m.register(reg)
	return m
}

// register registers the metrics with reg (when not nil). A metric already there (a manager
// started again in the same process) is used in place of the new one, so that what this
// Metrics records is what reg exports.
func (m *Metrics) register(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	for _, c := range []**prometheus.CounterVec{&m.Issued, &m.Rotated, &m.Revoked, &m.OrphansRevoked, &m.RevokedUpstream,
		&m.RevokedInUse, &m.ConsumerRestarts, &m.MintBudgetExhausted} {
		registerOne(reg, c)
	}
	for _, g := range []**prometheus.GaugeVec{&m.Expiry, &m.RenewAt, &m.LastCheck, &m.LastUsed} {
		registerOne(reg, g)
	}
}

func registerOne[T prometheus.Collector](reg prometheus.Registerer, c *T) {
	err := reg.Register(*c)
	var already prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
	case errors.As(err, &already):
		if existing, ok := already.ExistingCollector.(T); ok {
			*c = existing
		}
	default:
		panic(err)
	}
}

func (m *Metrics) issued(kind string) {
	if m != nil {
		m.Issued.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) rotated(kind, reason string) {
	if m != nil {
		m.Rotated.WithLabelValues(kind, reason).Inc()
	}
}

func (m *Metrics) mintBudgetExhausted(kind string) {
	if m != nil {
		m.MintBudgetExhausted.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) revoked(kind string) {
	if m != nil {
		m.Revoked.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) orphanRevoked(kind string) {
	if m != nil {
		m.OrphansRevoked.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) revokedUpstream(kind string) {
	if m != nil {
		m.RevokedUpstream.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) observeExpiry(kind string, obj Object, tok *iamv1alpha1.IssuedToken) {
	if m == nil {
		return
	}
	spec := obj.Credential()
	m.Expiry.WithLabelValues(kind, obj.GetNamespace(), obj.GetName()).Set(float64(End(spec, tok).Unix()))
	m.RenewAt.WithLabelValues(kind, obj.GetNamespace(), obj.GetName()).Set(float64(RenewAt(spec, tok).Unix()))
}

func (m *Metrics) revokedInUse(kind string) {
	if m != nil {
		m.RevokedInUse.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) consumerRestarted(kind string) {
	if m != nil {
		m.ConsumerRestarts.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) checked(kind string, obj Object, at time.Time) {
	if m != nil {
		m.LastCheck.WithLabelValues(kind, obj.GetNamespace(), obj.GetName()).Set(float64(at.Unix()))
	}
}

func (m *Metrics) lastUsed(kind string, obj Object, at *time.Time) {
	switch {
	case m == nil:
	case at == nil:
		m.LastUsed.DeleteLabelValues(kind, obj.GetNamespace(), obj.GetName())
	default:
		m.LastUsed.WithLabelValues(kind, obj.GetNamespace(), obj.GetName()).Set(float64(at.Unix()))
	}
}

func (m *Metrics) forgetKey(kind string, key types.NamespacedName) {
	if m == nil {
		return
	}
	m.LastCheck.DeleteLabelValues(kind, key.Namespace, key.Name)
	m.LastUsed.DeleteLabelValues(kind, key.Namespace, key.Name)
	m.Expiry.DeleteLabelValues(kind, key.Namespace, key.Name)
	m.RenewAt.DeleteLabelValues(kind, key.Namespace, key.Name)
}
