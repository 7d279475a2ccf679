package account

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// SelfAPI is what the self-check asks the Devin API.
type SelfAPI interface {
	Self(ctx context.Context) (*devinapi.Self, error)
	GetServiceUser(ctx context.Context, id string) (*devinapi.ServiceUser, error)
}

// credentialWarning is how long before the operator's own credential expires it warns.
const credentialWarning = 30 * 24 * time.Hour

// Event reasons of the self-check, on the credentials Secret.
const (
	eventCredentialNotServiceUser = "CredentialNotServiceUser"
	eventCredentialExpiringSoon   = "CredentialExpiringSoon"
	eventCredentialRefused        = "CredentialRefused"
)

// SelfCheck asks the Devin API who the operator's own credential is, at start and on every
// change: it must be a service user's API key (a personal token would act as a person, and
// lacks the service-user permissions). A service user lives at most a year, so its expiry is
// exported (token_operator_credential_expiry_timestamp_seconds), logged, and warned about
// 30 days ahead, so that nobody learns it from an outage.
type SelfCheck struct {
	api      SelfAPI
	clock    clock.PassiveClock
	recorder events.EventRecorder
	expiry   prometheus.Gauge

	mu      sync.Mutex
	problem string // why the credential cannot be used, "" when fine or not known
}

// DefaultAccountLabel is the account label of the operator's default account.
const DefaultAccountLabel = "default"

// ExpiryGauge is token_operator_credential_expiry_timestamp_seconds, by account, registered
// on reg (or the one registered before; nil: not registered).
func ExpiryGauge(reg prometheus.Registerer) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "token_operator_credential_expiry_timestamp_seconds",
		Help: "When the credential of a Devin account the operator acts through (its service user) expires (Unix seconds), by account (default: the operator's own); 0 when unknown.",
	}, []string{"account"})
	if reg == nil {
		return g
	}
	if err := reg.Register(g); err != nil {
		var are prometheus.AlreadyRegisteredError
		if !errors.As(err, &are) {
			panic(err)
		}
		g = are.ExistingCollector.(*prometheus.GaugeVec)
	}
	return g
}

// Label is the account label of the account whose connection key is key:
// DevinAccount/NAMESPACE/NAME or ClusterDevinAccount/NAME.
func Label(key string) string { return strings.Replace(key, "//", "/", 1) }

// NewSelfCheck checks through api, warns by rec and exports the expiry on reg (nil: not exported).
func NewSelfCheck(api SelfAPI, clk clock.PassiveClock, rec events.EventRecorder, reg prometheus.Registerer) *SelfCheck {
	g := ExpiryGauge(reg).WithLabelValues(DefaultAccountLabel)
	return &SelfCheck{api: api, clock: clk, recorder: rec, expiry: g}
}

// Run checks the credential the client now uses; sec is the credentials Secret, which the
// events are about.
func (c *SelfCheck) Run(ctx context.Context, sec *corev1.Secret) {
	log := ctrl.LoggerFrom(ctx).WithName("credentials")
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	self, err := c.api.Self(ctx)
	switch {
	case errors.Is(err, devinapi.ErrUnauthorized):
		c.setProblem("")
		c.event(sec, corev1.EventTypeWarning, eventCredentialRefused, "the Devin API refuses the operator's credential (401): replace it with a live service-user API key")
		log.Info("the Devin API refuses the operator's credential")
		return
	case err != nil:
		log.Info("cannot check the operator's credential now", "error", err.Error())
		return
	case self.Kind != devinapi.PrincipalServiceUser:
		msg := fmt.Sprintf("the operator's credential is a %q principal, not a service user's API key: use the API key of a service user with the permissions docs/devin-api.md lists", self.Kind)
		c.setProblem(msg)
		c.event(sec, corev1.EventTypeWarning, eventCredentialNotServiceUser, "%s", msg)
		log.Info("the operator's credential is not a service user", "principal", self.Kind)
		return
	}
	c.setProblem("")
	c.checkExpiry(ctx, sec, self)
}

// checkExpiry exports, logs and, when near, warns about the expiry of the service user.
func (c *SelfCheck) checkExpiry(ctx context.Context, sec *corev1.Secret, self *devinapi.Self) {
	log := ctrl.LoggerFrom(ctx).WithName("credentials")
	su, err := c.api.GetServiceUser(ctx, self.ServiceUserID)
	if err != nil {
		log.Info("cannot read the operator's own service user", "serviceUserID", self.ServiceUserID, "error", err.Error())
		return
	}
	if su.ExpiresAt == nil {
		c.expiry.Set(0)
		log.Info("the operator's credential is a service user's key", "serviceUserID", su.ID, "expires", "never")
		return
	}
	c.expiry.Set(float64(su.ExpiresAt.Unix()))
	log.Info("the operator's credential is a service user's key", "serviceUserID", su.ID, "expires", su.ExpiresAt.UTC().Format(time.RFC3339))
	if left := su.ExpiresAt.Sub(c.clock.Now()); left < credentialWarning {
		c.event(sec, corev1.EventTypeWarning, eventCredentialExpiringSoon,
			"the operator's service user %s expires %s: provision a new one and replace the credential before then",
			su.ID, su.ExpiresAt.UTC().Format(time.RFC3339))
	}
}

func (c *SelfCheck) setProblem(p string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problem = p
}

func (c *SelfCheck) event(sec *corev1.Secret, typ, reason, note string, args ...any) {
	if c.recorder != nil && sec != nil {
		c.recorder.Eventf(sec, nil, typ, reason, "CheckCredential", note, args...)
	}
}

// ReadyCheck fails while the credential is known to be of the wrong kind.
func (c *SelfCheck) ReadyCheck(_ *http.Request) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.problem != "" {
		return errors.New(c.problem)
	}
	return nil
}
