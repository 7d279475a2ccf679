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
	// d is the cost, from before the SIGTERM until the new process was idle.
	d delta
}

// runRecovery stops the manager with SIGTERM and starts it again with the same flags, then
// waits until it has settled: ready, every resource reconciled at least once by the new
// process, no reconcile for o.quiet with an empty queue. The restart should cost no Devin API
// call (the periodic check is not due) and no write.
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
	last, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout)
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
	res.rss, res.hwm, err = c.op.memory()
	return res, err
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
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// checkResult is the periodic upstream check, measured with a short --verify-interval.
type checkResult struct {
	interval time.Duration
	// catchUp is the first round after the restart (every check overdue): its duration,
	// checks and cost.
	catchUp       time.Duration
	catchUpChecks checks
	catchUpD      delta
	// window is the steady measurement that follows: checks seen and their cost.
	window delta
	checks checks
}

// runPeriodicCheck restarts the manager with --verify-interval=o.verifyInterval. Every
// resource's check is then overdue, so the new process checks them all at once (the catch-up
// round); once idle, o.steadyWindow is measured with nothing changing but the periodic
// checks. Checks are counted as status.lastVerifiedTime changes seen by the bench's informer,
// so the cost per check does not depend on how the window cuts the check rounds.
func runPeriodicCheck(ctx context.Context, c *cluster, o options) (checkResult, error) {
	res := checkResult{interval: o.verifyInterval}
	if _, err := c.op.stop(time.Minute); err != nil {
		return res, fmt.Errorf("stop the operator: %w", err)
	}
	v0 := c.objects.verifications()
	before, err := c.snapshot(ctx) // no operator runs: its counters start at zero
	if err != nil {
		return res, err
	}
	if _, err := c.startOperator(ctx, o, o.verifyInterval); err != nil {
		return res, err
	}
	objs, err := c.objects.list(ctx)
	if err != nil {
		return res, err
	}
	if err := c.waitReconciled(ctx, float64(len(objs))); err != nil {
		return res, err
	}
	last, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout)
	if err != nil {
		return res, err
	}
	res.catchUp = last.Sub(before.at)
	mid, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.catchUpD = before.to(mid)
	v1 := c.objects.verifications()
	res.catchUpChecks = v1.sub(v0)
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(o.steadyWindow):
	}
	end, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.window = mid.to(end)
	res.checks = c.objects.verifications().sub(v1)
	return res, nil
}
