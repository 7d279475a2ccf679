package alerts

import (
	"flag"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/cogtokens/token-operator/internal/operator"
)

// pendingMetrics are metrics the alerts or the dashboard use that other work adds to the
// operator; each is allowed to be missing, with the reason logged. Remove an entry once the
// metric is exported.
var pendingMetrics = map[string]string{}

var (
	operatorMetricsOnce sync.Once
	operatorMetricsSet  exported
)

// operatorMetrics builds the operator's manager the way main.go does, with controller-runtime's
// registry replaced by one that records what is registered on it: the lifecycle's, the Devin
// API client's, the credential self-check's and the resource collector's metrics. Building a
// manager only asks the API server's discovery (served by discovery) which kinds are
// namespaced; the cluster ID is given.
func operatorMetrics(t *testing.T) exported {
	t.Helper()
	operatorMetricsOnce.Do(func() {
		reg := newRecordingRegistry()
		saved := ctrlmetrics.Registry
		ctrlmetrics.Registry = reg
		defer func() { ctrlmetrics.Registry = saved }()
		o := operator.DefaultOptions()
		fs := flag.NewFlagSet("token-operator", flag.ContinueOnError)
		o.BindFlags(fs)
		if err := fs.Parse(flagsThatExist(fs, map[string]string{
			"metrics-bind-address": "0", "health-probe-bind-address": "0", "enable-webhooks": "false",
			"leader-elect": "false", "devin-api-url": "http://127.0.0.1:1",
			// Without it the cluster's identity is read from the API server, and there is none.
			"cluster-id": "alerts-test",
		})); err != nil {
			t.Fatal(err)
		}
		o.SkipNameValidation = true
		srv := httptest.NewServer(discovery())
		defer srv.Close()
		if _, err := operator.NewManager(&rest.Config{Host: srv.URL}, o); err != nil {
			t.Fatalf("build the manager: %v", err)
		}
		operatorMetricsSet = reg.metrics
	})
	if operatorMetricsSet == nil {
		t.Fatal("the operator's metrics could not be gathered")
	}
	return operatorMetricsSet
}

// discovery serves the API server's discovery documents of the kinds the manager caches.
func discovery() http.Handler {
	docs := map[string]string{
		"/api":  `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`,
		"/apis": `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"iam.devin.ai","versions":[{"groupVersion":"iam.devin.ai/v1alpha1","version":"v1alpha1"}],"preferredVersion":{"groupVersion":"iam.devin.ai/v1alpha1","version":"v1alpha1"}}]}`,
		"/api/v1": `{"kind":"APIResourceList","groupVersion":"v1","resources":[` +
			`{"name":"secrets","namespaced":true,"kind":"Secret","verbs":["get","list","watch"]},` +
			`{"name":"namespaces","namespaced":false,"kind":"Namespace","verbs":["get","list","watch"]},` +
			`{"name":"events","namespaced":true,"kind":"Event","verbs":["create"]}]}`,
		"/apis/iam.devin.ai/v1alpha1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"iam.devin.ai/v1alpha1","resources":[` +
			`{"name":"personalaccesstokens","namespaced":true,"kind":"PersonalAccessToken","verbs":["get","list","watch"]},` +
			`{"name":"serviceusers","namespaced":true,"kind":"ServiceUser","verbs":["get","list","watch"]}]}`,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(doc))
	})
}

// flagsThatExist turns values into arguments, for the flags the operator has.
func flagsThatExist(fs *flag.FlagSet, values map[string]string) []string {
	var args []string
	for name, v := range values {
		if fs.Lookup(name) != nil {
			args = append(args, "--"+name+"="+v)
		}
	}
	return args
}

// TestOperatorExportsTheCollector: the manager registers the resource collector, with the
// labels the rules and the dashboard use.
func TestOperatorExportsTheCollector(t *testing.T) {
	m := operatorMetrics(t)
	t.Logf("the operator exports %v", m.names())
	for name, labels := range map[string][]string{
		"token_operator_resource_condition":                       {"kind", "namespace", "name", "condition", "status", "reason"},
		"token_operator_pending_revocation_due_timestamp_seconds": {"kind", "namespace", "name"},
		"token_operator_token_expiry_timestamp_seconds":           {"kind", "namespace", "name"},
		"devinapi_requests_total":                                 {"account", "operation", "code"},
		"token_operator_credential_expiry_timestamp_seconds":      {"account"},
	} {
		got, ok := m[name]
		if !ok {
			t.Errorf("%s is not exported", name)
			continue
		}
		if len(got) != len(labels) {
			t.Errorf("%s has the labels %v, want %v", name, got, labels)
		}
	}
}
