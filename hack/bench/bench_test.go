// Tests of how the bench reads its figures: the scrapes and counters, percentiles, the mix
// of resources, the log scan and contract violations, and the machine's /proc files.

package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// exposition is a scrape of the kube-apiserver and of the manager, in the text format.
const exposition = `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="iam.devin.ai",resource="personalaccesstokens",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 30
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="iam.devin.ai",resource="personalaccesstokens",scope="resource",subresource="",verb="POST",version="v1alpha1"} 200
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 5
# HELP controller_runtime_reconcile_total Total number of reconciliations per controller
# TYPE controller_runtime_reconcile_total counter
controller_runtime_reconcile_total{controller="personalaccesstoken",result="success"} 40
controller_runtime_reconcile_total{controller="personalaccesstoken",result="error"} 2
controller_runtime_reconcile_total{controller="serviceuser",result="success"} 8
# HELP controller_runtime_reconcile_time_seconds Length of time per reconciliation per controller
# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="personalaccesstoken",le="0.1"} 30
controller_runtime_reconcile_time_seconds_bucket{controller="personalaccesstoken",le="+Inf"} 42
controller_runtime_reconcile_time_seconds_sum{controller="personalaccesstoken"} 4.5
controller_runtime_reconcile_time_seconds_count{controller="personalaccesstoken"} 42
controller_runtime_reconcile_time_seconds_bucket{controller="serviceuser",le="0.1"} 8
controller_runtime_reconcile_time_seconds_bucket{controller="serviceuser",le="+Inf"} 8
controller_runtime_reconcile_time_seconds_sum{controller="serviceuser"} 0.5
controller_runtime_reconcile_time_seconds_count{controller="serviceuser"} 8
# HELP devinapi_request_duration_seconds Devin API request durations.
# TYPE devinapi_request_duration_seconds histogram
devinapi_request_duration_seconds_bucket{route="POST /v3/organizations/{org_id}/members/{user_id}/pats",le="+Inf"} 60
devinapi_request_duration_seconds_sum{route="POST /v3/organizations/{org_id}/members/{user_id}/pats"} 3.25
devinapi_request_duration_seconds_count{route="POST /v3/organizations/{org_id}/members/{user_id}/pats"} 60
# HELP rest_client_requests_total Number of HTTP requests, partitioned by status code, method, and host.
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="GET"} 900
rest_client_requests_total{code="200",host="127.0.0.1:6443",method="PATCH"} 70
rest_client_requests_total{code="201",host="127.0.0.1:6443",method="POST"} 50
rest_client_requests_total{code="409",host="127.0.0.1:6443",method="PUT"} 3
# HELP workqueue_depth Current depth of workqueue
# TYPE workqueue_depth gauge
workqueue_depth{controller="personalaccesstoken",name="personalaccesstoken"} 4 1700000000000
workqueue_depth{controller="serviceuser",name="serviceuser"} 1
# HELP controller_runtime_active_workers Number of currently used workers per controller
# TYPE controller_runtime_active_workers gauge
controller_runtime_active_workers{controller="personalaccesstoken"} 3
# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.2345e+07
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
`

func parseExposition(t *testing.T, keep func(string) bool) []Sample {
	t.Helper()
	s, err := ParseText(strings.NewReader(exposition), textFormat, keep)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseTextKeepsOnlyNamed(t *testing.T) {
	s := parseExposition(t, named("workqueue_depth", "devinapi_request_duration_seconds_sum"))
	if len(s) != 3 {
		t.Fatalf("got %+v", s)
	}
	for _, x := range s {
		if x.Name != "workqueue_depth" && x.Name != "devinapi_request_duration_seconds_sum" {
			t.Errorf("kept %s", x.Name)
		}
	}
}

func TestApiserverWrites(t *testing.T) {
	w := apiserverServed(parseExposition(t, nil)).writes
	want := Writes{"secrets": 12, "personalaccesstokens/status": 30, "leases": 5}
	if len(w) != len(want) {
		t.Fatalf("got %v, want %v", w, want)
	}
	for k, v := range want {
		if w[k] != v {
			t.Errorf("%s: got %v, want %v", k, w[k], v)
		}
	}
	if got := onlyOperatorResources(w); got.Total() != 42 || got["leases"] != 0 {
		t.Errorf("operator resources: %v", got)
	}
}

func TestSum(t *testing.T) {
	s := parseExposition(t, nil)
	for _, c := range []struct {
		name  string
		match func(map[string]string) bool
		want  float64
	}{
		{"apiserver_request_total", func(l map[string]string) bool { return l["group"] == "iam.devin.ai" }, 230},
		{"workqueue_depth", func(l map[string]string) bool { return l["controller"] == "serviceuser" }, 1},
		{"workqueue_depth", nil, 5},
		{"controller_runtime_reconcile_time_seconds_bucket", func(l map[string]string) bool { return l["le"] == "+Inf" }, 50},
		{"controller_runtime_reconcile_time_seconds_count", nil, 50},
		{"no_such_metric", nil, 0},
	} {
		if got := Sum(s, c.name, c.match); got != c.want {
			t.Errorf("Sum(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestParseOperatorStats(t *testing.T) {
	got := parseOperatorStats(parseExposition(t, named(operatorSeries...)))
	want := operatorStats{
		Reconciles: 50, Depth: 5, Active: 3, Writes: 123, HeapInuse: 12345000,
		ReconcileSeconds: 5, DevinSeconds: 3.25, DevinRequests: 60, CPU: 12.5,
	}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// TestScrape reads what a real Prometheus registry serves, through promhttp's content
// negotiation, as the bench scrapes the manager, kube-apiserver and etcd.
func TestScrape(t *testing.T) {
	reg := prometheus.NewRegistry()
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rest_client_requests_total"}, []string{"method"})
	depth := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "workqueue_depth"}, []string{"name"})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "devinapi_request_duration_seconds", Buckets: []float64{0.1}})
	reg.MustRegister(calls, depth, latency)
	calls.WithLabelValues("POST").Add(3)
	calls.WithLabelValues("GET").Add(10)
	depth.WithLabelValues("personalaccesstoken").Set(2)
	latency.Observe(0.05)
	latency.Observe(0.2)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	s, err := scrape(context.Background(), srv.Client(), srv.URL, named(operatorSeries...))
	if err != nil {
		t.Fatal(err)
	}
	got := parseOperatorStats(s)
	want := operatorStats{Writes: 3, Depth: 2, DevinSeconds: 0.25, DevinRequests: 2}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestScrapeRefusesBadStatus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := scrape(context.Background(), srv.Client(), srv.URL, nil); err == nil {
		t.Error("no error for a 404")
	}
}

func TestWritesAndCallsSub(t *testing.T) {
	d := Writes{"secrets": 10, "events": 2}.Sub(Writes{"secrets": 4, "events": 2, "leases": 1})
	if len(d) != 2 || d["secrets"] != 6 || d["leases"] != -1 {
		t.Errorf("writes: %v", d)
	}
	c := Calls{"POST /a": 3, "GET /b": 1}.Sub(Calls{"GET /b": 1})
	if len(c) != 1 || c["POST /a"] != 3 || c.Total() != 3 {
		t.Errorf("calls: %v", c)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	// 1..100 ms, shuffled a little: nearest rank.
	var hundred []int
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, i)
	}
	for _, c := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(3, 1, 2), 50, 2 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{ms(hundred...), 50, 50 * time.Millisecond},
		{ms(hundred...), 99, 99 * time.Millisecond},
		{ms(hundred...), 100, 100 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 1000), 99, time.Second},
	} {
		if got := Percentile(c.in, c.p); got != c.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
	in := ms(3, 1, 2)
	_ = Percentile(in, 50)
	if in[0] != 3*time.Millisecond {
		t.Error("Percentile sorted its input in place")
	}
	if got := Mean(ms(1, 2, 6)); got != 3*time.Millisecond {
		t.Errorf("Mean = %v", got)
	}
}

func TestResourceOf(t *testing.T) {
	for path, want := range map[string]string{
		"/api/v1/namespaces":             "namespaces",
		"/api/v1/namespaces/a":           "namespaces",
		"/api/v1/namespaces/a/finalize":  "namespaces/finalize",
		"/api/v1/namespaces/a/secrets":   "secrets",
		"/api/v1/namespaces/a/secrets/s": "secrets",
		"/apis/iam.devin.ai/v1alpha1/namespaces/a/personalaccesstokens/p/status": "personalaccesstokens/status",
		"/apis/iam.devin.ai/v1alpha1/namespaces/a/serviceusers":                  "serviceusers",
		"/apis/rbac.authorization.k8s.io/v1/clusterroles/x":                      "clusterroles",
		"/metrics":                    "",
		"/apis/iam.devin.ai/v1alpha1": "",
	} {
		if got := resourceOf(newRequest(t, http.MethodPost, path)); got != want {
			t.Errorf("resourceOf(POST %q) = %q, want %q", path, got, want)
		}
	}
}

func TestBenchObjectsMix(t *testing.T) {
	o := options{tokens: 10, serviceUsers: 3, namespaces: 4, grace: 20 * time.Second}
	objs := benchObjects(o)
	if len(objs) != 13 {
		t.Fatalf("got %d objects", len(objs))
	}
	pats, sus, alice := 0, 0, 0
	seen := map[client.ObjectKey]bool{}
	for i, obj := range objs {
		key := client.ObjectKeyFromObject(obj)
		if seen[key] {
			t.Errorf("duplicate %s", key)
		}
		seen[key] = true
		switch p := obj.(type) {
		case *iamv1alpha1.PersonalAccessToken:
			pats++
			if p.Spec.User.Email == patUsers[0] {
				alice++
			}
			if p.Spec.RotationGracePeriod.Duration != o.grace {
				t.Errorf("%s: grace %v", key, p.Spec.RotationGracePeriod)
			}
		case *iamv1alpha1.ServiceUser:
			sus++
			if i == len(objs)-1 && sus == 1 {
				t.Error("ServiceUsers are not interleaved")
			}
		}
	}
	if pats != 10 || sus != 3 || alice != 5 {
		t.Errorf("pats %d, service users %d, alice %d", pats, sus, alice)
	}
}

func TestScanLogsCountsTokenValuesNotPlaceholders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "operator.log")
	log := "issued token cog_abcDEF123-x_y\nstored cog_[REDACTED]\n\nreconciled\nprefix cog_ alone\n"
	if err := os.WriteFile(p, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := scanLogs([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if want := (logScan{files: 1, lines: 4, leaks: 1}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestContractViolationsAreTakenAndScrubbed(t *testing.T) {
	srv := devinapitest.NewServer()
	defer srv.Close()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/v3/no-such-route/cog_abcDEF123", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.AdminToken().Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	got := contractViolations(srv)
	if len(got) == 0 {
		t.Fatal("no violation recorded for a route outside the contract")
	}
	for _, v := range got {
		if strings.Contains(v, "abcDEF") {
			t.Errorf("not scrubbed: %q", v)
		}
	}
	if again := contractViolations(srv); len(again) != 0 {
		t.Errorf("violations not taken: %q", again)
	}
}

func TestDisplayArgsHidesRunSpecificValues(t *testing.T) {
	got := strings.Join(displayArgs([]string{"--kubeconfig=/tmp/x", "--verify-interval=1h", "--devin-api-qps=0"}), " ")
	if got != "--kubeconfig=… --verify-interval=1h --devin-api-qps=0" {
		t.Errorf("got %q", got)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	stat := "cpu  100 20 30 5000 7 1 2 3 0 0\ncpu0 50 10 15 2500 3 0 1 1 0 0\nintr 1\n"
	// user+nice+system+irq+softirq+steal = 100+20+30+1+2+3 = 156 jiffies.
	if got := parseProcStatCPU(stat); got != 1.56 {
		t.Errorf("got %v, want 1.56", got)
	}
	if got := parseProcStatCPU("nothing"); got != 0 {
		t.Errorf("got %v for no cpu line", got)
	}
}

func TestParallelRunsEachOnceAtMostWorkersAtATime(t *testing.T) {
	var ran [50]atomic.Int32
	var busy, peak atomic.Int32
	err := parallel(context.Background(), len(ran), 4, func(_ context.Context, i int) error {
		ran[i].Add(1)
		b := busy.Add(1)
		for p := peak.Load(); b > p && !peak.CompareAndSwap(p, b); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		busy.Add(-1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ran {
		if n := ran[i].Load(); n != 1 {
			t.Errorf("f(%d) ran %d times", i, n)
		}
	}
	if p := peak.Load(); p > 4 {
		t.Errorf("%d calls at once, want at most 4", p)
	}
}

func TestParallelStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	var started atomic.Int32
	err := parallel(context.Background(), 1000, 2, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 0 {
			return boom
		}
		time.Sleep(time.Millisecond)
		return ctx.Err()
	})
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want the first error", err)
	}
	if n := started.Load(); n > 10 {
		t.Errorf("%d calls started after the first error", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := parallel(ctx, 10, 2, func(context.Context, int) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: got %v", err)
	}
}

func TestProcFields(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	status := "Name:\tmanager\nmodel name\t: First CPU\nmodel name\t: Second CPU\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nno colon\n"
	if err := os.WriteFile(path, []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := procFields(path)
	if err != nil {
		t.Fatal(err)
	}
	if f["Name"] != "manager" || f["model name"] != "First CPU" || len(f) != 4 {
		t.Errorf("got %q", f)
	}
	if rss, err := kiBytes(f["VmRSS"]); err != nil || rss != 10240*1024 {
		t.Errorf("VmRSS: %d, %v", rss, err)
	}
	for _, bad := range []string{"", "12 MB", "x kB", f["Name"]} {
		if _, err := kiBytes(bad); err == nil {
			t.Errorf("kiBytes(%q) took it", bad)
		}
	}
	if got := firstField(path, "model name"); got != "First CPU" {
		t.Errorf("firstField: %q", got)
	}
	if got := firstField(filepath.Join(t.TempDir(), "none"), "x"); got != "unknown" {
		t.Errorf("firstField of no file: %q", got)
	}
}

func TestSeriesURLAsksForEachFamilyOnce(t *testing.T) {
	u, err := url.Parse(seriesURL("http://127.0.0.1:8080/metrics", operatorSeries))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"controller_runtime_reconcile_total", "workqueue_depth", "controller_runtime_active_workers",
		"rest_client_requests_total", "go_memstats_heap_inuse_bytes", "controller_runtime_reconcile_time_seconds",
		"devinapi_request_duration_seconds", "process_cpu_seconds_total"}
	if got := u.Query()["name[]"]; !slices.Equal(got, want) {
		t.Errorf("got families %q, want %q", got, want)
	}
}
