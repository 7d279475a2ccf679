// Command kubectl-devin is token-operator's kubectl plugin: on the PATH, kubectl runs it as
// `kubectl devin` (status, rotate, can-i, import, audit, inventory). The commands are
// internal/kubectldevin's.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/cogtokens/token-operator/internal/kubectldevin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := kubectldevin.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
