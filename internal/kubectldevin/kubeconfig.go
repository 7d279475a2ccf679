package kubectldevin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/logging"
)

// globalFlags are the flags every command takes, as kubectl names them.
type globalFlags struct {
	kubeconfig string
	context    string
	namespace  string
	as         string
	asGroups   []string
}

func (g *globalFlags) bind(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	f.StringVar(&g.context, "context", "", "the kubeconfig context to use (default: the current context)")
	f.StringVarP(&g.namespace, "namespace", "n", "", "the namespace (default: the context's namespace)")
	f.StringVar(&g.as, "as", "", "act as this user (impersonation: needs your RBAC impersonate right)")
	f.StringArrayVar(&g.asGroups, "as-group", nil, "act as a member of this group (with --as; repeatable)")
}

// session is one command's connection to the cluster: a client, the namespace, and the
// warnings the API server sent.
type session struct {
	client    client.Client
	namespace string
	// explicitNamespace is true when -n was given (not the context's default).
	explicitNamespace bool
	// user is --as; who is the user the API server sees, once asked.
	user     string
	who      string
	warnings *warnings
}

var scheme = newScheme()

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := iamv1alpha1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}

// connect loads the kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config), applies
// --context, --namespace and impersonation, and makes a client.
func (g *globalFlags) connect(ctx context.Context, stderr io.Writer) (*session, error) {
	if g.as == "" && len(g.asGroups) > 0 {
		return nil, fmt.Errorf("--as-group needs --as: name the user to act as")
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = g.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: g.context}
	overrides.Context.Namespace = g.namespace
	overrides.AuthInfo.Impersonate = g.as
	overrides.AuthInfo.ImpersonateGroups = g.asGroups
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		return nil, fmt.Errorf("no kubeconfig found: set KUBECONFIG or pass --kubeconfig")
	}
	if err != nil {
		return nil, fmt.Errorf("load the kubeconfig: %w (check --kubeconfig and --context)", err)
	}
	ns, _, err := loader.Namespace()
	if err != nil {
		return nil, fmt.Errorf("read the namespace of the kubeconfig context: %w", err)
	}
	w := &warnings{out: stderr, seen: map[string]bool{}}
	cfg.WarningHandlerWithContext = w
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to the API server %s: %w", cfg.Host, err)
	}
	s := &session{client: c, namespace: ns, explicitNamespace: g.namespace != "", user: g.as, warnings: w}
	if g.as != "" {
		// A refused impersonation fails every request, discovery first, with no useful
		// message: ask who we are once, and say what is missing.
		if s.who, err = s.whoAmI(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// warnings passes the API server's warnings (admission warnings, deprecations) on to
// stderr, once each, as kubectl does; while collecting (can-i), it keeps them to show with
// the answer instead.
type warnings struct {
	mu      sync.Mutex
	out     io.Writer
	collect bool
	seen    map[string]bool
	list    []string
}

// HandleWarningHeaderWithContext handles one warning (rest.WarningHandlerWithContext).
func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 || strings.TrimSpace(text) == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.collect {
		w.list = append(w.list, text)
		return
	}
	if !w.seen[text] {
		w.seen[text] = true
		fmt.Fprintln(w.out, "Warning: "+logging.Scrub(text))
	}
}

// take returns the warnings collected so far and forgets them.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

var _ rest.WarningHandlerWithContext = &warnings{}
