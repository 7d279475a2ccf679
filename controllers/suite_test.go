package controllers_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/operator"
	"github.com/cogtokens/token-operator/internal/testing/devenv"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// The suite runs one control plane, one in-memory Devin API and one operator; tests that
// crash the operator stop it and start another. Time is a fake clock shared by the operator
// and the Devin API, advanced by the tests that need it.
var (
	env     *devenv.Env
	k8s     client.Client
	clk     *clocktesting.FakeClock
	logs    = &devenv.LogBuffer{}
	running *devenv.Operator
	opMu    sync.Mutex
)

const (
	timeout  = 30 * time.Second
	interval = 50 * time.Millisecond
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctx := context.Background()
	clk = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	var err error
	env, err = devenv.Start(ctx, devenv.Options{Devin: []devinapitest.Option{devinapitest.WithClock(clk)}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	k8s = env.Client
	ctrl.SetLogger(logging.Safe(testLogger()))
	if running, err = startOperator(ctx, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	stopOperator()
	if path := os.Getenv("CONTROLLERS_LOG"); path != "" {
		_ = os.WriteFile(path, []byte(logs.String()), 0o600) // for debugging a failure by hand
	}
	if v := env.ContractViolations(); v != "" {
		fmt.Fprintf(os.Stderr, "FAIL: the Devin API traffic broke the published contract:\n%s\n", v)
		return 1
	}
	if leaks := devenv.FindTokens(ctx, k8s, logs.String()); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: token values leaked:\n%s\n", strings.Join(leaks, "\n"))
		return 1
	}
	return code
}

// operatorOptions are the suite's operator options: the fake clock, the most verbose
// logging (scanned for tokens at the end), a short verification interval.
func operatorOptions(wrap func(client.Client) client.Client) operator.Options {
	o := env.OperatorOptions()
	o.Clock = clk
	o.Logger = testLogger()
	o.VerifyInterval = time.Hour
	o.LookupCacheTTL = time.Minute
	o.WrapClient = wrap
	// This suite tests the token lifecycle, without the webhooks that record admissions:
	// tenancy policies are tested in test/tenancy and test/reliability.
	o.PolicyMode = "off"
	return o
}

// testLogger writes everything, at the highest verbosity, to the buffer scanned for tokens.
func testLogger() logr.Logger {
	return zap.New(zap.WriteTo(logs), zap.UseDevMode(true), zap.Level(zapcore.Level(-10)))
}

func startOperator(ctx context.Context, wrap func(client.Client) client.Client) (*devenv.Operator, error) {
	return env.StartOperator(ctx, operatorOptions(wrap))
}

// restartOperator replaces the suite's operator with a new one (fresh caches).
func restartOperator(t *testing.T, wrap func(client.Client) client.Client) *devenv.Operator {
	t.Helper()
	return restartOperatorWith(t, func(o *operator.Options) { o.WrapClient = wrap })
}

// restartOperatorWith replaces the suite's operator with one whose options mutate changed.
func restartOperatorWith(t *testing.T, mutate func(*operator.Options)) *devenv.Operator {
	t.Helper()
	opMu.Lock()
	defer opMu.Unlock()
	if running != nil {
		running.Crash()
	}
	o := operatorOptions(nil)
	mutate(&o)
	op, err := env.StartOperator(context.Background(), o)
	if err != nil {
		t.Fatalf("start operator: %v", err)
	}
	running = op
	return op
}

func stopOperator() {
	opMu.Lock()
	defer opMu.Unlock()
	if running != nil {
		running.Crash()
		running = nil
	}
}

// update re-reads obj, applies mutate and writes it, retrying on conflicts.
func update[T client.Object](t *testing.T, obj T, mutate func(T)) T {
	t.Helper()
	NewWithT(t).Eventually(func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return k8s.Update(context.Background(), obj)
	}, timeout, interval).Should(Succeed())
	return obj
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := "t-" + rand.String(6)
	if err := env.EnsureNamespace(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

// poke changes an annotation to make the operator look at the object again (after the fake
// clock moved: controller-runtime's requeue timers run on real time).
func poke(t *testing.T, obj client.Object) {
	t.Helper()
	update(t, obj, func(o client.Object) {
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a["test.iam.devin.ai/poke"] = rand.String(8)
		o.SetAnnotations(a)
	})
}

func condition(obj interface {
	CredentialStatus() *iamv1alpha1.CredentialStatus
}, t string) *metav1.Condition {
	return meta.FindStatusCondition(obj.CredentialStatus().Conditions, t)
}

// liveKeyID tells which upstream personal access token a value is, asking the Devin API as
// that token (its /v3/self answer names the key).
func liveKeyID(ctx context.Context, value []byte) (string, error) {
	self, err := devinClient().SelfWithToken(ctx, devinapi.NewToken(string(value)))
	if err != nil {
		return "", err
	}
	if self.Kind != devinapi.PrincipalPATUser {
		return "", fmt.Errorf("the token is a %s, not a personal access token", self.Kind)
	}
	return self.APIKeyID, nil
}

func secretOf(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	sec := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, sec); err != nil {
		t.Fatalf("get secret %s/%s: %v", ns, name, err)
	}
	return sec
}

var (
	clientOnce sync.Once
	client0    *devinapi.Client
)

// devinClient is one Devin API client for the whole suite (one connection pool).
func devinClient() *devinapi.Client {
	clientOnce.Do(func() { client0 = env.Devin.Client() })
	return client0
}
