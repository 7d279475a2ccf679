package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// invariantResult says whether the run was correct: every Ready resource's Secret holds the
// live upstream token its status names, and no live upstream token is owned by nobody.
type invariantResult struct {
	resources, ready int
	// holding: Ready resources whose Secret's token authenticates upstream as the token
	// status names (and as the right user or service user).
	holding    int
	liveTokens int
	// orphans are live upstream tokens that are neither a resource's current token nor one
	// waiting for its grace period.
	orphans  int
	problems []string
}

func (r invariantResult) holds() bool {
	return r.ready == r.resources && r.holding == r.ready && r.orphans == 0
}

// checkInvariant asks the Devin API which token each Secret holds (GET /v3/self with the
// Secret's value, latency faults off: this is not measured) and compares every live
// upstream token with the resources' status. Token values are never printed.
func checkInvariant(ctx context.Context, c *cluster) (invariantResult, error) {
	var res invariantResult
	objs, err := c.objects.list(ctx)
	if err != nil {
		return res, err
	}
	res.resources = len(objs)
	api := c.srv.Client()
	var mu sync.Mutex
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(res.problems) < 20 {
			res.problems = append(res.problems, redact(fmt.Sprintf(format, args...)))
		}
	}
	err = parallel(ctx, len(objs), 16, func(ctx context.Context, i int) error {
		obj := objs[i]
		if !isReady(obj) {
			problem("%s is not Ready", key(obj))
			return nil
		}
		mu.Lock()
		res.ready++
		mu.Unlock()
		st := obj.CredentialStatus()
		sec := &corev1.Secret{}
		if err := c.admin.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: st.SecretName}, sec); err != nil {
			problem("%s: Secret %s: %v", key(obj), st.SecretName, err)
			return nil
		}
		self, err := api.SelfWithToken(ctx, devinapi.NewToken(string(sec.Data[credential.SecretKey(obj.(credential.Object))])))
		if err != nil {
			problem("%s: the Secret's token does not authenticate: %v", key(obj), err)
			return nil
		}
		ok := self.APIKeyID == st.Token.ID && sec.Annotations[iamv1alpha1.TokenIDAnnotation] == st.Token.ID
		switch o := obj.(type) {
		case *iamv1alpha1.PersonalAccessToken:
			ok = ok && self.UserID == o.Status.UserID
		case *iamv1alpha1.ServiceUser:
			ok = ok && self.ServiceUserID == o.Status.ServiceUserID
		}
		if !ok {
			problem("%s: the Secret holds token %s, status names %s", key(obj), self.APIKeyID, st.Token.ID)
			return nil
		}
		mu.Lock()
		res.holding++
		mu.Unlock()
		return nil
	})
	if err != nil {
		return res, err
	}

	// Every live token must be known to the resource that owns it.
	knownPAT := map[string]bool{}            // token ID, for PATs (matched by the UID in the name)
	patUID := map[types.UID]bool{}           // UIDs of the PersonalAccessTokens
	knownKey := map[string]map[string]bool{} // service user ID -> key IDs
	for _, obj := range objs {
		st := obj.CredentialStatus()
		ids := map[string]bool{}
		if st.Token != nil {
			ids[st.Token.ID] = true
		}
		for _, p := range st.PendingRevocations {
			ids[p.ID] = true
		}
		switch o := obj.(type) {
		case *iamv1alpha1.PersonalAccessToken:
			patUID[o.UID] = true
			for id := range ids {
				knownPAT[id] = true
			}
		case *iamv1alpha1.ServiceUser:
			knownKey[o.Status.ServiceUserID] = ids
		}
	}
	for _, r := range c.srv.LiveTokens() {
		res.liveTokens++
		switch r.Kind {
		case "pat":
			owner := ""
			for uid := range patUID {
				if credential.OwnedBy(r.Name, uid) {
					owner = string(uid)
					break
				}
			}
			if owner == "" || !knownPAT[r.ID] {
				res.orphans++
				problem("live personal access token %s (%s) belongs to no resource", r.ID, r.Name)
			}
		default:
			if !knownKey[r.OwnerID][r.ID] {
				res.orphans++
				problem("live API key %s of service user %s belongs to no resource", r.ID, r.OwnerID)
			}
		}
	}
	sort.Strings(res.problems)
	return res, nil
}

// tokenPattern matches a Devin token value.
var tokenPattern = regexp.MustCompile(`cog_[A-Za-z0-9]+`)

// redact replaces anything that looks like a token value.
func redact(s string) string { return tokenPattern.ReplaceAllString(s, "cog_<redacted>") }

// logScan is the result of scanning the operator's logs for token values.
type logScan struct {
	files, lines, leaks int
}

// scanLogs counts the lines of the operator's logs that hold something like a token value.
func scanLogs(paths []string) (logScan, error) {
	var res logScan
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return res, err
		}
		res.files++
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" {
				continue
			}
			res.lines++
			if tokenPattern.MatchString(line) {
				res.leaks++
			}
		}
	}
	return res, nil
}
