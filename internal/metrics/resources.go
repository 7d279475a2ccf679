// Package metrics exports the state of the operator's resources as Prometheus metrics, read
// from the manager's cache at scrape time (the way kube-state-metrics does): one series per
// condition of each PersonalAccessToken and ServiceUser, and the earliest pending revocation
// of each. Only resources that exist are exported, so no series outlives its resource.
//
// Labels name resources (kind, namespace, name) and copy condition types, statuses and
// reasons; never a token, a token ID or a message. A value that looks like a token anyway is
// replaced by Redacted.
package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

// Metric names of the collector.
const (
	ConditionMetric         = "token_operator_resource_condition"
	PendingRevocationMetric = "token_operator_pending_revocation_due_timestamp_seconds"
	ListErrorsMetric        = "token_operator_resource_list_errors_total"
)

// Kinds, as in the kind label of every token_operator_* metric.
const (
	KindPersonalAccessToken = "PersonalAccessToken"
	KindServiceUser         = "ServiceUser"
)

// Redacted replaces a label value that looks like a token.
const Redacted = "REDACTED"

// DefaultListTimeout bounds one list from the cache. A cache that has not synced yet (the
// first scrape of a replica that is not the leader starts its informers) makes the list
// wait; the scrape answers without those series rather than time out.
const DefaultListTimeout = 5 * time.Second

// ResourceCollector is a prometheus.Collector that lists both kinds from a client.Reader
// (the manager's cache) on every Collect: one List per kind per scrape, from memory.
type ResourceCollector struct {
	reader  client.Reader
	timeout time.Duration
	log     logr.Logger

	condition         *prometheus.Desc
	pendingRevocation *prometheus.Desc
	listErrors        *prometheus.CounterVec
}

var _ prometheus.Collector = &ResourceCollector{}

// NewResourceCollector returns a collector that reads from r; log receives list failures
// (the zero logger discards them).
func NewResourceCollector(r client.Reader, log logr.Logger) *ResourceCollector {
	return &ResourceCollector{
		reader:  r,
		timeout: DefaultListTimeout,
		log:     log,
		condition: prometheus.NewDesc(ConditionMetric,
			"The conditions of each resource (kstatus: Ready, Reconciling, Stalled; ExpiringSoon on a ServiceUser): 1 for the current status and reason of each condition.",
			[]string{"kind", "namespace", "name", "condition", "status", "reason"}, nil),
		pendingRevocation: prometheus.NewDesc(PendingRevocationMetric,
			"When the earliest pending revocation of a resource (a replaced token in its grace period) is due (Unix seconds); absent when none is pending.",
			[]string{"kind", "namespace", "name"}, nil),
		listErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: ListErrorsMetric,
			Help: "Scrapes that could not list a kind from the operator's cache (not started or not synced yet): that kind's resource series were left out.",
		}, []string{"kind"}),
	}
}

// Describe sends the descriptors of every metric the collector exports.
func (c *ResourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.condition
	ch <- c.pendingRevocation
	c.listErrors.Describe(ch)
}

// Collect lists both kinds and sends their series. A kind that cannot be listed is left out
// of this scrape and counted in token_operator_resource_list_errors_total: failing the whole
// scrape would hide every other metric of the operator too.
func (c *ResourceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	pats := &iamv1alpha1.PersonalAccessTokenList{}
	if c.list(ctx, KindPersonalAccessToken, pats) {
		for i := range pats.Items {
			p := &pats.Items[i]
			c.collectResource(ch, KindPersonalAccessToken, &p.ObjectMeta, &p.Status.CredentialStatus)
		}
	}
	sus := &iamv1alpha1.ServiceUserList{}
	if c.list(ctx, KindServiceUser, sus) {
		for i := range sus.Items {
			s := &sus.Items[i]
			c.collectResource(ch, KindServiceUser, &s.ObjectMeta, &s.Status.CredentialStatus)
		}
	}
	c.listErrors.Collect(ch)
}

// list reads every resource of a kind, in every namespace the reader sees.
func (c *ResourceCollector) list(ctx context.Context, kind string, list client.ObjectList) bool {
	err := c.reader.List(ctx, list)
	if err == nil {
		return true
	}
	c.listErrors.WithLabelValues(kind).Inc()
	c.log.V(1).Info("cannot list resources for the metrics", "kind", kind, "error", err.Error())
	return false
}

// collectResource sends the series of one resource.
func (c *ResourceCollector) collectResource(ch chan<- prometheus.Metric, kind string, meta *metav1.ObjectMeta, st *iamv1alpha1.CredentialStatus) {
	ns, name := meta.Namespace, meta.Name
	for _, cond := range st.Conditions {
		ch <- prometheus.MustNewConstMetric(c.condition, prometheus.GaugeValue, 1,
			kind, ns, name, safe(cond.Type), safe(string(cond.Status)), safe(cond.Reason))
	}
	if due, ok := earliestRevocation(st.PendingRevocations); ok {
		ch <- prometheus.MustNewConstMetric(c.pendingRevocation, prometheus.GaugeValue,
			float64(due.Unix()), kind, ns, name)
	}
}

// earliestRevocation is the earliest revokeAt of the pending revocations that have one.
func earliestRevocation(pending []iamv1alpha1.PendingRevocation) (time.Time, bool) {
	var earliest time.Time
	for _, p := range pending {
		at := p.RevokeAt.Time
		if at.IsZero() {
			continue
		}
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	return earliest, !earliest.IsZero()
}

// safe returns v, or Redacted when v looks like a token. Condition types, statuses and
// reasons come from the status, which the API server validates only loosely: a reason may
// contain "cog_", and must still never put a token into a metric.
func safe(v string) string {
	if tokenpattern.Contains(v) {
		return Redacted
	}
	return v
}

// Register registers c on reg. A collector of the same metrics registered before (by an
// earlier manager of the same process: tests, the dev environment's restarts) is replaced,
// so that scrapes read the newest manager's cache.
func Register(reg prometheus.Registerer, c *ResourceCollector) error {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		return err
	}
	reg.Unregister(are.ExistingCollector)
	return reg.Register(c)
}
