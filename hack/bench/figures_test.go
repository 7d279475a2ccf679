// Tests of the figures derived from the counters: SubjectAccessReviews and dry runs told
// apart, histogram quantiles, periodic checks and their spread, the scale list and plot.

package main

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// servedExposition is a kube-apiserver scrape with every kind of request the bench tells
// apart: committed writes, dry runs, SubjectAccessReviews, and reads.
const servedExposition = `# TYPE apiserver_request_total counter
apiserver_request_total{code="201",dry_run="",group="",resource="secrets",subresource="",verb="POST",version="v1"} 12
apiserver_request_total{code="201",dry_run="All",group="",resource="secrets",subresource="",verb="POST",version="v1"} 10
apiserver_request_total{code="200",dry_run="All",group="",resource="secrets",subresource="",verb="PATCH",version="v1"} 2
apiserver_request_total{code="200",dry_run="All",group="iam.devin.ai",resource="personalaccesstokens",subresource="",verb="POST",version="v1alpha1"} 200
apiserver_request_total{code="201",dry_run="",group="authorization.k8s.io",resource="subjectaccessreviews",subresource="",verb="POST",version="v1"} 7
apiserver_request_total{code="201",dry_run="",group="authorization.k8s.io",resource="subjectaccessreviews",subresource="",verb="create",version="v1"} 1
apiserver_request_total{code="200",dry_run="",group="iam.devin.ai",resource="personalaccesstokens",subresource="status",verb="PATCH",version="v1alpha1"} 30
apiserver_request_total{code="200",dry_run="",group="",resource="secrets",subresource="",verb="LIST",version="v1"} 9
apiserver_request_total{code="200",dry_run="",group="iam.devin.ai",resource="credentialpolicies",subresource="status",verb="PATCH",version="v1alpha1"} 3
`

func TestApiserverServedCountsReviewsAndDryRunsApart(t *testing.T) {
	s, err := ParseText(strings.NewReader(servedExposition), textFormat, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := apiserverServed(s)
	if got.reviews != 8 {
		t.Errorf("reviews = %v, want 8 (POST and create)", got.reviews)
	}
	wantWrites := Writes{"secrets": 12, "personalaccesstokens/status": 30, "credentialpolicies/status": 3}
	wantDry := Writes{"secrets": 12, "personalaccesstokens": 200}
	for name, c := range map[string]struct{ got, want Writes }{"writes": {got.writes, wantWrites}, "dry runs": {got.dryRuns, wantDry}} {
		if len(c.got) != len(c.want) {
			t.Errorf("%s: got %v, want %v", name, c.got, c.want)
		}
		for k, v := range c.want {
			if c.got[k] != v {
				t.Errorf("%s[%s] = %v, want %v", name, k, c.got[k], v)
			}
		}
	}
	if op := onlyOperatorResources(got.writes); op.Total() != 45 {
		t.Errorf("the operator's writes: %v (the policy status recount is the operator's)", op)
	}
}

// The bench's own dry runs are counted apart from its writes, so that each can be
// subtracted from the API server's figure of the same kind.
func TestCountingTransportTellsDryRunsApart(t *testing.T) {
	c := &writeCounter{}
	rt := countingTransport{next: roundTripFunc(func(*http.Request) (*http.Response, error) { return &http.Response{StatusCode: 200}, nil }), c: c}
	for _, u := range []string{
		"/api/v1/namespaces/a/secrets",
		"/apis/iam.devin.ai/v1alpha1/namespaces/a/personalaccesstokens?dryRun=All",
		"/apis/iam.devin.ai/v1alpha1/namespaces/a/personalaccesstokens?dryRun=All",
	} {
		roundTrip(t, rt, newRequest(t, "POST", u))
	}
	roundTrip(t, rt, newRequest(t, "GET", "/api/v1/namespaces/a/secrets"))
	w, dry := c.snapshot()
	if w.Total() != 1 || w["secrets"] != 1 || dry.Total() != 2 || dry["personalaccesstokens"] != 2 {
		t.Errorf("writes %v, dry runs %v", w, dry)
	}
}

func TestDeltaSubtractsTheBenchsDryRuns(t *testing.T) {
	before := snapshot{served: served{writes: Writes{"secrets": 10}, dryRuns: Writes{"secrets": 5, "personalaccesstokens": 1}, reviews: 2},
		bench: Writes{}, benchDry: Writes{"personalaccesstokens": 1}}
	after := snapshot{served: served{writes: Writes{"secrets": 13}, dryRuns: Writes{"secrets": 9, "personalaccesstokens": 51}, reviews: 6},
		bench: Writes{"secrets": 1}, benchDry: Writes{"personalaccesstokens": 51}}
	d := before.to(after)
	if d.writes.Total() != 2 || d.dryRuns.Total() != 4 || d.dryRuns["secrets"] != 4 || d.reviews != 4 || d.served() != 10 {
		t.Errorf("writes %v, dry runs %v, reviews %v", d.writes, d.dryRuns, d.reviews)
	}
}

func TestHistogramQuantile(t *testing.T) {
	s, err := ParseText(strings.NewReader(`# TYPE controller_runtime_reconcile_time_seconds histogram
controller_runtime_reconcile_time_seconds_bucket{controller="a",le="0.1"} 50
controller_runtime_reconcile_time_seconds_bucket{controller="a",le="0.2"} 90
controller_runtime_reconcile_time_seconds_bucket{controller="a",le="+Inf"} 100
controller_runtime_reconcile_time_seconds_bucket{controller="b",le="0.1"} 0
controller_runtime_reconcile_time_seconds_bucket{controller="b",le="0.2"} 0
controller_runtime_reconcile_time_seconds_bucket{controller="b",le="+Inf"} 0
controller_runtime_reconcile_time_seconds_sum{controller="a"} 12
`), textFormat, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := histogramOf(s, "controller_runtime_reconcile_time_seconds")
	for _, c := range []struct{ q, want float64 }{{0.25, 0.05}, {0.5, 0.1}, {0.7, 0.15}, {0.9, 0.2}, {0.99, 0.2}} {
		if got := h.quantile(c.q); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := h.sub(histogram{0.1: 50, 0.2: 50, math.Inf(1): 50}); got.count() != 50 || math.Abs(got.quantile(0.5)-0.1625) > 1e-9 {
		t.Errorf("sub: %v, median %v", got, got.quantile(0.5))
	}
	if (histogram{}).quantile(0.99) != 0 {
		t.Error("an empty histogram has a quantile")
	}
	if got := h.quantileDuration(0.5); got != 100*time.Millisecond {
		t.Errorf("quantileDuration = %v", got)
	}
}

func TestCheckLogCountsEachChangeOnce(t *testing.T) {
	gauge := func(kind, ns, name string, at int64) Sample {
		return Sample{Name: checkGauge, Labels: map[string]string{"kind": kind, "namespace": ns, "name": name}, Value: float64(at)}
	}
	l := &checkLog{}
	l.observe([]Sample{gauge("PersonalAccessToken", "bench-0", "a", 100), gauge("ServiceUser", "bench-1", "s", 101), gauge("PersonalAccessToken", "other", "x", 100)})
	l.observe([]Sample{gauge("PersonalAccessToken", "bench-0", "a", 100), gauge("ServiceUser", "bench-1", "s", 101)})
	l.observe([]Sample{gauge("PersonalAccessToken", "bench-0", "a", 160), gauge("ServiceUser", "bench-1", "s", 101), gauge("PersonalAccessToken", "bench-2", "b", 130)})
	ev := l.snapshot()
	if len(ev) != 4 {
		t.Fatalf("got %d checks, want 4: %+v", len(ev), ev)
	}
	if c := countChecks(ev, time.Unix(100, 0), time.Unix(160, 0)); c.pats != 2 || c.serviceUsers != 1 {
		t.Errorf("countChecks = %+v (from inclusive, to exclusive)", c)
	}
	first := firstChecks(ev, time.Unix(100, 0))
	want := []time.Duration{0, time.Second, 30 * time.Second}
	if len(first) != len(want) {
		t.Fatalf("firstChecks = %v", first)
	}
	for i := range want {
		if first[i] != want[i] {
			t.Errorf("firstChecks = %v, want %v", first, want)
		}
	}
}

func TestPeakShare(t *testing.T) {
	even := make([]time.Duration, 60)
	for i := range even {
		even[i] = time.Duration(i) * time.Second
	}
	if got := peakShare(even, 6*time.Second); math.Abs(got-0.1) > 1e-9 {
		t.Errorf("evenly spread: %v, want 0.1", got)
	}
	burst := []time.Duration{0, 0, time.Second, 2 * time.Second, 50 * time.Second}
	if got := peakShare(burst, 6*time.Second); got != 0.8 {
		t.Errorf("burst: %v, want 0.8", got)
	}
	if peakShare(nil, time.Second) != 0 {
		t.Error("no offsets")
	}
}

func TestParseScale(t *testing.T) {
	got, err := parseScale("10000, 1000,5000,1000,")
	if err != nil || len(got) != 3 || got[0] != 1000 || got[1] != 5000 || got[2] != 10000 {
		t.Errorf("parseScale = %v, %v", got, err)
	}
	for _, bad := range []string{"2", "x", "1000,-5"} {
		if _, err := parseScale(bad); err == nil {
			t.Errorf("parseScale(%q) accepted", bad)
		}
	}
	o := scaleOptions(options{phaseTimeout: 5 * time.Minute}, 10000)
	if o.tokens+o.serviceUsers != 10000 || o.serviceUsers != 909 || o.phaseTimeout < 16*time.Minute {
		t.Errorf("scaleOptions: %d + %d, %v", o.tokens, o.serviceUsers, o.phaseTimeout)
	}
}

func TestScaleSVGIsWellFormedWithEveryPoint(t *testing.T) {
	var points []scalePoint
	for i, n := range []int{1000, 5000, 10000} {
		p := scalePoint{n: n, rss: uint64(60+10*i) << 20, heap: float64(20+5*i) * (1 << 20)}
		p.create.ready = time.Duration(20*(i+1)) * time.Second
		p.floor.duration = time.Duration(10*(i+1)) * time.Second
		points = append(points, p)
	}
	points = append(points, scalePoint{n: 20000, err: "timed out"})
	svg := scaleSVG(points)
	dec := xml.NewDecoder(strings.NewReader(svg))
	circles, titles := 0, []string{}
	inTitle := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			circles += btoi(x.Name.Local == "circle")
			inTitle = x.Name.Local == "title"
		case xml.CharData:
			if inTitle {
				titles = append(titles, string(x))
			}
		case xml.EndElement:
			inTitle = false
		}
	}
	// Four series (operator, floor, RSS, heap), three points each; the failed one left out.
	if circles != 12 {
		t.Errorf("%d points drawn, want 12", circles)
	}
	for _, want := range []string{"operator: 60 at 10000", "floor (no operator): 10 at 1000", "RSS: 80 at 10000", "Go heap in use: 25 at 5000"} {
		if !contains(titles, want) {
			t.Errorf("no point %q among %q", want, titles)
		}
	}
	if strings.Contains(svg, "20000") {
		t.Error("the failed point is drawn")
	}
}

func TestNiceCeilAndTickLabel(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.7: 0.8, 1: 1, 1.2: 1.5, 9.9: 10, 120: 150, 10000: 10000, 10001: 15000, 233: 250} {
		if got := niceCeil(v); math.Abs(got-want) > 1e-9 {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	if tickLabel(2000) != "2k" || tickLabel(2.5) != "2.5" || tickLabel(0.30000000000000004) != "0.3" {
		t.Errorf("tick labels: %s %s %s", tickLabel(2000), tickLabel(2.5), tickLabel(0.30000000000000004))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func newRequest(t *testing.T, method, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "https://127.0.0.1:6443"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// roundTrip sends req through rt and closes the answer's body.
func roundTrip(t *testing.T, rt http.RoundTripper, req *http.Request) {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
}
