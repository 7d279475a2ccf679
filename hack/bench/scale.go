// The scale curve (--scale) measures the floor and the creates at several sizes, each on a
// fresh control plane and manager.

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/audit"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

// scalePlotName is the scale curve's plot, written next to the report.
const scalePlotName = "scale.svg"

// scalePoint is one point of the scale curve: N resources created on a fresh control plane,
// with the floor first.
type scalePoint struct {
	n, pats, serviceUsers int
	floor                 floorResult
	create                createResult
	// idleRSS is the manager's RSS before any resource; rss, hwm and heap after the creates,
	// idle, and --settle later.
	idleRSS, rss, hwm uint64
	heap              float64
	invariant         audit.Report
	violations        []string
	logs              logScan
	// wall is the whole point, control plane included; err why it did not finish.
	wall time.Duration
	err  string
}

// ok tells whether the point was measured to the end.
func (p scalePoint) ok() bool { return p.err == "" }

// scaleOptions are the options of the point of n resources: the main mix (one ServiceUser in
// eleven), and a phase timeout long enough for n.
func scaleOptions(o options, n int) options {
	p := o
	p.serviceUsers = n / 11
	p.tokens = n - p.serviceUsers
	p.phaseTimeout = max(o.phaseTimeout, time.Duration(n)*100*time.Millisecond)
	return p
}

// scaleBudget is the time the curve may take on top of --timeout: per point, its floor and
// creates at their phase timeouts and a few minutes of control plane and checks.
func scaleBudget(ns []int) time.Duration {
	var d time.Duration
	for _, n := range ns {
		d += 3*time.Minute + 2*max(5*time.Minute, time.Duration(n)*100*time.Millisecond)
	}
	return d
}

// runScalePoint measures one point; a point that fails is reported with its error, and the
// curve goes on.
func runScalePoint(ctx context.Context, o options, n int, binary string, progress func(string, ...any)) scalePoint {
	start := time.Now()
	p := scalePoint{n: n}
	progress("scale curve: %d resources on a fresh control plane", n)
	if err := measureScalePoint(ctx, o, &p, binary, progress); err != nil {
		p.err = logging.Scrub(err.Error())
		progress("scale curve: %d resources failed: %s", n, p.err)
	}
	p.wall = time.Since(start)
	return p
}

func measureScalePoint(ctx context.Context, o options, p *scalePoint, binary string, progress func(string, ...any)) error {
	so := scaleOptions(o, p.n)
	p.pats, p.serviceUsers = so.tokens, so.serviceUsers
	c, err := startCluster(ctx, progress, binary)
	if err != nil {
		return err
	}
	defer c.stop()
	c.srv.SetFaults(devinapitest.Faults{Latency: o.latency})
	if p.floor, err = runFloor(ctx, c, so); err != nil {
		return err
	}
	if err := c.ensureNamespaces(ctx, benchNamespacePrefix, so.namespaces); err != nil {
		return err
	}
	if _, err := c.startOperator(ctx, so, time.Hour); err != nil {
		return err
	}
	if p.idleRSS, _, err = c.op.memory(); err != nil {
		return err
	}
	if p.create, err = runCreate(ctx, c, so); err != nil {
		return err
	}
	progress("scale curve: %d resources Ready after %s (floor %s)", p.n, p.create.ready.Round(time.Millisecond), p.floor.duration.Round(time.Millisecond))
	if err := sleep(ctx, o.settle); err != nil {
		return err
	}
	if p.rss, p.hwm, err = c.op.memory(); err != nil {
		return err
	}
	if st, err := c.operatorStats(ctx); err == nil {
		p.heap = st.HeapInuse
	}
	return p.finish(ctx, c)
}

// finish checks the invariant, stops the manager and collects the contract violations and
// the log scan.
func (p *scalePoint) finish(ctx context.Context, c *cluster) error {
	c.srv.SetFaults(devinapitest.Faults{})
	var err error
	if p.invariant, err = checkInvariant(ctx, c); err != nil {
		return err
	}
	if _, err := c.op.stop(time.Minute); err != nil {
		return fmt.Errorf("stop the operator: %w", err)
	}
	p.violations = contractViolations(c.srv)
	p.logs, err = scanLogs(c.logs)
	return err
}
