package alerts

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
)

// evalInterval is the rules' evaluation interval, and the interval of the input series.
const evalInterval = time.Minute

// alertTest is one `promtool test rules` case: input series, sampled every minute from the
// Unix epoch (so time() is the number of seconds since the start), and at chosen times the
// alerts of one name that must be firing then (none: it must not fire).
type alertTest struct {
	// series are promqltest load lines: `metric{labels} values` ('1x30' is 31 samples of
	// 1, '0+1x60' counts up, '_x30' leaves 30 samples out).
	series []string
	// firing maps an evaluation time to the label sets of the firing alerts (the alertname
	// label is implied).
	firing map[time.Duration][]map[string]string
}

// alertTests, by alert name. Each case places its threshold between two checked times:
// the last one before the alert fires, and the first one at which it does.
var alertTests = map[string]alertTest{
	"TokenOperatorResourceNotReady": {
		series: []string{
			// Exported by two replicas: one alert.
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="a",name="p",condition="Ready",status="False",reason="BackendError",pod="r1"} 1x90`,
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="a",name="p",condition="Ready",status="False",reason="BackendError",pod="r2"} 1x90`,
			// Unknown, then False with another reason: the hour does not restart.
			`token_operator_resource_condition{kind="ServiceUser",namespace="a",name="s",condition="Ready",status="Unknown",reason="Issuing"} 1x30`,
			`token_operator_resource_condition{kind="ServiceUser",namespace="a",name="s",condition="Ready",status="False",reason="BackendError"} _x31 1x59`,
			// Ready after 40 minutes: never fires.
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="b",name="recovers",condition="Ready",status="False",reason="Issuing"} 1x40`,
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="b",name="recovers",condition="Ready",status="True",reason="TokenIssued"} _x41 1x49`,
			// Ready, or another condition False: never fires.
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="b",name="ok",condition="Ready",status="True",reason="TokenIssued"} 1x90`,
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="b",name="ok",condition="Reconciling",status="False",reason="TokenIssued"} 1x90`,
		},
		firing: map[time.Duration][]map[string]string{
			59 * time.Minute: nil,
			60 * time.Minute: {
				{"kind": "PersonalAccessToken", "namespace": "a", "name": "p", "severity": "warning"},
				{"kind": "ServiceUser", "namespace": "a", "name": "s", "severity": "warning"},
			},
		},
	},
	"TokenOperatorResourceStalled": {
		series: []string{
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="a",name="bob",condition="Stalled",status="True",reason="SSOAccount",pod="r1"} 1x30`,
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="a",name="bob",condition="Stalled",status="True",reason="SSOAccount",pod="r2"} 1x30`,
			`token_operator_resource_condition{kind="PersonalAccessToken",namespace="a",name="alice",condition="Stalled",status="False",reason="TokenIssued"} 1x30`,
		},
		firing: map[time.Duration][]map[string]string{
			14 * time.Minute: nil,
			15 * time.Minute: {{"kind": "PersonalAccessToken", "namespace": "a", "name": "bob", "reason": "SSOAccount", "severity": "critical"}},
		},
	},
	"TokenOperatorRevocationOverdue": {
		series: []string{
			// Due at 30m: overdue by more than an hour from 91m, firing 10m later.
			`token_operator_pending_revocation_due_timestamp_seconds{kind="ServiceUser",namespace="a",name="s"} 1800x120`,
			// Due in a day: never fires.
			`token_operator_pending_revocation_due_timestamp_seconds{kind="ServiceUser",namespace="a",name="later"} 86400x120`,
		},
		firing: map[time.Duration][]map[string]string{
			100 * time.Minute: nil,
			101 * time.Minute: {{"kind": "ServiceUser", "namespace": "a", "name": "s", "severity": "warning"}},
		},
	},
	"TokenOperatorTokenExpiringSoon": {
		series: []string{
			// Expires at 3 days and 30 minutes: less than 3 days left from 31m, firing 10m later.
			`token_operator_token_expiry_timestamp_seconds{kind="PersonalAccessToken",namespace="a",name="p"} 261000x60`,
			// Expires in 30 days: never fires.
			`token_operator_token_expiry_timestamp_seconds{kind="PersonalAccessToken",namespace="a",name="fresh"} 2592000x60`,
		},
		firing: map[time.Duration][]map[string]string{
			40 * time.Minute: nil,
			41 * time.Minute: {{"kind": "PersonalAccessToken", "namespace": "a", "name": "p", "severity": "critical"}},
		},
	},
	"TokenOperatorRenewalOverdue": {
		series: []string{
			// Due at 10m: more than an hour late from 71m, firing 10m later.
			`token_operator_token_renewal_timestamp_seconds{kind="ServiceUser",namespace="a",name="s"} 600x90`,
			`token_operator_token_renewal_timestamp_seconds{kind="ServiceUser",namespace="a",name="later"} 86400x90`,
		},
		firing: map[time.Duration][]map[string]string{
			80 * time.Minute: nil,
			81 * time.Minute: {{"kind": "ServiceUser", "namespace": "a", "name": "s", "severity": "warning"}},
		},
	},
	"TokenOperatorTokenRevokedWhileInUse": {
		series: []string{
			// One revocation at 31m: fires at once, and while it is in the last hour (the
			// range (t-1h, t] holds the 0 of 30m until 89m).
			`token_operator_tokens_revoked_while_in_use_total{kind="PersonalAccessToken",pod="r1"} 0x30 1x70`,
			`token_operator_tokens_revoked_while_in_use_total{kind="ServiceUser",pod="r1"} 0x100`,
		},
		firing: map[time.Duration][]map[string]string{
			30 * time.Minute: nil,
			31 * time.Minute: {{"kind": "PersonalAccessToken", "severity": "warning"}},
			89 * time.Minute: {{"kind": "PersonalAccessToken", "severity": "warning"}},
			91 * time.Minute: nil,
		},
	},
	"TokenOperatorCredentialUnused": {
		series: []string{
			// Last used 30 days less 30 minutes before the start: past 30 days from 31m,
			// firing an hour later. Two replicas export it: one alert.
			`token_operator_token_last_used_timestamp_seconds{kind="ServiceUser",namespace="a",name="old",pod="r1"} -2590200x130`,
			`token_operator_token_last_used_timestamp_seconds{kind="ServiceUser",namespace="a",name="old",pod="r2"} -2590200x130`,
			// Used a minute before the start: never fires.
			`token_operator_token_last_used_timestamp_seconds{kind="ServiceUser",namespace="a",name="busy"} -60x130`,
			// Never used, Unused=True (its unusedAfter) from 40m: firing from 100m.
			`token_operator_resource_condition{kind="ServiceUser",namespace="b",name="never",condition="Unused",status="False",reason="KeyUsed"} 1x39`,
			`token_operator_resource_condition{kind="ServiceUser",namespace="b",name="never",condition="Unused",status="True",reason="KeyUnused"} _x40 1x90`,
		},
		firing: map[time.Duration][]map[string]string{
			90 * time.Minute: nil,
			91 * time.Minute: {{"kind": "ServiceUser", "namespace": "a", "name": "old", "severity": "warning"}},
			99 * time.Minute: {{"kind": "ServiceUser", "namespace": "a", "name": "old", "severity": "warning"}},
			100 * time.Minute: {
				{"kind": "ServiceUser", "namespace": "a", "name": "old", "severity": "warning"},
				{"kind": "ServiceUser", "namespace": "b", "name": "never", "severity": "warning"},
			},
		},
	},
	"TokenOperatorCredentialRefused": {
		series: []string{
			// 401s from the start: firing from 6m (rate > 0 from 1m, for 5m).
			`devinapi_requests_total{account="default",operation="ListServiceUserAPIKeys",code="401"} 0+1x60`,
			// 403s from 31m: firing from 36m.
			`devinapi_requests_total{account="default",operation="GetServiceUser",code="403"} 0x30 1+1x30`,
			// An imported token refused, a user's account refused, successes: never fire.
			`devinapi_requests_total{account="default",operation="SelfWithToken",code="401"} 0+1x60`,
			`devinapi_requests_total{account="default",operation="CreatePAT",code="403"} 0+1x60`,
			`devinapi_requests_total{account="default",operation="GetServiceUser",code="200"} 0+10x60`,
			// A team's account refused from 31m: its own alert, from 36m.
			`devinapi_requests_total{account="DevinAccount/team-a/team",operation="ListServiceUsers",code="401"} 0x30 1+1x30`,
		},
		firing: map[time.Duration][]map[string]string{
			5 * time.Minute:  nil,
			6 * time.Minute:  {{"account": "default", "operation": "ListServiceUserAPIKeys", "code": "401", "severity": "critical"}},
			35 * time.Minute: {{"account": "default", "operation": "ListServiceUserAPIKeys", "code": "401", "severity": "critical"}},
			36 * time.Minute: {
				{"account": "default", "operation": "ListServiceUserAPIKeys", "code": "401", "severity": "critical"},
				{"account": "default", "operation": "GetServiceUser", "code": "403", "severity": "critical"},
				{"account": "DevinAccount/team-a/team", "operation": "ListServiceUsers", "code": "401", "severity": "critical"},
			},
		},
	},
	"TokenOperatorCredentialExpiringSoon": {
		series: []string{
			// Expires at 14 days and 1 hour, seen by two replicas: less than 14 days left from
			// 61m, one alert firing an hour later.
			`token_operator_credential_expiry_timestamp_seconds{account="default",job="token-operator",namespace="ops",pod="r1",instance="10.0.0.1:8443"} 1213200x130`,
			`token_operator_credential_expiry_timestamp_seconds{account="default",job="token-operator",namespace="ops",pod="r2",instance="10.0.0.2:8443"} 1213200x130`,
			// 0: unknown (or never expires), never fires.
			`token_operator_credential_expiry_timestamp_seconds{account="default",job="token-operator",namespace="other",pod="r1",instance="10.0.1.1:8443"} 0x130`,
			// A team's account far from its expiry: no alert for it.
			`token_operator_credential_expiry_timestamp_seconds{account="ClusterDevinAccount/shared",job="token-operator",namespace="ops",pod="r1",instance="10.0.0.1:8443"} 9999999x130`,
		},
		firing: map[time.Duration][]map[string]string{
			120 * time.Minute: nil,
			121 * time.Minute: {{"account": "default", "job": "token-operator", "namespace": "ops", "severity": "warning"}},
		},
	},
	"TokenOperatorDevinAPIErrors": {
		series: []string{
			// 10 server errors and answerless requests per second from the start: firing from
			// 16m (rate > 0.1 from 1m, for 15m).
			`devinapi_requests_total{account="default",operation="GetUser",code="503"} 0+300x60`,
			`devinapi_requests_total{account="default",operation="GetUser",code="error"} 0+300x60`,
			// Neither rate limiting (429) nor successes count.
			`devinapi_requests_total{account="default",operation="GetUser",code="429"} 0+6000x60`,
			`devinapi_requests_total{account="default",operation="GetUser",code="200"} 0+6000x60`,
			// Another account's few errors do not add up with the default's.
			`devinapi_requests_total{account="DevinAccount/team-a/team",operation="GetUser",code="503"} 0+1x60`,
		},
		firing: map[time.Duration][]map[string]string{
			15 * time.Minute: nil,
			16 * time.Minute: {{"account": "default", "severity": "warning"}},
		},
	},
}

// TestAlerts evaluates the chart's rules over each case's series, minute by minute, with
// Prometheus' rule manager and query engine, and compares the firing alerts at each
// checked time, as `promtool test rules` does.
func TestAlerts(t *testing.T) {
	file := ruleFile(t)
	for name, tc := range alertTests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runAlertTest(t, file, name, tc)
		})
	}
}

func runAlertTest(t *testing.T, file, alert string, tc alertTest) {
	suite, err := promqltest.NewLazyLoader("load 1m\n  "+strings.Join(tc.series, "\n  "), promqltest.LazyLoaderOpts{})
	if err != nil {
		t.Fatalf("load the series: %v", err)
	}
	defer func() {
		if err := suite.Close(); err != nil {
			t.Error(err)
		}
	}()
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:  rules.EngineQueryFunc(suite.QueryEngine(), suite.Storage()),
		Appendable: suite.Storage(),
		Context:    context.Background(),
		NotifyFunc: func(context.Context, string, ...*rules.Alert) {},
		Logger:     slog.New(slog.DiscardHandler),
		Parser:     promql,
	})
	groups, errs := m.LoadGroups(evalInterval, labels.EmptyLabels(), "", nil, false, file)
	if len(errs) > 0 {
		t.Fatalf("load the rules: %v", errs)
	}
	var last time.Duration
	for at := range tc.firing {
		last = max(last, at)
	}
	start := time.Unix(0, 0).UTC()
	for at := time.Duration(0); at <= last; at += evalInterval {
		ts := start.Add(at)
		suite.WithSamplesTill(ts, func(err error) {
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range groups {
				g.Eval(suite.Context(), ts)
				for _, r := range g.Rules() {
					if err := r.LastError(); err != nil {
						t.Fatalf("rule %s at %v: %v", r.Name(), at, err)
					}
				}
			}
		})
		want, ok := tc.firing[at]
		if !ok {
			continue
		}
		got := firing(groups, alert)
		if w := labelSets(alert, want); !slices.Equal(got, w) {
			t.Errorf("at %v %s: firing\n  %v\nwant\n  %v", at, alert, got, w)
		}
	}
}

// firing returns the label sets of the firing alerts of one name, sorted.
func firing(groups map[string]*rules.Group, alert string) []string {
	var out []string
	for _, g := range groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok || ar.Name() != alert {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					out = append(out, a.Labels.String())
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// labelSets renders the expected label sets like the firing alerts' labels.
func labelSets(alert string, sets []map[string]string) []string {
	out := []string{}
	for _, s := range sets {
		m := map[string]string{labels.AlertName: alert}
		for k, v := range s {
			m[k] = v
		}
		out = append(out, labels.FromMap(m).String())
	}
	slices.Sort(out)
	if len(out) == 0 {
		return nil
	}
	return out
}
