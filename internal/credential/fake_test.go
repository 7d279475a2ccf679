package credential

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// fakeIssuer is an Issuer whose behaviour is set per test through function fields (as
// External Secrets Operator's fakes do); a nil field uses an in-memory upstream. Every call
// is logged, so that a test can check the order of persist and upstream calls.
type fakeIssuer struct {
	PrepareFn func(ctx context.Context) error
	IssueFn   func(ctx context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error)
	OwnedFn   func(ctx context.Context, fresh bool) (Listing, error)
	RevokeFn  func(ctx context.Context, id string) error
	// RevokedFn says why a token is gone; nil: revoked by someone else.
	RevokedFn func(ctx context.Context, id string) (bool, error)

	mu      sync.Mutex
	log     *[]string
	clock   *clocktesting.FakeClock
	keys    []devinapi.APIKey // the in-memory upstream: active keys
	created []devinapi.APIKey // every key ever created, revoked or not
	next    int
	revoked []string
}

var _ Issuer = &fakeIssuer{}

func (f *fakeIssuer) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.log = append(*f.log, call)
}

func (f *fakeIssuer) Prepare(ctx context.Context) error {
	f.record("prepare")
	if f.PrepareFn != nil {
		return f.PrepareFn(ctx)
	}
	return nil
}

func (f *fakeIssuer) Issue(ctx context.Context, name string, expiresAt time.Time) (*devinapi.IssuedKey, error) {
	f.record("issue " + name)
	if f.IssueFn != nil {
		return f.IssueFn(ctx, name, expiresAt)
	}
	return f.mint(name, expiresAt), nil
}

// mint adds an active key upstream and returns it with its one-time value.
func (f *fakeIssuer) mint(name string, expiresAt time.Time) *devinapi.IssuedKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("key-%d", f.next)
	exp := expiresAt.Truncate(time.Second)
	key := devinapi.APIKey{ID: id, Name: name, CreatedAt: f.clock.Now(), ExpiresAt: &exp, IsActive: true}
	f.keys = append(f.keys, key)
	f.created = append(f.created, key)
	return &devinapi.IssuedKey{ID: id, Name: name, ExpiresAt: &exp, Token: devinapi.NewToken("value-of-" + id)}
}

func (f *fakeIssuer) Owned(ctx context.Context, fresh bool) (Listing, error) {
	f.record(fmt.Sprintf("owned fresh=%v", fresh))
	if f.OwnedFn != nil {
		return f.OwnedFn(ctx, fresh)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return Listing{Keys: f.unexpired(), At: f.clock.Now()}, nil
}

func (f *fakeIssuer) Revoke(ctx context.Context, id string) error {
	f.record("revoke " + id)
	if f.RevokeFn != nil {
		return f.RevokeFn(ctx, id)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = append(f.revoked, id)
	kept := f.keys[:0]
	for _, k := range f.keys {
		if k.ID != id {
			kept = append(kept, k)
		}
	}
	f.keys = kept
	return nil
}

func (f *fakeIssuer) Revoked(ctx context.Context, id string) (bool, error) {
	f.record("revoked? " + id)
	if f.RevokedFn != nil {
		return f.RevokedFn(ctx, id)
	}
	return true, nil
}

// active is the IDs of the keys active upstream (not revoked, not expired).
func (f *fakeIssuer) active() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, k := range f.unexpired() {
		ids = append(ids, k.ID)
	}
	return ids
}

// unexpired is the keys not revoked whose expiry has not come: the active ones, as the
// Devin API lists them.
func (f *fakeIssuer) unexpired() []devinapi.APIKey {
	var out []devinapi.APIKey
	for _, k := range f.keys {
		if k.ExpiresAt == nil || f.clock.Now().Before(*k.ExpiresAt) {
			out = append(out, k)
		}
	}
	return out
}

// tb is what the world needs of a test: a *testing.T, or a property test's *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// world is one resource, its lifecycle, a Kubernetes store and an upstream, on a fake clock.
type world struct {
	t        tb
	clk      *clocktesting.FakeClock
	kube     client.Client
	rec      *events.FakeRecorder
	l        *Lifecycle
	iss      *fakeIssuer
	pat      *iamv1alpha1.PersonalAccessToken
	log      []string
	persistE error // what persist returns
	// loseWrite makes the status write that follows the next reconcile conflict: status
	// goes back to what it was before that reconcile, and nothing waiting for the write runs.
	loseWrite bool
	// written is what waits for the next status write (Persister.AfterWrite).
	written []func()
	// createErr and dryRunErr, when set, are what the Kubernetes API answers to a Secret
	// create, and to its dry run.
	createErr, dryRunErr error
	// dryRuns counts the dry runs of Secret writes.
	dryRuns int
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testUID = types.UID("0b5e1c1e-aaaa-4bbb-8ccc-123456789abc")

var testOwner = Owner{Cluster: "ctest00000000", UID: testUID}

func testScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := iamv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

func newWorld(t tb, objs ...client.Object) *world {
	t.Helper()
	w := &world{t: t, clk: clocktesting.NewFakeClock(t0), rec: events.NewFakeRecorder(100)}
	w.pat = &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{
		Name: "ci", Namespace: "team-a", UID: testUID, Generation: 1,
	}}
	w.kube = fake.NewClientBuilder().WithScheme(testScheme()).WithObjects(objs...).
		WithInterceptorFuncs(interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				o := (&client.CreateOptions{}).ApplyOptions(opts)
				if len(o.DryRun) > 0 {
					w.dryRuns++
					if w.dryRunErr != nil {
						return w.dryRunErr
					}
				}
				if len(o.DryRun) == 0 && w.createErr != nil {
					return w.createErr
				}
			}
			return c.Create(ctx, obj, opts...)
		}, Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				if o := (&client.PatchOptions{}).ApplyOptions(opts); len(o.DryRun) > 0 {
					w.dryRuns++
					if w.dryRunErr != nil {
						return w.dryRunErr
					}
				}
			}
			return c.Patch(ctx, obj, patch, opts...)
		}}).Build()
	w.iss = &fakeIssuer{log: &w.log, clock: w.clk}
	w.l = &Lifecycle{Client: w.kube, Reader: w.kube, Recorder: w.rec, Clock: w.clk, Kind: "PersonalAccessToken",
		VerifyInterval: time.Hour, Metrics: NewMetrics(nil), Settle: time.Minute, Cluster: testOwner.Cluster}
	return w
}

// persister records the intent on the resource as the real one writes it, and logs every
// write; persistE fails them.
type persister struct{ w *world }

func (p persister) PatchMetadata(_ context.Context, mutate func(client.Object)) error {
	after := p.w.pat.DeepCopy()
	mutate(after)
	p.w.log = append(p.w.log, "persist intent "+after.GetAnnotations()[iamv1alpha1.IssueIntentAnnotation])
	if p.w.persistE != nil {
		return p.w.persistE
	}
	p.w.pat.SetAnnotations(after.GetAnnotations())
	p.w.pat.SetFinalizers(after.GetFinalizers())
	return nil
}

func (p persister) Confirm(context.Context) error {
	p.w.log = append(p.w.log, "persist")
	if p.w.persistE != nil {
		p.w.written = nil
		return p.w.persistE
	}
	p.w.wrote()
	return nil
}

func (p persister) AfterWrite(fn func()) { p.w.written = append(p.w.written, fn) }

// wrote runs what waited for a status write, as the real persister does once it succeeds.
func (w *world) wrote() {
	for _, fn := range w.written {
		fn()
	}
	w.written = nil
}

func (w *world) reconcile() (time.Duration, error) {
	w.t.Helper()
	return w.reconcileWith(w.iss)
}

// reconcileWith runs one reconcile and then the status write the controller makes after
// it: one that loseWrite makes conflict puts status back as it was.
func (w *world) reconcileWith(iss Issuer) (time.Duration, error) {
	w.t.Helper()
	before := w.pat.DeepCopy()
	out, err := w.l.Reconcile(context.Background(), w.pat, iss, persister{w})
	out.SetConditions(w.pat) // the controller's status step, which records a Problem too
	if err != nil && !apierrors.IsConflict(err) {
		p, st := Classify(err), w.pat.CredentialStatus()
		if p.Stalled {
			conditions.Stalled(&st.Conditions, w.pat.Generation, p.Reason, p.Error(), st.Token != nil)
		} else {
			conditions.Progressing(&st.Conditions, w.pat.Generation, p.Reason, p.Error(), st.Token != nil)
		}
	}
	if w.loseWrite {
		w.loseWrite = false
		w.pat.Status = before.Status
		w.written = nil
		return out.Wake, err
	}
	w.wrote()
	return out.Wake, err
}

// secret reads the resource's Secret from the store; nil when there is none.
func (w *world) secret(name string) *corev1.Secret {
	w.t.Helper()
	sec := &corev1.Secret{}
	err := w.kube.Get(context.Background(), types.NamespacedName{Namespace: "team-a", Name: name}, sec)
	if err != nil {
		return nil
	}
	return sec
}

// events returns the reasons of the events emitted so far.
func (w *world) events() []string {
	var out []string
	for {
		select {
		case e := <-w.rec.Events:
			out = append(out, strings.Fields(e)[1])
		default:
			return out
		}
	}
}

// ownedSecret is a Secret controlled by the world's resource that holds tok with value.
func ownedSecret(w *world, name string, tok *iamv1alpha1.IssuedToken, value string) *corev1.Secret {
	want := w.l.wantedSecret(w.pat)
	want.name = name
	sec, err := w.l.newSecret(w.pat, want, []byte(value), tok, "")
	if err != nil {
		w.t.Fatal(err)
	}
	return sec
}

// indexOf is the position of the first log entry that starts with prefix, -1 when none.
func indexOf(log []string, prefix string) int {
	for i, l := range log {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// put stores obj in the Kubernetes store.
func (w *world) put(obj client.Object) {
	w.t.Helper()
	if err := w.kube.Create(context.Background(), obj); err != nil {
		w.t.Fatal(err)
	}
}

// withToken gives the resource a current token, issued at issuedAt (its first), active
// upstream and held by its Secret "ci".
func (w *world) withToken(issuedAt time.Time) *iamv1alpha1.IssuedToken {
	w.t.Helper()
	key := w.iss.mint(testOwner.TokenName("team-a/ci", 1), issuedAt.Add(w.pat.Credential().Lifetime()))
	tok := issuedToken(key, issuedAt)
	value := key.Token.Reveal()
	st := w.pat.CredentialStatus()
	st.Token, st.IssueCount, st.SecretHash, st.SecretName = tok, 1, hashToken([]byte(value)), "ci"
	w.l.checks.checked(w.pat.UID, issuedAt)
	w.put(ownedSecret(w, "ci", tok, value))
	w.log = nil
	return tok
}

// holds reports whether the Secret holds the value of key id.
func holds(sec *corev1.Secret, id string) bool {
	return sec != nil && string(sec.Data[iamv1alpha1.DefaultSecretKey]) == "value-of-"+id &&
		sec.Annotations[iamv1alpha1.TokenIDAnnotation] == id
}

// staleSecrets is a client whose reads of Secrets answer a stale copy, as a lagging
// informer cache would.
type staleSecrets struct {
	client.Client
	sec *corev1.Secret
}

func (s staleSecrets) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if sec, ok := obj.(*corev1.Secret); ok && key.Name == s.sec.Name {
		s.sec.DeepCopyInto(sec)
		return nil
	}
	return s.Client.Get(ctx, key, obj, opts...)
}
