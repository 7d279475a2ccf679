// Command devin-api serves the in-memory Devin API (devinapitest) for the dev environment:
//
//	go run ./hack/devin-api --listen 127.0.0.1:8088 [--seed FILE] [--admin-token-file FILE]
//	    [--enterprise-admin-key-file FILE] [--latency 50ms] [--pat-api=false]
//
// It writes the admin credential to --admin-token-file (mode 0600) when given, and otherwise
// prints where to get it (POST /_fake/admin-token/rotate); likewise the enterprise admin's
// personal key (apk_user_..., the only credential of the v2 member record) to
// --enterprise-admin-key-file. --pat-api=false serves no PAT endpoint, as the real API today:
// those paths answer 404 {"detail": "Not Found"}. Every exchange is checked against the
// published contract; violations are printed as they happen. It stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devin-api:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("devin-api", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8088", "address to listen on")
	seedFile := fs.String("seed", "", "seed file (JSON or YAML); default: the built-in seed")
	tokenFile := fs.String("admin-token-file", "", "write the admin credential to this file (mode 0600)")
	adminKeyFile := fs.String("enterprise-admin-key-file", "", "write the enterprise admin's personal key (for v2) to this file (mode 0600)")
	latency := fs.Duration("latency", 0, "latency added to every API call")
	patAPI := fs.Bool("pat-api", true, "serve the (assumed, unpublished) PAT endpoints; false answers them as unknown routes, like the real API")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var mu sync.Mutex
	opts := []devinapitest.Option{devinapitest.WithContractFailure(func(v string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, "devin-api:", v)
	})}
	if !*patAPI {
		opts = append(opts, devinapitest.WithoutPATAPI())
	}
	if *seedFile != "" {
		seed, err := devinapitest.LoadSeed(*seedFile)
		if err != nil {
			return err
		}
		opts = append(opts, devinapitest.WithSeed(seed))
	}
	fake := devinapitest.NewUnstarted(opts...)
	defer fake.Close()
	if *latency > 0 {
		fake.SetFaults(devinapitest.Faults{Latency: *latency})
	}

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return err
	}
	if *tokenFile != "" {
		if err := writeToken(*tokenFile, fake.AdminToken().Reveal()); err != nil {
			_ = ln.Close()
			return err
		}
		fmt.Fprintf(out, "devin-api: admin token written to %s\n", *tokenFile)
	} else {
		fmt.Fprintf(out, "devin-api: no --admin-token-file; get a fresh admin token with: curl -X POST http://%s/_fake/admin-token/rotate\n", ln.Addr())
	}
	if *adminKeyFile != "" {
		if err := writeToken(*adminKeyFile, fake.EnterpriseAdminKey().Reveal()); err != nil {
			_ = ln.Close()
			return err
		}
		fmt.Fprintf(out, "devin-api: enterprise admin key written to %s\n", *adminKeyFile)
	}
	fmt.Fprintf(out, "devin-api: serving on http://%s\n", ln.Addr())

	srv := &http.Server{Handler: fake.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Release requests held by faults first, so that the shutdown does not wait for them.
	fake.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(out, "devin-api: stopped")
	return nil
}

// writeToken writes the token, without a newline, readable by the owner only, replacing any
// older file.
func writeToken(path, token string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// An existing file keeps its mode with O_CREATE: make sure it is private.
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.WriteString(token); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
