// Command token-operator runs the operator that manages Devin API credentials
// (ServiceUser, PersonalAccessToken) as Kubernetes resources, under the cluster
// administrators' CredentialPolicies. The wiring is internal/operator's.
package main

import (
	"flag"
	"os"

	// The Mozilla CA roots, compiled in: the image has no CA certificates of its own (a
	// scratch base), and TLS to the Devin API must verify anyway. Go uses them only when the
	// system has no roots (x509.SetFallbackRoots), so a mounted bundle still wins.
	_ "golang.org/x/crypto/x509roots/fallback"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/operator"
)

func main() {
	opts := operator.DefaultOptions()
	opts.BindFlags(flag.CommandLine)
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(logging.Safe(zap.New(zap.UseFlagOptions(&zapOpts))))
	log := ctrl.Log.WithName("setup")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		log.Error(err, "cannot load a kubeconfig")
		os.Exit(1)
	}
	ctx := ctrl.LoggerInto(ctrl.SetupSignalHandler(), ctrl.Log)
	if err := operator.Run(ctx, cfg, opts); err != nil {
		log.Error(err, "operator stopped")
		os.Exit(1)
	}
}
