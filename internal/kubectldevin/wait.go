package kubectldevin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/utils/clock"
)

// pollInterval is how often a wait reads the resource again.
const pollInterval = 500 * time.Millisecond

// errTimedOut is returned by poll when its timeout passed first.
var errTimedOut = errors.New("timed out")

// poll calls check now and then every pollInterval until it reports done or fails, for at
// most timeout. Time comes from the injected clock.
func poll(ctx context.Context, clk clock.WithTicker, timeout time.Duration, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := clk.Now().Add(timeout)
	tick := clk.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		if !clk.Now().Before(deadline) {
			return errTimedOut
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped waiting: %w", ctx.Err())
		case <-tick.C():
		}
	}
}

// progress writes a line to stderr whenever what a wait is waiting for changes.
type progress struct {
	w    io.Writer
	last string
}

func (p *progress) say(line string) {
	if line == p.last {
		return
	}
	p.last = line
	fmt.Fprintln(p.w, "... "+line)
}
