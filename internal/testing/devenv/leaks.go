package devenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

// tokenPattern is what a token value looks like.
var tokenPattern = tokenpattern.Regexp

// masked is s with every token value replaced (as the operator's logger does): a report of a
// leak must not leak it again.
func masked(s string) string { return logging.Scrub(s) }

// FindTokens looks for token values where none may be: every line of logs, every event,
// the metadata and status of every PersonalAccessToken, ServiceUser and Secret (Secret data
// is where tokens belong), and the output of the process's metrics registry. It returns
// where it found them (values masked); it also reports a scan that could prove nothing (no
// Secret holds a token, no operator metric was gathered).
func FindTokens(ctx context.Context, c client.Client, logs string) []string {
	var leaks []string
	for _, line := range strings.Split(logs, "\n") {
		if tokenPattern.MatchString(line) {
			leaks = append(leaks, "log: "+masked(line))
		}
	}
	leaks = append(leaks, eventLeaks(ctx, c)...)
	leaks = append(leaks, objectLeaks(ctx, c)...)
	return append(leaks, metricsLeaks()...)
}

func eventLeaks(ctx context.Context, c client.Client) []string {
	evs := &eventsv1.EventList{}
	if err := c.List(ctx, evs); err != nil {
		return []string{"cannot list events: " + err.Error()}
	}
	var leaks []string
	for _, ev := range evs.Items {
		if tokenPattern.MatchString(ev.Note + ev.Reason) {
			leaks = append(leaks, "event: "+masked(ev.Note+" ("+ev.Reason+")"))
		}
	}
	return leaks
}

// objectLeaks scans the resources' metadata and status and the Secrets' metadata; it
// also checks that some Secret does hold a token, or the scan would prove nothing.
func objectLeaks(ctx context.Context, c client.Client) []string {
	var leaks []string
	pats := &iamv1alpha1.PersonalAccessTokenList{}
	sus := &iamv1alpha1.ServiceUserList{}
	secs := &corev1.SecretList{}
	accts, cluster := &iamv1alpha1.DevinAccountList{}, &iamv1alpha1.ClusterDevinAccountList{}
	for _, l := range []client.ObjectList{pats, sus, secs, accts, cluster} {
		if err := c.List(ctx, l); err != nil {
			leaks = append(leaks, "cannot list: "+err.Error())
		}
	}
	for _, p := range pats.Items {
		if tokenPattern.MatchString(fmt.Sprintf("%v %v", p.ObjectMeta, p.Status)) {
			leaks = append(leaks, "PersonalAccessToken "+p.Namespace+"/"+p.Name)
		}
	}
	for _, s := range sus.Items {
		if tokenPattern.MatchString(fmt.Sprintf("%v %v", s.ObjectMeta, s.Status)) {
			leaks = append(leaks, "ServiceUser "+s.Namespace+"/"+s.Name)
		}
	}
	for _, a := range accts.Items {
		if tokenPattern.MatchString(fmt.Sprintf("%v %v", a.ObjectMeta, a.Status)) {
			leaks = append(leaks, "DevinAccount "+a.Namespace+"/"+a.Name)
		}
	}
	for _, a := range cluster.Items {
		if tokenPattern.MatchString(fmt.Sprintf("%v %v", a.ObjectMeta, a.Status)) {
			leaks = append(leaks, "ClusterDevinAccount "+a.Name)
		}
	}
	holdsToken := false
	for _, s := range secs.Items {
		if tokenPattern.MatchString(fmt.Sprintf("%v", s.ObjectMeta)) {
			leaks = append(leaks, "Secret metadata "+s.Namespace+"/"+s.Name)
		}
		for _, v := range s.Data {
			holdsToken = holdsToken || tokenPattern.Match(v)
		}
	}
	if !holdsToken {
		leaks = append(leaks, "no Secret holds a token: the scan proves nothing")
	}
	return leaks
}

func metricsLeaks() []string {
	var leaks []string
	families, err := metrics.Registry.Gather()
	if err != nil {
		leaks = append(leaks, "cannot gather metrics: "+err.Error())
	}
	var out bytes.Buffer
	enc := expfmt.NewEncoder(&out, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		_ = enc.Encode(f)
	}
	if tokenPattern.Match(out.Bytes()) {
		leaks = append(leaks, "metrics output")
	}
	if !strings.Contains(out.String(), "devinapi_requests_total") {
		leaks = append(leaks, "no Devin API metric was gathered: the metrics scan proves nothing")
	}
	return leaks
}

// LogBuffer collects log output from many goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Fingerprints maps each key of a Secret's data to a SHA-256 of its value, for tests that
// compare or show Secret contents: a failed assertion prints fingerprints, never a token.
func Fingerprints(data map[string][]byte) map[string]string {
	out := make(map[string]string, len(data))
	for k, v := range data {
		sum := sha256.Sum256(v)
		out[k] = hex.EncodeToString(sum[:8])
	}
	return out
}
