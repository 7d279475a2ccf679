package main

import (
	"math"
	"strings"
	"testing"
	"time"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

const exposition = `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="secrets",scope="resource",subresource="",verb="POST",version="v1"} 12
apiserver_request_total{code="200",component="apiserver",dry_run="",group="iam.devin.ai",resource="personalaccesstokens",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 30
apiserver_request_total{code="201",component="apiserver",dry_run="All",group="iam.devin.ai",resource="personalaccesstokens",scope="resource",subresource="",verb="POST",version="v1alpha1"} 200
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 5

go_memstats_heap_inuse_bytes 1.2345e+07
workqueue_depth{controller="personalaccesstoken",name="personalaccesstoken"} 0 1700000000000
weird{path="a \"quoted\" {brace}, comma\\n",empty=""} +Inf
nan_metric NaN
`

func TestParseText(t *testing.T) {
	s, err := ParseText(strings.NewReader(exposition), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 9 {
		t.Fatalf("got %d samples, want 9", len(s))
	}
	if s[0].Name != "apiserver_request_total" || s[0].Labels["verb"] != "POST" || s[0].Labels["subresource"] != "" || s[0].Value != 12 {
		t.Errorf("first sample: %+v", s[0])
	}
	if s[5].Name != "go_memstats_heap_inuse_bytes" || s[5].Value != 12345000 || len(s[5].Labels) != 0 {
		t.Errorf("unlabelled sample: %+v", s[5])
	}
	if s[6].Value != 0 || s[6].Labels["controller"] != "personalaccesstoken" {
		t.Errorf("sample with a timestamp: %+v", s[6])
	}
	if got := s[7].Labels["path"]; got != "a \"quoted\" {brace}, comma\\n" {
		t.Errorf("escaped label value: %q", got)
	}
	if v, ok := s[7].Labels["empty"]; !ok || v != "" {
		t.Errorf("empty label: %q %v", v, ok)
	}
	if !math.IsInf(s[7].Value, 1) || !math.IsNaN(s[8].Value) {
		t.Errorf("special values: %v %v", s[7].Value, s[8].Value)
	}
}

func TestParseTextKeepsOnlyNamed(t *testing.T) {
	s, err := ParseText(strings.NewReader(exposition), named("workqueue_depth"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 1 || s[0].Name != "workqueue_depth" {
		t.Fatalf("got %+v", s)
	}
}

func TestParseTextErrors(t *testing.T) {
	for _, bad := range []string{
		`m{a="b" 1`,
		`m{a=b} 1`,
		`m{a="b} 1`,
		`m notanumber`,
		`m 1 2 3`,
		`m`,
	} {
		if _, err := ParseText(strings.NewReader(bad), nil); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestApiserverWrites(t *testing.T) {
	s, err := ParseText(strings.NewReader(exposition), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := apiserverWrites(s)
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
	s, _ := ParseText(strings.NewReader(exposition), nil)
	got := Sum(s, "apiserver_request_total", func(l map[string]string) bool { return l["group"] == "iam.devin.ai" })
	if got != 230 {
		t.Errorf("got %v, want 230", got)
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

func TestResourceOfPath(t *testing.T) {
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
		if got := resourceOfPath(path); got != want {
			t.Errorf("resourceOfPath(%q) = %q, want %q", path, got, want)
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
	seen := map[string]bool{}
	for i, obj := range objs {
		if seen[key(obj)] {
			t.Errorf("duplicate %s", key(obj))
		}
		seen[key(obj)] = true
		switch p := obj.(type) {
		case *iamv1alpha1.PersonalAccessToken:
			pats++
			if p.Spec.User.Email == patUsers[0] {
				alice++
			}
			if p.Spec.RotationGracePeriod.Duration != o.grace {
				t.Errorf("%s: grace %v", key(obj), p.Spec.RotationGracePeriod)
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

func TestRedact(t *testing.T) {
	if got := redact("token cog_abcDEF123 and cog_[REDACTED]"); strings.Contains(got, "abcDEF") || !strings.Contains(got, "cog_[REDACTED]") {
		t.Errorf("redact: %q", got)
	}
}

func TestDisplayArgsHidesRunSpecificValues(t *testing.T) {
	got := strings.Join(displayArgs([]string{"--kubeconfig=/tmp/x", "--verify-interval=1h", "--devin-api-qps=0"}), " ")
	if got != "--kubeconfig=… --verify-interval=1h --devin-api-qps=0" {
		t.Errorf("got %q", got)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", time.Minute: "1m", 90 * time.Minute: "1h30m", 20 * time.Second: "20s",
		50 * time.Millisecond: "50ms", 2*time.Minute + 5*time.Second: "2m5s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
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
