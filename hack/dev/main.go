// Command dev runs token-operator on a laptop without a cluster: a local kube-apiserver and
// etcd, the CRDs and webhooks installed, the in-memory Devin API seeded with users that show
// every case, and the operator itself started through the same wiring as main.go. It writes
// kubeconfigs (cluster admin and one per seeded user) and an env file under bin/dev.
//
//	make run                 # start, print "try this", stop on Ctrl-C
//	make run ARGS=--smoke    # apply the samples, check them end to end, exit
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cogtokens/token-operator/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dev:", err)
		os.Exit(1)
	}
}

// quietLogger writes the operator's logs (token-safe) to w.
func quietLogger(w io.Writer) logr.Logger {
	return logging.Safe(zap.New(zap.WriteTo(zapcore.Lock(zapcore.AddSync(w))), zap.UseDevMode(true)))
}

type options struct {
	smoke       bool
	dir         string
	metricsAddr string
	probeAddr   string
	verbose     bool
	logTo       io.Writer
}

func parse(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.BoolVar(&o.smoke, "smoke", false, "Apply the samples, check that their Secrets hold live tokens, that an SSO user is refused, and that deletion revokes; then exit.")
	fs.StringVar(&o.dir, "dir", filepath.Join("bin", "dev"), "Where to write the kubeconfigs and the env file.")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "127.0.0.1:8080", "Metrics of the operator (plain HTTP in the dev environment; 0 disables).")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", "127.0.0.1:8081", "Health probes of the operator (0 disables).")
	fs.BoolVar(&o.verbose, "v", false, "Show the operator's logs.")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parse(args)
	if err != nil {
		return err
	}
	return runWith(ctx, o, out)
}

func runWith(ctx context.Context, o options, out io.Writer) error {
	logTo := io.Discard
	if o.verbose {
		logTo = os.Stderr
	}
	if o.logTo != nil {
		logTo = o.logTo
	}
	logger := quietLogger(logTo)
	ctrl.SetLogger(logger)

	fmt.Fprintln(out, "▶ starting a local control plane (kube-apiserver, etcd) and the in-memory Devin API")
	d, err := start(ctx, o, logger)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "▶ stopping")
		d.stop()
	}()
	fmt.Fprintf(out, "▶ ready: operator running, Devin API at %s\n", d.env.Devin.URL)
	if o.smoke {
		return smoke(ctx, d, out)
	}
	printTryThis(out, d)
	<-ctx.Done()
	return nil
}
