package reliability

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
)

// TestMetricsNeedATokenRBACLetsIn: the metrics endpoint served over HTTPS (--metrics-secure,
// the default) answers only a bearer token the API server authenticates, of a user RBAC lets
// get /metrics: Prometheus's service account with the chart's metrics-reader role. The
// reviews are the API server's own (TokenReview, SubjectAccessReview).
func TestMetricsNeedATokenRBACLetsIn(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "metrics-" + rand.String(5)
	g.Expect(env.EnsureNamespace(ctx, ns)).To(Succeed())

	// A second manager that reconciles nothing (a shard no resource is labelled for), with
	// secure metrics on a port of its own.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	g.Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	g.Expect(l.Close()).To(Succeed())
	o := env.OperatorOptions()
	o.WatchLabelSelector = "metrics-test=nothing"
	o.CredentialPolicyStatus = false
	o.EnableWebhooks = false
	o.MetricsAddr = addr
	o.SecureMetrics = true
	op, err := env.StartOperator(ctx, o)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = op.Stop() })

	reader := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader-" + ns},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	g.Expect(k8s.Create(ctx, reader)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), reader) })
	tokenOf := func(sa string) string {
		acct := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}
		g.Expect(k8s.Create(ctx, acct)).To(Succeed())
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))}}
		g.Expect(k8s.SubResource("token").Create(ctx, acct, tr)).To(Succeed())
		return tr.Status.Token
	}
	prometheus, intruder := tokenOf("prometheus"), tokenOf("intruder")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: reader.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "prometheus"}},
	}
	g.Expect(k8s.Create(ctx, binding)).To(Succeed())
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), binding) })

	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the manager's self-signed metrics certificate, on loopback
	}}
	scrape := func(token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/metrics", nil)
		if err != nil {
			return 0, err.Error()
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(body)
	}
	// The binding may take a moment to reach the authorizer: wait for the allowed scrape.
	g.Eventually(func() int { code, _ := scrape(prometheus); return code }, 30*time.Second, 200*time.Millisecond).Should(Equal(http.StatusOK))
	_, body := scrape(prometheus)
	g.Expect(body).To(ContainSubstring("controller_runtime_"), "the metrics themselves")
	for name, tc := range map[string]struct {
		token string
		want  int
	}{
		"no token":               {want: http.StatusUnauthorized},
		"a forged token":         {token: "eyJhbGciOiJSUzI1NiJ9.forged.forged", want: http.StatusUnauthorized},
		"a token RBAC keeps out": {token: intruder, want: http.StatusForbidden},
	} {
		code, body := scrape(tc.token)
		g.Expect(code).To(Equal(tc.want), "%s: %s", name, body)
		g.Expect(body).NotTo(ContainSubstring("controller_runtime_"), fmt.Sprintf("%s got the metrics", name))
	}
}

func ptr[T any](v T) *T { return &v }
