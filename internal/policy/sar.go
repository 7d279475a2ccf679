package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/ttlcache"
)

const (
	// DefaultSARCacheTTL is how long a SubjectAccessReview's answer is reused: a revoked
	// RoleBinding takes at most this long to bite.
	DefaultSARCacheTTL = 10 * time.Second
	// DefaultSARCacheSize bounds the number of cached answers.
	DefaultSARCacheSize = 4096

	// policyResource is the resource of CredentialPolicies in SubjectAccessReviews.
	policyResource = "credentialpolicies"
)

// SAROptions configure a SubjectAccessReviewer; zero values take the defaults.
type SAROptions struct {
	// TTL of a cached answer. Default: DefaultSARCacheTTL.
	TTL time.Duration
	// MaxEntries bounds the cache. Default: DefaultSARCacheSize.
	MaxEntries int
	// Clock for the cache. Default: the real clock.
	Clock clock.PassiveClock
}

// SubjectAccessReviewer answers Authorizer questions with SubjectAccessReviews created
// through a controller-runtime client (the operator needs `create` on
// authorization.k8s.io/subjectaccessreviews), and caches answers briefly, keyed by the whole
// identity, namespace, verb and policy. Errors are not cached. Safe for concurrent use.
type SubjectAccessReviewer struct {
	client client.Client
	cache  *ttlcache.Cache[bool]
}

// NewSubjectAccessReviewer returns a SubjectAccessReviewer that creates reviews with c.
func NewSubjectAccessReviewer(c client.Client, opts SAROptions) *SubjectAccessReviewer {
	if opts.TTL <= 0 {
		opts.TTL = DefaultSARCacheTTL
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultSARCacheSize
	}
	return &SubjectAccessReviewer{client: c, cache: ttlcache.New[bool](opts.TTL, opts.MaxEntries, opts.Clock)}
}

// For returns the Authorizer of one requester in one namespace: the reviews ask about
// credentialpolicies/<name> in that namespace, so that RoleBindings there can grant `use`.
func (r *SubjectAccessReviewer) For(who Requester, namespace string) Authorizer {
	return &sarAuthorizer{reviewer: r, who: who, namespace: namespace}
}

type sarAuthorizer struct {
	reviewer  *SubjectAccessReviewer
	who       Requester
	namespace string
}

// Can answers from the cache or from a new SubjectAccessReview.
func (a *sarAuthorizer) Can(ctx context.Context, verb, policyName string) (bool, error) {
	return a.reviewer.cache.GetOrFetch(ctx, a.key(verb, policyName), func(ctx context.Context) (bool, error) {
		return a.review(ctx, verb, policyName)
	})
}

func (a *sarAuthorizer) review(ctx context.Context, verb, policyName string) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   a.who.User,
		Groups: a.who.Groups,
		UID:    a.who.UID,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: a.namespace,
			Verb:      verb,
			Group:     iamv1alpha1.GroupVersion.Group,
			Resource:  policyResource,
			Name:      policyName,
		},
	}}
	if len(a.who.Extra) > 0 {
		sar.Spec.Extra = make(map[string]authorizationv1.ExtraValue, len(a.who.Extra))
		for k, v := range a.who.Extra {
			sar.Spec.Extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	if err := a.reviewer.client.Create(ctx, sar); err != nil {
		return false, fmt.Errorf("create SubjectAccessReview: %w", err)
	}
	return sar.Status.Allowed && !sar.Status.Denied, nil
}

// key identifies the question: user, UID, groups (in any order), extra, namespace, verb and
// policy, hashed to bound its size.
func (a *sarAuthorizer) key(verb, policyName string) string {
	groups := slices.Clone(a.who.Groups)
	slices.Sort(groups)
	// Strings, string slices and a map of them: Marshal cannot fail.
	raw, _ := json.Marshal([]any{a.who.User, a.who.UID, groups, a.who.Extra, a.namespace, verb, policyName})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
