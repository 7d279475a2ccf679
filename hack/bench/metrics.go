// Reading the counters: Prometheus scrapes of the kube-apiserver, etcd and the manager, the
// API server's writes and dry runs by resource, the bench's own writes (to subtract them), and
// the Devin API calls by route.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/rest"
)

// Sample is one sample of a scraped metric, as the bench reads it: the series name (a
// histogram's or summary's own _sum, _count and _bucket series under those names), its labels
// and its value (a timestamp is dropped).
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseText decodes a Prometheus exposition in the given format with expfmt (the text format
// for the endpoints the bench scrapes) and returns the samples whose series name keep accepts
// (nil keeps everything).
func ParseText(r io.Reader, format expfmt.Format, keep func(name string) bool) ([]Sample, error) {
	dec := &expfmt.SampleDecoder{Dec: expfmt.NewDecoder(r, format), Opts: &expfmt.DecodeOptions{}}
	var out []Sample
	for {
		var v model.Vector
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for _, s := range v {
			name := string(s.Metric[model.MetricNameLabel])
			if keep != nil && !keep(name) {
				continue
			}
			labels := make(map[string]string, len(s.Metric)-1)
			for k, l := range s.Metric {
				if k != model.MetricNameLabel {
					labels[string(k)] = string(l)
				}
			}
			out = append(out, Sample{Name: name, Labels: labels, Value: float64(s.Value)})
		}
	}
}

// Sum adds the values of the samples named name whose labels pass match (nil: all).
func Sum(samples []Sample, name string, match func(map[string]string) bool) float64 {
	t := 0.0
	for _, s := range samples {
		if s.Name == name && (match == nil || match(s.Labels)) {
			t += s.Value
		}
	}
	return t
}

// writeVerbs are the apiserver_request_total verbs that change state.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// Writes maps "resource" or "resource/subresource" to a number of write requests.
type Writes map[string]float64

// Total is the sum over every resource.
func (w Writes) Total() float64 {
	t := 0.0
	for _, v := range w {
		t += v
	}
	return t
}

// Sub returns w - o, resource by resource, dropping zeroes.
func (w Writes) Sub(o Writes) Writes {
	out := Writes{}
	for k, v := range w {
		if d := v - o[k]; d != 0 {
			out[k] = d
		}
	}
	for k, v := range o {
		if _, ok := w[k]; !ok && v != 0 {
			out[k] = -v
		}
	}
	return out
}

// served is what the kube-apiserver served that costs it like a write, from its
// apiserver_request_total: committed writes and server-side dry runs (write verbs with a
// dry_run label), by resource, and SubjectAccessReviews (each one an authorization decision).
type served struct {
	writes, dryRuns Writes
	reviews         float64
}

// apiserverServed reads served from a scrape of the kube-apiserver. A SubjectAccessReview
// (resource subjectaccessreviews, verb POST or create) counts as a review, not as a write.
func apiserverServed(samples []Sample) served {
	out := served{writes: Writes{}, dryRuns: Writes{}}
	for _, s := range samples {
		if s.Name != "apiserver_request_total" {
			continue
		}
		verb, res := s.Labels["verb"], s.Labels["resource"]
		if res == "subjectaccessreviews" && (verb == "POST" || verb == "create") {
			out.reviews += s.Value
			continue
		}
		if !writeVerbs[verb] {
			continue
		}
		key := res
		if sub := s.Labels["subresource"]; sub != "" {
			key += "/" + sub
		}
		if s.Labels["dry_run"] != "" {
			out.dryRuns[key] += s.Value
		} else {
			out.writes[key] += s.Value
		}
	}
	return out
}

// operatorResources are the resources the operator writes; the rest of the API server's
// writes (its own leases and endpoints) are left out of the per-token figures.
var operatorResources = map[string]bool{
	"personalaccesstokens": true, "personalaccesstokens/status": true,
	"serviceusers": true, "serviceusers/status": true,
	"secrets": true, "events": true,
	// Its status recount of every CredentialPolicy (written when a count changes).
	"credentialpolicies/status": true,
}

// onlyOperatorResources keeps the resources of operatorResources.
func onlyOperatorResources(w Writes) Writes {
	out := Writes{}
	for k, v := range w {
		if operatorResources[k] {
			out[k] = v
		}
	}
	return out
}

// apiRequests reads Kubernetes API paths as the API server does for the resource and
// subresource labels of apiserver_request_total, so that the bench's own writes are counted
// under the same names as the API server's figures they are subtracted from.
var apiRequests = &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}

// resourceOf tells which resource (and subresource) a Kubernetes API request addresses:
// "secrets", "personalaccesstokens/status", "namespaces/finalize"; "" when none.
func resourceOf(req *http.Request) string {
	info, err := apiRequests.NewRequestInfo(req)
	switch {
	case err != nil || !info.IsResourceRequest:
		return ""
	case info.Subresource != "":
		return info.Resource + "/" + info.Subresource
	default:
		return info.Resource
	}
}

// writeCounter counts the write requests a client sends, by resource, committed ones and
// server-side dry runs apart, so that the bench can subtract its own from the API server's
// figures.
type writeCounter struct {
	mu     sync.Mutex
	w, dry Writes
}

// snapshot returns the committed writes and the dry runs counted so far.
func (c *writeCounter) snapshot() (writes, dryRuns Writes) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.w), maps.Clone(c.dry)
}

type countingTransport struct {
	next http.RoundTripper
	c    *writeCounter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		t.c.mu.Lock()
		if t.c.w == nil {
			t.c.w, t.c.dry = Writes{}, Writes{}
		}
		if req.URL.Query().Get("dryRun") != "" {
			t.c.dry[resourceOf(req)]++
		} else {
			t.c.w[resourceOf(req)]++
		}
		t.c.mu.Unlock()
	}
	return t.next.RoundTrip(req)
}

// countWrites makes cfg count its write requests into c.
func countWrites(cfg *rest.Config, c *writeCounter) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, c: c} })
	return cfg
}

// textFormat is the exposition format the bench asks for: the Prometheus text format.
var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

// scrape fetches a Prometheus endpoint with hc and parses the samples keep accepts.
func scrape(ctx context.Context, hc *http.Client, url string, keep func(string) bool) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(textFormat))
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ParseText(resp.Body, expfmt.ResponseFormat(resp.Header), keep)
}

// named accepts the series names given.
func named(names ...string) func(string) bool {
	return func(n string) bool { return slices.Contains(names, n) }
}

// operatorStats are the manager's own figures, from its metrics endpoint.
type operatorStats struct {
	// Reconciles is controller_runtime_reconcile_total, every controller and result.
	Reconciles float64
	// Depth is workqueue_depth, every queue; Active is controller_runtime_active_workers.
	Depth, Active float64
	// Writes is rest_client_requests_total for POST, PUT, PATCH and DELETE: every write the
	// manager sent to the API server, whatever the resource.
	Writes float64
	// HeapInuse is go_memstats_heap_inuse_bytes.
	HeapInuse float64
	// ReconcileSeconds and DevinSeconds are the sums of the reconcile and Devin API request
	// durations; DevinRequests counts the latter.
	ReconcileSeconds, DevinSeconds, DevinRequests float64
	// CPU is process_cpu_seconds_total.
	CPU float64
}

func parseOperatorStats(samples []Sample) operatorStats {
	isWrite := func(l map[string]string) bool {
		switch l["method"] {
		case "POST", "PUT", "PATCH", "DELETE":
			return true
		}
		return false
	}
	return operatorStats{
		Reconciles: Sum(samples, "controller_runtime_reconcile_total", nil),
		Depth:      Sum(samples, "workqueue_depth", nil),
		Active:     Sum(samples, "controller_runtime_active_workers", nil),
		Writes:     Sum(samples, "rest_client_requests_total", isWrite),
		HeapInuse:  Sum(samples, "go_memstats_heap_inuse_bytes", nil),

		ReconcileSeconds: Sum(samples, "controller_runtime_reconcile_time_seconds_sum", nil),
		DevinSeconds:     Sum(samples, "devinapi_request_duration_seconds_sum", nil),
		DevinRequests:    Sum(samples, "devinapi_request_duration_seconds_count", nil),
		CPU:              Sum(samples, "process_cpu_seconds_total", nil),
	}
}

// operatorSeries are the series the bench reads from the manager (parseOperatorStats and
// the reconcile histogram).
var operatorSeries = []string{"controller_runtime_reconcile_total", "workqueue_depth",
	"controller_runtime_active_workers", "rest_client_requests_total", "go_memstats_heap_inuse_bytes",
	"controller_runtime_reconcile_time_seconds_sum", "controller_runtime_reconcile_time_seconds_bucket",
	"devinapi_request_duration_seconds_sum", "devinapi_request_duration_seconds_count", "process_cpu_seconds_total"}

// seriesURL is the metrics URL asking only for the families of the given series (promhttp's
// name[] filter), so that the manager does not encode the series of every resource several
// times a second for the bench.
func seriesURL(base string, series []string) string {
	q := url.Values{}
	seen := map[string]bool{}
	for _, s := range series {
		family := s
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f, ok := strings.CutSuffix(s, suffix); ok {
				family = f
				break
			}
		}
		if !seen[family] {
			seen[family] = true
			q.Add("name[]", family)
		}
	}
	return base + "?" + q.Encode()
}

// Calls maps a Devin API route pattern to a number of requests.
type Calls map[string]int

// Sub returns c - o, route by route, dropping zeroes.
func (c Calls) Sub(o Calls) Calls {
	out := Calls{}
	for k, v := range c {
		if d := v - o[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// Total is the number of requests over every route.
func (c Calls) Total() int {
	t := 0
	for _, v := range c {
		t += v
	}
	return t
}

// sortedKeys returns the keys of the maps (routes, resources), sorted, each once.
func sortedKeys[M ~map[string]V, V any](ms ...M) []string {
	all := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			all[k] = true
		}
	}
	return slices.Sorted(maps.Keys(all))
}
