package devinapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestMetrics(t *testing.T) {
	s := newFake(t)
	ctx := testCtx(t)
	reg := prometheus.NewRegistry()
	withReg := func(o *devinapi.Options) { o.Registerer = reg }
	c := s.Client(withReg)
	// A second client on the same registerer shares the metrics.
	c2 := s.Client(withReg)

	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.SelfWithToken(ctx, pat.Token); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetServiceUser(ctx, "su-unknown")
	only(t, err, devinapi.ErrNotFound)
	s.SetFaults(devinapitest.Faults{ErrorRate: map[string]float64{"*": 1}, ErrorStatus: 429, RetryAfter: time.Second})
	_, err = c.Self(ctx)
	only(t, err, devinapi.ErrRetryable)
	s.Close()
	// After the Retry-After, the closed server gives a transport error.
	_, err = c2.Self(ctx)
	only(t, err, devinapi.ErrRetryable)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]float64{}
	var rateLimited float64
	var observations uint64
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v := lp.GetValue(); strings.Contains(strings.ToLower(v), "cog_") || strings.Contains(v, "user-") || strings.Contains(v, "su-") || strings.Contains(v, pat.ID) {
					t.Errorf("metric %s has label %s=%q", mf.GetName(), lp.GetName(), v)
				}
			}
			switch mf.GetName() {
			case "devinapi_requests_total":
				counts[labels(m)] += m.GetCounter().GetValue()
			case "devinapi_request_duration_seconds":
				observations += m.GetHistogram().GetSampleCount()
			case "devinapi_rate_limited_total":
				rateLimited += m.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{
		"account=default,code=200,operation=CreatePAT":      1,
		"account=default,code=200,operation=SelfWithToken":  1,
		"account=default,code=404,operation=GetServiceUser": 1,
		"account=default,code=429,operation=Self":           1,
		"account=default,code=error,operation=Self":         1,
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("devinapi_requests_total{%s} = %v, want %v (all: %v)", k, counts[k], v, counts)
		}
	}
	if rateLimited != 1 {
		t.Errorf("devinapi_rate_limited_total = %v, want 1", rateLimited)
	}
	if observations != 5 {
		t.Errorf("%d durations observed, want 5", observations)
	}
	if n, err := testutil.GatherAndCount(reg, "devinapi_requests_total", "devinapi_request_duration_seconds", "devinapi_rate_limited_total"); err != nil || n != 10 {
		t.Errorf("GatherAndCount = %d, %v; want 10 series", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP devinapi_rate_limited_total Answers of the Devin API that asked the client to back off (429, or 503 with Retry-After).
# TYPE devinapi_rate_limited_total counter
devinapi_rate_limited_total{account="default"} 1
`), "devinapi_rate_limited_total"); err != nil {
		t.Error(err)
	}
}

// TestMetricsPerAccount: a client of an account labels its series with the account, and
// ForgetMetrics drops that account's series only.
func TestMetricsPerAccount(t *testing.T) {
	ctx := testCtx(t)
	s := devinapitest.NewServer()
	defer s.Close()
	reg := prometheus.NewRegistry()
	def := s.Client(func(o *devinapi.Options) { o.Registerer = reg })
	team := s.Client(func(o *devinapi.Options) { o.Registerer, o.Account = reg, "DevinAccount/team-a/team" })
	for _, c := range []*devinapi.Client{def, team} {
		if _, err := c.Self(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func() map[string]int {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, mf := range families {
			for _, m := range mf.GetMetric() {
				out[mf.GetName()+"{"+labels(m)+"}"]++
			}
		}
		return out
	}
	before := count()
	if before[`devinapi_requests_total{account=DevinAccount/team-a/team,code=200,operation=Self}`] != 1 || before[`devinapi_requests_total{account=default,code=200,operation=Self}`] != 1 {
		t.Fatalf("series by account: %v", before)
	}
	team.ForgetMetrics()
	after := count()
	for k := range after {
		if strings.Contains(k, "team-a") {
			t.Errorf("series %s outlived ForgetMetrics", k)
		}
	}
	if after[`devinapi_requests_total{account=default,code=200,operation=Self}`] != 1 {
		t.Errorf("the default account's series went too: %v", after)
	}
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, lp := range m.GetLabel() {
		parts = append(parts, lp.GetName()+"="+lp.GetValue())
	}
	return strings.Join(parts, ",")
}

func TestMetricsConflictFailsNew(t *testing.T) {
	type testCase struct {
		existing prometheus.Collector
	}
	tests := map[string]testCase{
		"requests": {existing: prometheus.NewCounter(prometheus.CounterOpts{Name: "devinapi_requests_total", Help: "other"})},
		"duration": {existing: prometheus.NewCounter(prometheus.CounterOpts{Name: "devinapi_request_duration_seconds", Help: "other"})},
		"limited":  {existing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "devinapi_rate_limited_total", Help: "other"})},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(tc.existing)
			_, err := devinapi.New(devinapi.Options{BaseURL: "https://api.devin.ai", Credentials: devinapi.StaticToken(devinapi.NewToken("t")), Registerer: reg})
			if err == nil || !strings.Contains(err.Error(), "register metrics") {
				t.Errorf("New = %v, want a registration error", err)
			}
		})
	}
}
