package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/version"
)

// parseSecretRef reads --credentials-secret, NAMESPACE/NAME.
func parseSecretRef(s string) (types.NamespacedName, error) {
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return types.NamespacedName{}, fmt.Errorf("--credentials-secret %q: want NAMESPACE/NAME, e.g. token-operator-system/token-operator-credentials", s)
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}

// readCredential reads the operator's Devin API credential from its Secret, with the
// user's own RBAC.
func (s *session) readCredential(ctx context.Context, ref types.NamespacedName, key string) (devinapi.Token, error) {
	sec := &corev1.Secret{}
	err := s.client.Get(ctx, ref, sec)
	switch {
	case apierrors.IsForbidden(err):
		return devinapi.Token{}, fmt.Errorf("you may not read the Secret %s, the operator's Devin API credential: inventory calls the "+
			"Devin API with it and reads it with your own RBAC, so only who may get that Secret (normally a cluster admin) can run "+
			"inventory: ask for get on secrets/%s in namespace %s; if the operator reads another Secret, pass "+
			"--credentials-secret NAMESPACE/NAME and --credentials-key", ref, ref.Name, ref.Namespace)
	case apierrors.IsNotFound(err):
		return devinapi.Token{}, fmt.Errorf("no Secret %s: pass the operator's credentials Secret as --credentials-secret NAMESPACE/NAME "+
			"(its --credentials-secret-namespace and --credentials-secret-name)", ref)
	case err != nil:
		return devinapi.Token{}, fmt.Errorf("read the Secret %s: %w", ref, err)
	}
	value := strings.TrimSpace(string(sec.Data[key]))
	if value == "" {
		return devinapi.Token{}, fmt.Errorf("the Secret %s has no key %q: pass the key that holds the credential as --credentials-key "+
			"(the operator's --credentials-secret-key)", ref, key)
	}
	return devinapi.NewToken(value), nil
}

// clusterID is --cluster-id, or the identity the operator derives from the UID of the
// kube-system namespace.
func (s *session) clusterID(ctx context.Context, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	ns := &corev1.Namespace{}
	err := s.client.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns)
	if apierrors.IsForbidden(err) {
		return "", errors.New("you may not read the kube-system namespace, from whose UID the cluster ID in upstream names is derived: " +
			"ask for get on namespaces/kube-system, or pass --cluster-id (the operator's, when it runs with one)")
	}
	if err != nil {
		return "", fmt.Errorf("read the kube-system namespace to derive the cluster ID (or pass --cluster-id): %w", err)
	}
	return credential.ClusterID(string(ns.UID)), nil
}

// credentials lists every PersonalAccessToken and ServiceUser of the cluster.
func (s *session) credentials(ctx context.Context) ([]credentialObject, error) {
	var out []credentialObject
	pats := &iamv1alpha1.PersonalAccessTokenList{}
	sus := &iamv1alpha1.ServiceUserList{}
	for _, l := range []struct {
		list client.ObjectList
		kind string
	}{{pats, kindPAT}, {sus, kindSU}} {
		err := s.client.List(ctx, l.list)
		if apierrors.IsForbidden(err) {
			return nil, fmt.Errorf("you may not list %s in all namespaces: inventory needs list on personalaccesstokens and "+
				"serviceusers (iam.devin.ai) cluster-wide", plural(l.kind))
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", plural(l.kind), err)
		}
	}
	for i := range pats.Items {
		out = append(out, &pats.Items[i])
	}
	for i := range sus.Items {
		out = append(out, &sus.Items[i])
	}
	return out, nil
}

// countingTransport counts the requests sent to the Devin API.
type countingTransport struct {
	next http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// newDevinClient is a client of the Devin API authenticated with tok, whose requests are
// counted; like the operator's, it follows no redirect.
func newDevinClient(apiURL string, tok devinapi.Token) (*devinapi.Client, *countingTransport, error) {
	counter := &countingTransport{next: http.DefaultTransport}
	api, err := devinapi.New(devinapi.Options{
		BaseURL:     apiURL,
		Credentials: devinapi.StaticToken(tok),
		HTTPClient: &http.Client{Transport: counter, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		QPS:       5,
		Burst:     5,
		UserAgent: "kubectl-devin/" + version.Version,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create the Devin API client: %w", err)
	}
	return api, counter, nil
}

// readUpstream lists, with read-only calls, the active service users, the API keys of each
// one of this cluster, and the personal access tokens of each user a PersonalAccessToken
// names. A user whose tokens cannot be listed is told on stderr and left out.
func readUpstream(ctx context.Context, api *devinapi.Client, cluster string, objs []credentialObject, stderr io.Writer) (*upstream, error) {
	up := &upstream{keys: map[string][]devinapi.APIKey{}, pats: map[string][]devinapi.APIKey{}}
	var err error
	if up.serviceUsers, err = api.ListServiceUsers(ctx, false); err != nil {
		return nil, devinError("list the service users", err)
	}
	ix := newResourceIndex(cluster, objs)
	for _, u := range up.serviceUsers {
		if _, ours := ix.serviceUser(u); !ours {
			continue
		}
		if up.keys[u.ID], err = api.ListServiceUserAPIKeys(ctx, u.ID, devinapi.KeyStatusActive); err != nil {
			return nil, devinError("list the API keys of service user "+u.ID, err)
		}
	}
	for _, user := range patUsers(objs) {
		keys, err := api.ListPATs(ctx, user, devinapi.KeyStatusActive)
		switch {
		case errors.Is(err, devinapi.ErrPATAPIUnavailable):
			fmt.Fprintln(stderr, "The Devin API has no personal access token listing: personal access tokens are left out.")
			return up, nil
		case errors.Is(err, devinapi.ErrNotFound):
			up.pats[user] = nil // the user is gone, and their tokens with them
		case errors.Is(err, devinapi.ErrForbidden):
			fmt.Fprintf(stderr, "The personal access tokens of user %s cannot be listed, and are left out: %s\n", user, logging.Scrub(err.Error()))
		case err != nil:
			return nil, devinError("list the personal access tokens of user "+user, err)
		default:
			up.pats[user] = keys
		}
	}
	return up, nil
}

// patUsers are the upstream user IDs the PersonalAccessTokens' status records.
func patUsers(objs []credentialObject) []string {
	seen := map[string]bool{}
	for _, o := range objs {
		if p, ok := o.(*iamv1alpha1.PersonalAccessToken); ok && p.Status.UserID != "" {
			seen[p.Status.UserID] = true
		}
	}
	return sortedKeys(seen)
}

// devinError says what failed, and what to check when the credential was refused.
func devinError(what string, err error) error {
	if errors.Is(err, devinapi.ErrUnauthorized) || errors.Is(err, devinapi.ErrForbidden) {
		return fmt.Errorf("%s: the Devin API refused the operator's credential: check --credentials-secret, --credentials-key "+
			"and --devin-api-url against the operator's flags (%w)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
