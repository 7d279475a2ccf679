// Package audit checks the operator's promise over a whole cluster and the in-memory Devin
// API behind it: every resource is Ready, its Secret holds the live upstream token its
// status names, and no live upstream token or active service user belongs to no resource.
// The reliability suite checks it strictly after every scenario; the benchmark checks it
// with replaced tokens still in their grace period. Token values are never reported.
package audit

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// Mode says which live upstream tokens a resource may have.
type Mode int

const (
	// Strict allows exactly one live token per resource: the one status names (a settled
	// cluster, all grace periods over).
	Strict Mode = iota
	// Grace also allows the replaced tokens status lists as waiting for their grace period.
	Grace
)

// Upstream is the in-memory Devin API's own view of what is live.
type Upstream interface {
	LiveTokens() []devinapitest.TokenRecord
	ServiceUsers() []devinapi.ServiceUser
}

// Checker checks the promise. Kube reads resources and Secrets (around any cache); API asks
// the Devin API which principal a Secret's token is and lists service users' keys.
type Checker struct {
	Kube     client.Reader
	API      *devinapi.Client
	Upstream Upstream
	Mode     Mode
	// Parallel bounds the concurrent checks of Secrets; zero means 16.
	Parallel int
}

// Report is the outcome of a check.
type Report struct {
	// Resources counts the PersonalAccessTokens and ServiceUsers; Ready those that are.
	Resources, Ready int
	// Holding counts Ready resources whose Secret holds the token status names, live.
	Holding int
	// LiveTokens counts live upstream tokens; Orphans those that belong to no resource.
	LiveTokens, Orphans int
	// Problems says what is wrong, sorted; empty when the promise holds.
	Problems []string
}

// Holds reports whether the promise holds.
func (r Report) Holds() bool { return len(r.Problems) == 0 }

// resource is one PersonalAccessToken or ServiceUser, as the check sees it.
type resource struct {
	obj credential.Object
	// owner is whose tokens these are upstream: the resource's UID (PATs carry it in
	// their name) or the service user's ID.
	owner string
}

// Check checks every resource of the cluster and every live upstream token.
func (c *Checker) Check(ctx context.Context) (Report, error) {
	objs, err := c.resources(ctx)
	if err != nil {
		return Report{}, err
	}
	r := &report{Report: Report{Resources: len(objs)}}
	live := c.liveByOwner(r, objs)
	err = parallel(ctx, len(objs), c.Parallel, func(ctx context.Context, i int) {
		var own []devinapitest.TokenRecord
		if o := objs[i].owner; o != "" {
			own = live[o]
		}
		c.checkResource(ctx, r, objs[i], own)
	})
	if err != nil {
		return Report{}, err
	}
	c.checkOrphans(r, objs, live)
	sort.Strings(r.Problems)
	return r.Report, nil
}

// report collects the outcome of concurrent checks.
type report struct {
	mu sync.Mutex
	Report
}

func (r *report) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Problems = append(r.Problems, logging.Scrub(fmt.Sprintf(format, args...)))
}

func (r *report) count(n *int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*n++
}

func (c *Checker) resources(ctx context.Context) ([]resource, error) {
	pats := &iamv1alpha1.PersonalAccessTokenList{}
	sus := &iamv1alpha1.ServiceUserList{}
	if err := c.Kube.List(ctx, pats); err != nil {
		return nil, fmt.Errorf("list PersonalAccessTokens: %w", err)
	}
	if err := c.Kube.List(ctx, sus); err != nil {
		return nil, fmt.Errorf("list ServiceUsers: %w", err)
	}
	var out []resource
	for i := range pats.Items {
		out = append(out, resource{obj: &pats.Items[i], owner: string(pats.Items[i].UID)})
	}
	for i := range sus.Items {
		out = append(out, resource{obj: &sus.Items[i], owner: sus.Items[i].Status.ServiceUserID})
	}
	return out, nil
}

// liveByOwner sorts the live upstream tokens by owner; a live PAT whose name carries no
// resource's UID belongs to no resource.
func (c *Checker) liveByOwner(r *report, objs []resource) map[string][]devinapitest.TokenRecord {
	live := map[string][]devinapitest.TokenRecord{}
	for _, t := range c.Upstream.LiveTokens() {
		r.LiveTokens++
		owner := t.OwnerID
		if t.Kind == "pat" {
			owner = ""
			for _, o := range objs {
				if _, ok := o.obj.(*iamv1alpha1.PersonalAccessToken); ok && credential.OwnedBy(t.Name, types.UID(o.owner)) {
					owner = o.owner
				}
			}
		}
		live[owner] = append(live[owner], t)
	}
	return live
}

// checkResource checks one resource: Ready, its live upstream tokens those its status
// allows, and its Secret holding the current one.
func (c *Checker) checkResource(ctx context.Context, r *report, res resource, live []devinapitest.TokenRecord) {
	obj := res.obj
	name := fmt.Sprintf("%s %s/%s", kind(obj), obj.GetNamespace(), obj.GetName())
	st := obj.CredentialStatus()
	if !conditions.IsReady(st.Conditions, obj.GetGeneration()) || st.Token == nil || credential.IntentPending(obj) {
		r.problem("%s is not Ready with a token (conditions %v)", name, st.Conditions)
		return
	}
	r.count(&r.Ready)
	allowed := map[string]bool{st.Token.ID: true}
	if c.Mode == Grace {
		for _, p := range st.PendingRevocations {
			allowed[p.ID] = true
		}
	}
	current := false
	for _, t := range live {
		current = current || t.ID == st.Token.ID
		if !allowed[t.ID] {
			r.count(&r.Orphans)
			r.problem("%s: live upstream token %s is neither its current one (%s) nor waiting for its grace period", name, t.ID, st.Token.ID)
		}
	}
	if !current {
		r.problem("%s: its current token %s is not live upstream", name, st.Token.ID)
		return
	}
	if err := c.checkSecret(ctx, res); err != nil {
		r.problem("%s: %v", name, err)
		return
	}
	r.count(&r.Holding)
}

// checkSecret checks that the resource's Secret holds its current token: its annotations
// name it, and its value authenticates upstream as that token.
func (c *Checker) checkSecret(ctx context.Context, res resource) error {
	st := res.obj.CredentialStatus()
	sec := &corev1.Secret{}
	if err := c.Kube.Get(ctx, types.NamespacedName{Namespace: res.obj.GetNamespace(), Name: st.SecretName}, sec); err != nil {
		return fmt.Errorf("secret %s: %w", st.SecretName, err)
	}
	if id := sec.Annotations[iamv1alpha1.TokenIDAnnotation]; id != st.Token.ID {
		return fmt.Errorf("secret %s names token %s, status %s", st.SecretName, id, st.Token.ID)
	}
	id, err := c.tokenID(ctx, res, devinapi.NewToken(string(sec.Data[credential.SecretKey(res.obj)])))
	if err != nil {
		return fmt.Errorf("secret %s: %w", st.SecretName, err)
	}
	if id != st.Token.ID {
		return fmt.Errorf("secret %s holds token %s, status names %s", st.SecretName, id, st.Token.ID)
	}
	return nil
}

// tokenID asks the Devin API which token value is. A personal access token's /v3/self
// answer names it; a service user's names only the service user, so its key is the one
// whose last use that very call recorded, found in the service user's key listing.
func (c *Checker) tokenID(ctx context.Context, res resource, value devinapi.Token) (string, error) {
	before := time.Now().Truncate(time.Second)
	self, err := c.API.SelfWithToken(ctx, value)
	if err != nil {
		return "", fmt.Errorf("its token does not authenticate: %w", err)
	}
	switch o := res.obj.(type) {
	case *iamv1alpha1.PersonalAccessToken:
		if self.Kind != devinapi.PrincipalPATUser || self.UserID != o.Status.UserID {
			return "", fmt.Errorf("its token authenticates as %s %s, not as user %s", self.Kind, self.UserID, o.Status.UserID)
		}
		return self.APIKeyID, nil
	case *iamv1alpha1.ServiceUser:
		if self.Kind != devinapi.PrincipalServiceUser || self.ServiceUserID != o.Status.ServiceUserID {
			return "", fmt.Errorf("its token authenticates as %s %s, not as service user %s", self.Kind, self.ServiceUserID, o.Status.ServiceUserID)
		}
		return c.lastUsedKey(ctx, o.Status.ServiceUserID, before)
	}
	return "", fmt.Errorf("unknown kind %T", res.obj)
}

// lastUsedKey is the active key of the service user used most recently, at or after since;
// two keys used in that same second cannot be told apart.
func (c *Checker) lastUsedKey(ctx context.Context, serviceUserID string, since time.Time) (string, error) {
	keys, err := c.API.ListServiceUserAPIKeys(ctx, serviceUserID, devinapi.KeyStatusActive)
	if err != nil {
		return "", fmt.Errorf("list the keys of service user %s: %w", serviceUserID, err)
	}
	var found string
	var latest time.Time
	ambiguous := false
	for _, k := range keys {
		if k.LastUsedAt == nil || k.LastUsedAt.Before(since) {
			continue
		}
		switch {
		case k.LastUsedAt.After(latest):
			found, latest, ambiguous = k.ID, *k.LastUsedAt, false
		case k.LastUsedAt.Equal(latest):
			ambiguous = true
		}
	}
	switch {
	case found == "":
		return "", fmt.Errorf("no key of service user %s records the use just made", serviceUserID)
	case ambiguous:
		return "", fmt.Errorf("two keys of service user %s were used in the same second", serviceUserID)
	}
	return found, nil
}

// checkOrphans reports live tokens and active service users that belong to no resource.
func (c *Checker) checkOrphans(r *report, objs []resource, live map[string][]devinapitest.TokenRecord) {
	owned := map[string]bool{}
	for _, o := range objs {
		if o.owner != "" {
			owned[o.owner] = true
		}
	}
	for owner, tokens := range live {
		if owned[owner] {
			continue
		}
		for _, t := range tokens {
			r.Orphans++
			r.problem("live upstream token %s (%s %q of %s) belongs to no resource", t.ID, t.Kind, t.Name, t.OwnerID)
		}
	}
	for _, su := range c.Upstream.ServiceUsers() {
		if su.IsActive && !owned[su.ID] {
			r.problem("active service user %s (%s) belongs to no resource", su.ID, su.Name)
		}
	}
}

func kind(obj credential.Object) string {
	if _, ok := obj.(*iamv1alpha1.ServiceUser); ok {
		return "ServiceUser"
	}
	return "PersonalAccessToken"
}

// parallel runs f for 0..n-1 with at most limit at a time.
func parallel(ctx context.Context, n, limit int, f func(context.Context, int)) error {
	if limit <= 0 {
		limit = 16
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		if err := ctx.Err(); err != nil {
			wg.Wait()
			return err
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(ctx, i)
		}()
	}
	wg.Wait()
	return ctx.Err()
}
