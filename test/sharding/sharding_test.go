// Package sharding proves that operators sharded by label (--watch-label-selector, as Flux
// shards its controllers) split the resources between them: two managers on one control
// plane, behind one webhook endpoint, against one in-memory Devin API, each resource
// reconciled (written to, minted for, revoked) by exactly the shard its label names, the
// admission records of either webhook honoured by both, and the CredentialPolicy count kept
// by one shard over every shard's resources.
package sharding

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
)

const (
	timeout  = 60 * time.Second
	interval = 100 * time.Millisecond
	shardKey = "sharding.fluxcd.io/key"
)

var (
	env *devenv.Env
	k8s client.Client
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	env, err = devenv.Start(ctx, devenv.Options{Webhooks: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k8s = env.Client
	code := m.Run()
	if v := env.ContractViolations(); v != "" {
		fmt.Fprintf(os.Stderr, "FAIL: the Devin API traffic broke the published contract:\n%s\n", v)
		code = 1
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// shard is one operator process: what it wrote to the Kubernetes API (by resource), what
// it asked the Devin API to create.
type shard struct {
	name, selector string
	mu             sync.Mutex
	wrote          map[string]bool // "Kind ns/name"
	devinPosts     []string        // request bodies of its Devin API creates
}

func (s *shard) recordWrite(obj client.Object) {
	var kind string
	switch obj.(type) {
	case *iamv1alpha1.PersonalAccessToken:
		kind = "PersonalAccessToken"
	case *iamv1alpha1.ServiceUser:
		kind = "ServiceUser"
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wrote[kind+" "+obj.GetNamespace()+"/"+obj.GetName()] = true
}

func (s *shard) wroteTo(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote[key]
}

// createdFor reports whether the shard sent a create upstream naming uid (every upstream
// object the operator creates carries its resource's UID in its name).
func (s *shard) createdFor(uid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.devinPosts, func(b string) bool { return strings.Contains(b, uid) })
}

// wrap records every write of the shard's Kubernetes client to a credential resource.
func (s *shard) wrap(c client.Client) client.Client {
	return interceptor.NewClient(c.(client.WithWatch), interceptor.Funcs{
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			s.recordWrite(obj)
			return c.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, p client.Patch, opts ...client.PatchOption) error {
			s.recordWrite(obj)
			return c.Patch(ctx, obj, p, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			s.recordWrite(obj)
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			s.recordWrite(obj)
			return c.SubResource(sub).Patch(ctx, obj, p, opts...)
		},
	})
}

// devinProxy is the shard's own way to the shared in-memory Devin API, recording the
// bodies of its POSTs (creates carry no token value; only answers do).
func (s *shard) devinProxy(t *testing.T) string {
	t.Helper()
	target, err := url.Parse(env.Devin.URL)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			s.mu.Lock()
			s.devinPosts = append(s.devinPosts, r.URL.Path+" "+string(body))
			s.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + l.Addr().String()
}

// webhookFrontend takes the admission requests the webhook configurations send (they are
// pointed at it), as a Service in front of both shards' pods does, and hands the requests to the shards' webhook
// servers in turn: every create's two admission calls (the mutating, then the validating
// webhook) go to different shards. It returns the shards' ports and a count of the requests
// each was given.
func webhookFrontend(t *testing.T, n int) (ports []int, served func(i int) int) {
	t.Helper()
	wo := env.Env.WebhookInstallOptions
	cert, err := tls.LoadX509KeyPair(filepath.Join(wo.LocalServingCertDir, "tls.crt"), filepath.Join(wo.LocalServingCertDir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	var backends []*httputil.ReverseProxy
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(wo.LocalServingHost, "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close() // the shard's webhook server binds it
		ports = append(ports, port)
		rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "https", Host: net.JoinHostPort(wo.LocalServingHost, fmt.Sprint(port))})
		// Loopback to a server with envtest's own certificate; the API server checked the
		// frontend's against the configured CA.
		rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // test-only loopback hop
		backends = append(backends, rp)
	}
	var mu sync.Mutex
	counts := make([]int, n)
	next := 0
	front := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			i := next
			next = (next + 1) % n
			counts[i]++
			mu.Unlock()
			backends[i].ServeHTTP(w, r)
		}),
	}
	l, err := net.Listen("tcp", net.JoinHostPort(wo.LocalServingHost, "0"))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = front.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = front.Close() })
	pointWebhooksAt(t, net.JoinHostPort(wo.LocalServingHost, fmt.Sprint(wo.LocalServingPort)), l.Addr().String())
	return ports, func(i int) int {
		mu.Lock()
		defer mu.Unlock()
		return counts[i]
	}
}

// pointWebhooksAt rewrites the webhook configurations' URLs from one address to another, and
// back when the test ends.
func pointWebhooksAt(t *testing.T, from, to string) {
	t.Helper()
	ctx := context.Background()
	swap := func(from, to string) error {
		muts := &admissionregistrationv1.MutatingWebhookConfigurationList{}
		vals := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
		if err := k8s.List(ctx, muts); err != nil {
			return err
		}
		if err := k8s.List(ctx, vals); err != nil {
			return err
		}
		rewrite := func(cc *admissionregistrationv1.WebhookClientConfig) {
			if cc.URL != nil {
				u := strings.Replace(*cc.URL, "//"+from+"/", "//"+to+"/", 1)
				cc.URL = &u
			}
		}
		for i := range muts.Items {
			for j := range muts.Items[i].Webhooks {
				rewrite(&muts.Items[i].Webhooks[j].ClientConfig)
			}
			if err := k8s.Update(ctx, &muts.Items[i]); err != nil {
				return err
			}
		}
		for i := range vals.Items {
			for j := range vals.Items[i].Webhooks {
				rewrite(&vals.Items[i].Webhooks[j].ClientConfig)
			}
			if err := k8s.Update(ctx, &vals.Items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := swap(from, to); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := swap(to, from); err != nil {
			t.Errorf("point the webhooks back: %v", err)
		}
	})
}

// TestTwoShardsSplitTheResources: the main process takes the resources without a shard
// label, the shard "b" those labelled for it; each is reconciled by its own only, and
// deleting them all revokes everything upstream.
func TestTwoShardsSplitTheResources(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	shards := []*shard{
		{name: "main", selector: "!" + shardKey, wrote: map[string]bool{}},
		{name: "b", selector: shardKey + "=b", wrote: map[string]bool{}},
	}
	ports, served := webhookFrontend(t, len(shards))
	for i, s := range shards {
		o := env.OperatorOptions()
		o.WatchLabelSelector = s.selector
		o.CredentialPolicyStatus = i == 0 // one shard counts, over every shard's resources
		o.WebhookPort = ports[i]
		o.DevinAPIURL = s.devinProxy(t)
		o.WrapClient = s.wrap
		op, err := env.StartOperator(ctx, o)
		g.Expect(err).NotTo(HaveOccurred())
		t.Cleanup(func() { _ = op.Stop() })
	}

	ns := "t-" + rand.String(6)
	g.Expect(env.EnsureNamespace(ctx, ns)).To(Succeed())
	policy := &iamv1alpha1.CredentialPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "shards-" + rand.String(6)},
		Spec: iamv1alpha1.CredentialPolicySpec{
			NamespaceSelector: iamv1alpha1.NamespaceSelector{MatchExpressions: []iamv1alpha1.NamespaceSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{ns},
			}}},
			ServiceUsers: &iamv1alpha1.ServiceUserPolicy{Roles: []string{"Member"}},
			PersonalAccessTokens: &iamv1alpha1.PersonalAccessTokenPolicy{
				Delegation: &iamv1alpha1.DelegationPolicy{Users: []string{"dave@example.com"}},
			},
		},
	}
	g.Expect(k8s.Create(ctx, policy)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), policy) })

	// Half of each kind for each shard; the admin creates them through the shared endpoint.
	type resource struct {
		obj   credential.Object
		shard *shard
	}
	var resources []resource
	for i := range 6 {
		var obj credential.Object
		if i%3 == 2 {
			obj = &iamv1alpha1.PersonalAccessToken{Spec: iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: "dave@example.com"}}}
		} else {
			obj = &iamv1alpha1.ServiceUser{Spec: iamv1alpha1.ServiceUserSpec{Role: "Member"}}
		}
		obj.SetNamespace(ns)
		obj.SetName(fmt.Sprintf("r%d", i))
		owner := shards[i%2]
		if owner.name != "main" {
			obj.SetLabels(map[string]string{shardKey: owner.name})
		}
		g.Eventually(func() error { return k8s.Create(ctx, obj) }, timeout, interval).Should(Succeed(), "create %s", obj.GetName())
		resources = append(resources, resource{obj: obj, shard: owner})
	}
	for _, r := range resources {
		g.Eventually(func() bool {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(r.obj), r.obj); err != nil {
				return false
			}
			st := r.obj.CredentialStatus()
			return conditions.IsReady(st.Conditions, r.obj.GetGeneration()) && st.Token != nil
		}, timeout, interval).Should(BeTrue(), "%s Ready with a token", r.obj.GetName())
		sec := &corev1.Secret{}
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: r.obj.CredentialStatus().SecretName}, sec)).To(Succeed())
		g.Expect(live(r.obj.CredentialStatus().Token.ID)).To(BeTrue(), "%s: the token its status names is live upstream", r.obj.GetName())
	}
	for i := range shards {
		g.Expect(served(i)).To(BeNumerically(">", 0), "shard %s served no admission: both must be behind the endpoint", shards[i].name)
	}
	// The count covers both shards' resources, though the counting shard caches half. (A
	// note on the policy makes it count now rather than at its next periodic recount.)
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(policy), policy)).To(Succeed())
	policy.SetAnnotations(map[string]string{"test/recount": "now"})
	g.Expect(k8s.Update(ctx, policy)).To(Succeed())
	g.Eventually(func() int32 {
		p := &iamv1alpha1.CredentialPolicy{}
		_ = k8s.Get(ctx, client.ObjectKeyFromObject(policy), p)
		return p.Status.Resources
	}, timeout, interval).Should(BeEquivalentTo(len(resources)))

	// Relabelled into shard b, a resource leaves the main shard's cache: the main shard must
	// not take that for a deletion (and sweep its credentials); shard b takes it over, and
	// rotates it when asked.
	moved := resources[0]
	g.Expect(moved.shard.name).To(Equal("main"))
	before := moved.obj.CredentialStatus().Token.ID
	g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(moved.obj), moved.obj)).To(Succeed())
	moved.obj.SetLabels(map[string]string{shardKey: "b"})
	g.Expect(k8s.Update(ctx, moved.obj)).To(Succeed())
	g.Consistently(func() bool { return live(before) }, 3*time.Second, interval).Should(BeTrue(), "the moved resource's token was revoked")
	g.Expect(shards[1].createdFor(string(moved.obj.GetUID()))).To(BeFalse())
	g.Eventually(func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(moved.obj), moved.obj); err != nil {
			return err
		}
		moved.obj.SetAnnotations(map[string]string{iamv1alpha1.RotateAnnotation: "moved"})
		return k8s.Update(ctx, moved.obj)
	}, timeout, interval).Should(Succeed())
	g.Eventually(func() bool {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(moved.obj), moved.obj); err != nil {
			return false
		}
		st := moved.obj.CredentialStatus()
		return st.Token != nil && st.Token.ID != before && conditions.IsReady(st.Conditions, moved.obj.GetGeneration())
	}, timeout, interval).Should(BeTrue(), "the moved resource rotated")
	g.Expect(shards[1].createdFor(string(moved.obj.GetUID()))).To(BeTrue(), "shard b minted the moved resource's new token")
	g.Expect(live(moved.obj.CredentialStatus().Token.ID)).To(BeTrue())

	// Delete them all: each shard revokes its own, and nothing is left live upstream.
	for _, r := range resources {
		g.Expect(k8s.Delete(ctx, r.obj)).To(Succeed())
	}
	for _, r := range resources {
		g.Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(r.obj), r.obj)) }, timeout, interval).
			Should(BeTrue(), "%s deleted", r.obj.GetName())
		g.Expect(liveOf(string(r.obj.GetUID()))).To(BeEmpty(), "%s left tokens live upstream", r.obj.GetName())
	}

	// Exactly one shard, the one its label names, wrote to each resource and created its
	// upstream objects, from creation to deletion (the moved one aside: both had it).
	for _, r := range resources[1:] {
		key := kindOf(r.obj) + " " + ns + "/" + r.obj.GetName()
		for _, s := range shards {
			mine := s == r.shard
			g.Expect(s.wroteTo(key)).To(Equal(mine), "%s written by shard %s", key, s.name)
			g.Expect(s.createdFor(string(r.obj.GetUID()))).To(Equal(mine), "%s created upstream by shard %s", key, s.name)
		}
	}
}

func kindOf(obj client.Object) string {
	if _, ok := obj.(*iamv1alpha1.PersonalAccessToken); ok {
		return "PersonalAccessToken"
	}
	return "ServiceUser"
}

// live reports whether the upstream token id is live.
func live(id string) bool {
	for _, r := range env.Devin.LiveTokens() {
		if r.ID == id {
			return true
		}
	}
	return false
}

// liveOf lists the live upstream tokens of the resource uid.
func liveOf(uid string) []string {
	var out []string
	for _, r := range env.Devin.LiveTokens() {
		if strings.Contains(r.Name, uid) {
			out = append(out, r.ID)
		}
	}
	return out
}
