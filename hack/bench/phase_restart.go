// Phase restart measures a SIGTERM and restart of the manager with every resource Ready:
// shutdown, start to ready and to settled, and what the catch-up costs.

package main

import (
	"context"
	"fmt"
	"time"
)

// recoveryResult is a restart of the manager with every resource Ready.
type recoveryResult struct {
	// shutdown is SIGTERM to exit; ready is process start to /readyz; settled is process
	// start to the last reconcile of the catch-up (every resource reconciled once, then quiet).
	shutdown, ready, settled time.Duration
	reconciles               float64
	stillReady, total        int
	rss, hwm                 uint64
	// checks is how many resources the new process checked upstream meanwhile: after a
	// restart the first checks are spread over one --verify-interval, so a few fall here.
	checks int
	// d is the cost, from before the SIGTERM until the new process was idle.
	d delta
}

// runRecovery stops the manager with SIGTERM and starts it again with the same flags, then
// waits until it has settled: ready, every resource reconciled at least once by the new
// process, no reconcile for o.quiet with an empty queue. The restart should cost no write and
// few Devin API calls: the credential and roles read at start, and the periodic checks that
// fall in the window (nothing is remembered across a restart, so the first checks are spread
// over one --verify-interval from the start; checksSoFar counts them).
func runRecovery(ctx context.Context, c *cluster, o options, verifyInterval time.Duration) (recoveryResult, error) {
	var res recoveryResult
	objs, err := c.objects.list(ctx)
	if err != nil {
		return res, err
	}
	res.total = len(objs)
	before, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	if res.shutdown, err = c.op.stop(time.Minute); err != nil {
		return res, fmt.Errorf("stop the operator: %w", err)
	}
	// The new process's counters start at zero.
	before.op, before.cpu.operator = operatorStats{}, 0
	if res.ready, err = c.startOperator(ctx, o, verifyInterval); err != nil {
		return res, err
	}
	started := c.op.started
	if err := c.waitReconciled(ctx, float64(res.total)); err != nil {
		return res, err
	}
	last, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout, idlePollFine)
	if err != nil {
		return res, err
	}
	res.settled = last.Sub(started)
	after, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.d = before.to(after)
	res.reconciles = after.op.Reconciles
	if objs, err = c.objects.list(ctx); err != nil {
		return res, err
	}
	for _, obj := range objs {
		if isReady(obj) {
			res.stillReady++
		}
	}
	if res.checks, err = c.checksSoFar(ctx); err != nil {
		return res, err
	}
	res.rss, res.hwm, err = c.op.memory()
	return res, err
}

// checksSoFar counts the resources the running manager has checked upstream since it started.
func (c *cluster) checksSoFar(ctx context.Context) (int, error) {
	s, err := c.scrapeChecks(ctx)
	if err != nil {
		return 0, err
	}
	l := &checkLog{}
	l.observe(s)
	return len(l.snapshot()), nil
}

// waitReconciled waits until the running manager has finished at least n reconciles.
func (c *cluster) waitReconciled(ctx context.Context, n float64) error {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := c.operatorStats(ctx)
		if err == nil && st.Reconciles >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the operator reconciled %.0f of %.0f resources within 5m", st.Reconciles, n)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}
