// Phase floor measures the least work that gives N resources their tokens, done by a plain Go
// program with no operator: the yardstick of the throughput and cost figures.

package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// floorLabel marks what the floor creates, for the clean-up.
const floorLabel = "bench.iam.devin.ai/floor"

// floorResult is the floor: the least work that gives N resources their tokens, done by a
// plain Go program with no operator.
type floorResult struct {
	items    int
	duration time.Duration
	calls    Calls
	writes   Writes
	// dryRuns and reviews are what the API server served the floor besides its writes: none
	// (no webhook, no dry run), measured all the same.
	dryRuns Writes
	reviews float64
	cpu     cpuTimes
}

// floorRun is the state of one floor run: the API client, the users' IDs, and what it
// created upstream (for the clean-up).
type floorRun struct {
	c        *cluster
	o        options
	api      *devinapi.Client
	userIDs  map[string]string
	objs     []credential.Object
	tokenIDs []string
	suIDs    []string
}

// runFloor does, for every resource of the mix and at the operator's concurrency: create the
// resource, create its token upstream (CreatePAT, or ProvisionServiceUser whose answer holds
// the first key) through the real devinapi client against the same in-memory API with the
// same latency, create the Secret, and write the resource's status once. It runs before the
// operator starts, in the operator's own namespace (which the webhooks skip: the webhook
// server is the operator), and cleans up after itself out of band (not measured).
func runFloor(ctx context.Context, c *cluster, o options) (floorResult, error) {
	f, err := newFloorRun(ctx, c, o)
	if err != nil {
		return floorResult{}, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		return floorResult{}, err
	}
	start := time.Now()
	err = parallel(ctx, len(f.objs), o.concurrency, f.one)
	elapsed := time.Since(start)
	if err != nil {
		return floorResult{}, err
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return floorResult{}, err
	}
	d := before.to(after)
	// The floor's writes are the bench's own: count them all.
	res := floorResult{items: len(f.objs), duration: elapsed, calls: d.calls, cpu: d.cpu,
		writes:  onlyOperatorResources(after.served.writes.Sub(before.served.writes)),
		dryRuns: onlyOperatorResources(after.served.dryRuns.Sub(before.served.dryRuns)),
		reviews: after.served.reviews - before.served.reviews}
	return res, f.cleanUp(ctx)
}

func newFloorRun(ctx context.Context, c *cluster, o options) (*floorRun, error) {
	f := &floorRun{c: c, o: o, userIDs: map[string]string{}, objs: benchObjects(o),
		api: c.srv.Client(func(opts *devinapi.Options) { opts.Timeout = 30 * time.Second })}
	f.tokenIDs, f.suIDs = make([]string, len(f.objs)), make([]string, len(f.objs))
	for _, email := range patUsers {
		u, err := f.api.FindUserByEmail(ctx, email)
		if err != nil {
			return nil, fmt.Errorf("floor: look up %s: %w", email, err)
		}
		f.userIDs[email] = u.ID
	}
	// Warm the client up (REST mappings, connections) outside the measurement.
	for _, l := range []client.ObjectList{&iamv1alpha1.PersonalAccessTokenList{}, &iamv1alpha1.ServiceUserList{}, &corev1.SecretList{}} {
		if err := c.admin.List(ctx, l, client.InNamespace(devenv.OperatorNamespace), client.Limit(1)); err != nil {
			return nil, fmt.Errorf("floor: warm up: %w", err)
		}
	}
	return f, nil
}

// one gives the i-th resource its token: create it, issue upstream, Secret, status.
func (f *floorRun) one(ctx context.Context, i int) error {
	ns, name := devenv.OperatorNamespace, "floor-"+f.objs[i].GetName()
	obj, issue := f.item(ctx, ns, name, i)
	obj.SetLabels(map[string]string{floorLabel: "true"})
	if err := f.c.admin.Create(ctx, obj); err != nil {
		return fmt.Errorf("floor: create %s: %w", name, err)
	}
	key, err := issue()
	if err != nil {
		return fmt.Errorf("floor: issue %s: %w", name, err)
	}
	f.tokenIDs[i] = key.ID
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{floorLabel: "true"}},
		Data:       map[string][]byte{iamv1alpha1.DefaultSecretKey: []byte(key.Token.Reveal())},
	}
	if err := f.c.admin.Create(ctx, sec); err != nil {
		return fmt.Errorf("floor: create Secret %s: %w", name, err)
	}
	base := obj.DeepCopyObject().(client.Object)
	st := obj.CredentialStatus()
	st.Token = &iamv1alpha1.IssuedToken{ID: key.ID, Name: key.Name, IssuedAt: metav1.Now()}
	st.SecretName = name
	conditions.Ready(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ReasonTokenIssued, "floor")
	if err := f.c.admin.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("floor: write status of %s: %w", name, err)
	}
	return nil
}

// item is the floor's copy of the i-th resource and the upstream call that issues its token.
func (f *floorRun) item(ctx context.Context, ns, name string, i int) (credential.Object, func() (*devinapi.IssuedKey, error)) {
	src, ok := f.objs[i].(*iamv1alpha1.PersonalAccessToken)
	if ok {
		pat := newPAT(f.o, ns, name, i)
		pat.Spec.User = src.Spec.User
		return pat, func() (*devinapi.IssuedKey, error) {
			exp := time.Now().Add(iamv1alpha1.DefaultExpiresAfter)
			return f.api.CreatePAT(ctx, f.userIDs[src.Spec.User.Email], devinapi.CreateKeyRequest{Name: name, ExpiresAt: &exp})
		}
	}
	return newServiceUser(f.o, ns, name), func() (*devinapi.IssuedKey, error) {
		p, err := f.api.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{
			Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg, Name: name,
			RoleID: devinapitest.RoleOrgMember, TTL: iamv1alpha1.DefaultServiceUserTTL,
		})
		if err != nil {
			return nil, err
		}
		f.suIDs[i] = p.ServiceUser.ID
		return &devinapi.IssuedKey{Name: name, Token: p.Token}, nil
	}
}

// cleanUp removes what the floor made, out of band, so that the invariant holds for the
// operator's run.
func (f *floorRun) cleanUp(ctx context.Context) error {
	for i, id := range f.tokenIDs {
		if f.suIDs[i] != "" {
			_ = f.c.srv.DeleteServiceUser(f.suIDs[i])
		} else if id != "" {
			_ = f.c.srv.RevokeKey(id)
		}
	}
	sel := client.MatchingLabels{floorLabel: "true"}
	for _, obj := range []client.Object{&iamv1alpha1.PersonalAccessToken{}, &iamv1alpha1.ServiceUser{}, &corev1.Secret{}} {
		if err := f.c.admin.DeleteAllOf(ctx, obj, client.InNamespace(devenv.OperatorNamespace), sel); err != nil {
			return fmt.Errorf("floor: clean up: %w", err)
		}
	}
	return nil
}
