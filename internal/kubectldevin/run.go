package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/utils/clock"

	"github.com/cogtokens/token-operator/internal/logging"
)

// Exit codes: 0 when the answer is yes (Ready, allowed, rotated, imported), 1 when the
// command ran and the answer is no (not Ready, refused, not done in time), 2 when it could
// not answer (a usage error, no kubeconfig, the resource or the API server unreachable).
const (
	ExitOK     = 0
	ExitNo     = 1
	ExitFailed = 2
)

// noAnswer ends a command whose answer is no: its message goes to stderr as it is, and the
// exit code is ExitNo.
type noAnswer struct{ msg string }

func (n *noAnswer) Error() string { return n.msg }

// answerNo returns a noAnswer saying what happened and what to do.
func answerNo(format string, args ...any) error {
	return &noAnswer{msg: fmt.Sprintf(format, args...)}
}

// streams are the plugin's input and outputs, and the clock its waits read.
type streams struct {
	in       io.Reader
	out, err io.Writer
	clock    clock.WithTicker
}

// Run runs the plugin with args (without the program's name) and returns its exit code.
// Everything it prints goes to stdout (the answer) and stderr (progress, errors); a token
// read by import comes from stdin only.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, streams{in: stdin, out: stdout, err: stderr, clock: clock.RealClock{}})
}

func run(ctx context.Context, args []string, s streams) int {
	var err error
	if tokenInArgs(args) {
		err = errTokenInArgs
	} else {
		root := newRoot(s)
		root.SetArgs(args)
		err = root.ExecuteContext(ctx)
	}
	var no *noAnswer
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &no):
		fmt.Fprintln(s.err, logging.Scrub(no.msg))
		return ExitNo
	default:
		// Errors may quote what the API server was sent: never a token value.
		fmt.Fprintln(s.err, "error: "+logging.Scrub(err.Error()))
		return ExitFailed
	}
}

// newRoot builds the command tree.
func newRoot(s streams) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "devin",
		Short: "Inspect and operate token-operator's PersonalAccessTokens and ServiceUsers",
		Long: "kubectl devin inspects and operates the Devin credentials token-operator manages, with your own kubeconfig " +
			"and RBAC. Exit codes: 0 yes, 1 no (not Ready, refused, not done in time), 2 could not answer.",
		SilenceUsage:  true,
		SilenceErrors: true,
		// kubectl finds the binary kubectl-devin and runs it as `kubectl devin`.
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl devin"},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	g.bind(root)
	root.AddCommand(newStatusCommand(g, s), newRotateCommand(g, s), newCanICommand(g, s),
		newImportCommand(g, s), newAuditCommand(g, s), newInventoryCommand(g, s))
	return root
}
