package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devenv"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/devinapi/devinapitest"
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
	cpu      cpuTimes
}

// runFloor does, for every resource of the mix and at the operator's concurrency: create the
// resource, create its token upstream (CreatePAT, or ProvisionServiceUser whose answer holds
// the first key) through the real devinapi client against the same in-memory API with the
// same latency, create the Secret, and write the resource's status once. It runs before the
// operator starts, in the operator's own namespace (which the webhooks skip: the webhook
// server is the operator), and cleans up after itself out of band (not measured).
func runFloor(ctx context.Context, c *cluster, o options) (floorResult, error) {
	api := c.srv.Client(func(opts *devinapi.Options) { opts.Timeout = 30 * time.Second })
	userIDs := map[string]string{}
	for _, email := range patUsers {
		u, err := api.FindUserByEmail(ctx, email)
		if err != nil {
			return floorResult{}, fmt.Errorf("floor: look up %s: %w", email, err)
		}
		userIDs[email] = u.ID
	}
	ns := devenv.OperatorNamespace
	// Warm the client up (REST mappings, connections) outside the measurement.
	for _, l := range []client.ObjectList{&iamv1alpha1.PersonalAccessTokenList{}, &iamv1alpha1.ServiceUserList{}, &corev1.SecretList{}} {
		if err := c.admin.List(ctx, l, client.InNamespace(ns), client.Limit(1)); err != nil {
			return floorResult{}, fmt.Errorf("floor: warm up: %w", err)
		}
	}
	objs := benchObjects(o)
	tokenIDs := make([]string, len(objs))
	suIDs := make([]string, len(objs))

	before, err := c.snapshot(ctx)
	if err != nil {
		return floorResult{}, err
	}
	start := time.Now()
	err = parallel(ctx, len(objs), o.concurrency, func(ctx context.Context, i int) error {
		var obj credentialObject
		var issue func() (*devinapi.IssuedKey, error)
		name := "floor-" + objs[i].GetName()
		switch src := objs[i].(type) {
		case *iamv1alpha1.PersonalAccessToken:
			pat := newPAT(o, ns, name, i)
			pat.Spec.User = src.Spec.User
			obj = pat
			issue = func() (*devinapi.IssuedKey, error) {
				exp := time.Now().Add(2160 * time.Hour)
				return api.CreatePAT(ctx, userIDs[src.Spec.User.Email], devinapi.CreateKeyRequest{Name: name, ExpiresAt: &exp})
			}
		case *iamv1alpha1.ServiceUser:
			obj = newServiceUser(o, ns, name)
			issue = func() (*devinapi.IssuedKey, error) {
				p, err := api.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{
					Scope: devinapi.ScopeOrganization, OrgID: devinapitest.DefaultOrg, Name: name,
					RoleID: devinapitest.RoleOrgMember, TTL: 8760 * time.Hour,
				})
				if err != nil {
					return nil, err
				}
				suIDs[i] = p.ServiceUser.ID
				return &devinapi.IssuedKey{Name: name, Token: p.Token}, nil
			}
		}
		obj.SetLabels(map[string]string{floorLabel: "true"})
		if err := c.admin.Create(ctx, obj); err != nil {
			return fmt.Errorf("floor: create %s: %w", name, err)
		}
		key, err := issue()
		if err != nil {
			return fmt.Errorf("floor: issue %s: %w", name, err)
		}
		tokenIDs[i] = key.ID
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{floorLabel: "true"}},
			Data:       map[string][]byte{iamv1alpha1.DefaultSecretKey: []byte(key.Token.Reveal())},
		}
		if err := c.admin.Create(ctx, sec); err != nil {
			return fmt.Errorf("floor: create Secret %s: %w", name, err)
		}
		base := obj.DeepCopyObject().(client.Object)
		st := obj.CredentialStatus()
		now := metav1.Now()
		st.Token = &iamv1alpha1.IssuedToken{ID: key.ID, Name: key.Name, IssuedAt: now}
		st.SecretName = name
		st.Conditions = []metav1.Condition{{Type: iamv1alpha1.ConditionReady, Status: metav1.ConditionTrue,
			Reason: iamv1alpha1.ReasonTokenIssued, Message: "floor", LastTransitionTime: now, ObservedGeneration: obj.GetGeneration()}}
		if err := c.admin.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return fmt.Errorf("floor: write status of %s: %w", name, err)
		}
		return nil
	})
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
	res := floorResult{items: len(objs), duration: elapsed, calls: d.calls, cpu: d.cpu,
		writes: onlyOperatorResources(after.writes.Sub(before.writes))}

	// Clean up out of band, so that the invariant holds for the operator's run.
	for i, id := range tokenIDs {
		if suIDs[i] != "" {
			_ = c.srv.DeleteServiceUser(suIDs[i])
		} else if id != "" {
			_ = c.srv.RevokeKey(id)
		}
	}
	sel := client.MatchingLabels{floorLabel: "true"}
	for _, obj := range []client.Object{&iamv1alpha1.PersonalAccessToken{}, &iamv1alpha1.ServiceUser{}, &corev1.Secret{}} {
		if err := c.admin.DeleteAllOf(ctx, obj, client.InNamespace(ns), sel); err != nil {
			return res, fmt.Errorf("floor: clean up: %w", err)
		}
	}
	return res, nil
}
