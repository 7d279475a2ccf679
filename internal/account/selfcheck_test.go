package account

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// fakeSelfAPI answers the self-check with its function fields.
type fakeSelfAPI struct {
	self func() (*devinapi.Self, error)
	su   func(id string) (*devinapi.ServiceUser, error)
}

var _ SelfAPI = &fakeSelfAPI{}

func (f *fakeSelfAPI) Self(context.Context) (*devinapi.Self, error) { return f.self() }
func (f *fakeSelfAPI) GetServiceUser(_ context.Context, id string) (*devinapi.ServiceUser, error) {
	return f.su(id)
}

func TestSelfCheck(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	serviceUser := func() (*devinapi.Self, error) {
		return &devinapi.Self{Kind: devinapi.PrincipalServiceUser, ServiceUserID: "su-op"}, nil
	}
	expiring := func(in time.Duration) func(string) (*devinapi.ServiceUser, error) {
		return func(id string) (*devinapi.ServiceUser, error) {
			at := now.Add(in)
			return &devinapi.ServiceUser{ID: id, ExpiresAt: &at, IsActive: true}, nil
		}
	}
	cases := map[string]struct {
		api        fakeSelfAPI
		wantEvent  string
		wantReady  bool
		wantExpiry float64
	}{
		"a service user far from its expiry": {
			api: fakeSelfAPI{self: serviceUser, su: expiring(200 * 24 * time.Hour)}, wantReady: true,
			wantExpiry: float64(now.Add(200 * 24 * time.Hour).Unix()),
		},
		"a service user expiring within 30 days": {
			api:       fakeSelfAPI{self: serviceUser, su: expiring(10 * 24 * time.Hour)},
			wantEvent: eventCredentialExpiringSoon, wantReady: true, wantExpiry: float64(now.Add(10 * 24 * time.Hour).Unix()),
		},
		"a personal access token": {
			api:       fakeSelfAPI{self: func() (*devinapi.Self, error) { return &devinapi.Self{Kind: devinapi.PrincipalPATUser}, nil }},
			wantEvent: eventCredentialNotServiceUser,
		},
		"refused": {
			api:       fakeSelfAPI{self: func() (*devinapi.Self, error) { return nil, &devinapi.APIError{Status: 401} }},
			wantEvent: eventCredentialRefused, wantReady: true,
		},
		"the API is down: nothing concluded": {
			api:       fakeSelfAPI{self: func() (*devinapi.Self, error) { return nil, errors.New("dial: refused") }},
			wantReady: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			c := NewSelfCheck(&tc.api, clocktesting.NewFakePassiveClock(now), rec, prometheus.NewRegistry())
			c.Run(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ops"}})
			var got string
			select {
			case e := <-rec.Events:
				got = strings.Fields(e)[1]
			default:
			}
			if got != tc.wantEvent {
				t.Errorf("event %q, want %q", got, tc.wantEvent)
			}
			if err := c.ReadyCheck(nil); (err == nil) != tc.wantReady {
				t.Errorf("ready check: %v, want ready %v", err, tc.wantReady)
			}
			if v := testutil.ToFloat64(c.expiry); v != tc.wantExpiry {
				t.Errorf("expiry metric %v, want %v", v, tc.wantExpiry)
			}
		})
	}
}
