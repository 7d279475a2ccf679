package metrics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cogtokens/token-operator/internal/ttlcache"
)

// Verdicts are kept this long per token, path and verb, so that a scrape every 15 s costs a
// TokenReview and a SubjectAccessReview a minute, not two per scrape; a refusal is kept less
// long, so that a binding just granted works soon.
const (
	accessAllowedTTL = time.Minute
	accessDeniedTTL  = 10 * time.Second
	accessCacheSize  = 256
	reviewTimeout    = 10 * time.Second
)

// AccessFilter is the metrics server's filter: a request passes only when the API server
// authenticates its bearer token (TokenReview) and authorizes that user to get the path
// (SubjectAccessReview of a non-resource URL), as kube-rbac-proxy and controller-runtime's
// own filter do. It is written here on client-go alone: controller-runtime's links the API
// server's authentication and authorization libraries (CEL, OpenTelemetry, gRPC), which this
// process otherwise does not need, and which cost its memory. The token is never kept, only
// its SHA-256.
func AccessFilter(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient})
	if err != nil {
		return nil, err
	}
	a := &access{reviews: c, allowed: ttlcache.New[bool](accessAllowedTTL, accessCacheSize, clock.RealClock{}),
		denied: ttlcache.New[string](accessDeniedTTL, accessCacheSize, clock.RealClock{})}
	return a.filter, nil
}

// access decides who may read the metrics; reviews creates TokenReviews and
// SubjectAccessReviews.
type access struct {
	reviews client.Writer
	allowed *ttlcache.Cache[bool]
	denied  *ttlcache.Cache[string] // why, by key
}

func (a *access) filter(log logr.Logger, next http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearer(r)
		if !ok {
			http.Error(w, "Unauthorized: a bearer token is required", http.StatusUnauthorized)
			return
		}
		verb := strings.ToLower(r.Method)
		sum := sha256.Sum256([]byte(token))
		key := hex.EncodeToString(sum[:]) + " " + verb + " " + r.URL.Path
		if _, ok := a.allowed.Get(key); ok {
			next.ServeHTTP(w, r)
			return
		}
		if why, ok := a.denied.Get(key); ok {
			http.Error(w, why, statusOf(why))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), reviewTimeout)
		defer cancel()
		why, err := a.review(ctx, token, verb, r.URL.Path)
		switch {
		case err != nil:
			log.Error(err, "cannot review a metrics request")
			http.Error(w, "cannot review the request's credentials now", http.StatusInternalServerError)
		case why != "":
			a.denied.Set(key, why)
			http.Error(w, why, statusOf(why))
		default:
			a.allowed.Set(key, true)
			next.ServeHTTP(w, r)
		}
	}), nil
}

// review asks the API server who the token is and whether they may verb path; why is empty
// when they may, else the refusal ("Unauthorized: ..." or "Forbidden: ...").
func (a *access) review(ctx context.Context, token, verb, path string) (why string, _ error) {
	tr := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if err := a.reviews.Create(ctx, tr); err != nil {
		return "", err
	}
	if !tr.Status.Authenticated {
		return "Unauthorized: the API server does not accept this token", nil
	}
	u := tr.Status.User
	extra := make(map[string]authorizationv1.ExtraValue, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: u.Username, UID: u.UID, Groups: u.Groups, Extra: extra,
		NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
	}}
	if err := a.reviews.Create(ctx, sar); err != nil {
		return "", err
	}
	if !sar.Status.Allowed {
		return "Forbidden: " + u.Username + " may not " + verb + " " + path, nil
	}
	return "", nil
}

// bearer is the request's bearer token.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func statusOf(why string) int {
	if strings.HasPrefix(why, "Unauthorized") {
		return http.StatusUnauthorized
	}
	return http.StatusForbidden
}
