package policy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// sarServer answers SubjectAccessReviews like an RBAC authorizer with one grant table, and
// counts and keeps them.
type sarServer struct {
	mu      sync.Mutex
	grants  map[string]bool // "user namespace verb policy"
	fail    error
	reviews []authorizationv1.SubjectAccessReviewSpec
}

func (s *sarServer) client() client.Client {
	return fake.NewClientBuilder().WithScheme(runtime.NewScheme()).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			sar, ok := obj.(*authorizationv1.SubjectAccessReview)
			if !ok {
				return errors.New("unexpected create")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.reviews = append(s.reviews, sar.Spec)
			if s.fail != nil {
				return s.fail
			}
			a := sar.Spec.ResourceAttributes
			sar.Status.Allowed = s.grants[sar.Spec.User+" "+a.Namespace+" "+a.Verb+" "+a.Name]
			return nil
		},
	}).Build()
}

func (s *sarServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reviews)
}

func TestSubjectAccessReviewerAsksAndCaches(t *testing.T) {
	server := &sarServer{grants: map[string]bool{"alice team-a use team-a": true}}
	clk := clocktesting.NewFakeClock(time.Now())
	reviewer := NewSubjectAccessReviewer(server.client(), SAROptions{Clock: clk})
	who := Requester{User: "alice", Groups: []string{"b", "a"}, UID: "u-1", Extra: map[string][]string{"scopes": {"x"}}, Email: "alice@example.com"}
	ctx := context.Background()
	ask := func(auth Authorizer, verb string) bool {
		t.Helper()
		ok, err := auth.Can(ctx, verb, "team-a")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	auth := reviewer.For(who, "team-a")
	if !ask(auth, iamv1alpha1.PolicyVerbUse) || ask(auth, iamv1alpha1.PolicyVerbDelegate) {
		t.Fatal("answers do not follow the grants")
	}
	got := server.reviews[0]
	attrs := authorizationv1.ResourceAttributes{Namespace: "team-a", Verb: "use", Group: "iam.devin.ai", Resource: "credentialpolicies", Name: "team-a"}
	if got.User != "alice" || got.UID != "u-1" || len(got.Groups) != 2 || got.Extra["scopes"][0] != "x" || *got.ResourceAttributes != attrs {
		t.Errorf("review %+v, attributes %+v", got, *got.ResourceAttributes)
	}
	// Within the TTL, the same question (groups in another order) is answered from the cache.
	clk.Step(DefaultSARCacheTTL - time.Second)
	reordered := who
	reordered.Groups = []string{"a", "b"}
	if !ask(reviewer.For(reordered, "team-a"), "use") || server.count() != 2 {
		t.Errorf("%d reviews, want 2 (cached)", server.count())
	}
	// Another namespace, user or group is another question.
	ask(reviewer.For(who, "team-b"), "use")
	other := who
	other.Groups = []string{"a"}
	ask(reviewer.For(other, "team-a"), "use")
	if server.count() != 4 {
		t.Errorf("%d reviews, want 4", server.count())
	}
	// After the TTL, asked again.
	clk.Step(2 * time.Second)
	ask(auth, "use")
	if server.count() != 5 {
		t.Errorf("%d reviews, want 5 (expired)", server.count())
	}
}

func TestSubjectAccessReviewerDoesNotCacheErrors(t *testing.T) {
	server := &sarServer{grants: map[string]bool{"alice ns use p": true}, fail: errors.New("connection refused")}
	auth := NewSubjectAccessReviewer(server.client(), SAROptions{TTL: time.Minute, MaxEntries: 2}).For(Requester{User: "alice"}, "ns")
	if _, err := auth.Can(context.Background(), "use", "p"); err == nil {
		t.Fatal("no error from a failing API server")
	}
	server.fail = nil
	if ok, err := auth.Can(context.Background(), "use", "p"); !ok || err != nil || server.count() != 2 {
		t.Errorf("Can = %v, %v after %d reviews: the error was cached", ok, err, server.count())
	}
}

func TestDecideWithSubjectAccessReviews(t *testing.T) {
	server := &sarServer{grants: map[string]bool{"oidc:alice@example.com team-a use team-a": true}}
	reviewer := NewSubjectAccessReviewer(server.client(), SAROptions{})
	policies := []iamv1alpha1.CredentialPolicy{policyFor("team-a", "team-a", serviceUsers("Member")), policyFor("team-b", "team-b", serviceUsers("Member"))}
	for range 3 {
		if d := Decide(context.Background(), serviceUser(), policies, reviewer.For(alice, "team-a")); !d.Allowed {
			t.Fatal(d.Message)
		}
	}
	if server.count() != 1 {
		t.Errorf("%d reviews for three admissions, want 1", server.count())
	}
}
