// Phase periodic check measures the steady state at a short --verify-interval: Devin calls
// and Kubernetes writes per check, the service-user listings per round, and how the first
// checks after a restart spread over the interval.

package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// checkGauge is the manager's metric of when each resource's token was last seen active
// upstream (Unix seconds): it changes at every periodic check, and only then. Status holds no
// time of a check (writing one would cost a write per check), so the bench reads the checks
// from it.
const checkGauge = "token_operator_token_last_check_timestamp_seconds"

// checks counts periodic checks by kind.
type checks struct{ pats, serviceUsers int }

func (c checks) total() int { return c.pats + c.serviceUsers }

// checkEvent is one periodic check.
type checkEvent struct {
	// resource is kind/namespace/name.
	resource    string
	serviceUser bool
	// at is the gauge's value: the check's time in whole seconds.
	at time.Time
}

// checkLog turns successive scrapes of checkGauge into checks: a series that appears or
// whose value changes is a check. Only the bench's namespaces count. Scraped at least once a
// second as often as the interval, no check is missed. Safe for concurrent use.
type checkLog struct {
	mu     sync.Mutex
	last   map[string]float64
	events []checkEvent
}

// observe records the checks a scrape shows.
func (l *checkLog) observe(samples []Sample) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]float64{}
	}
	for _, s := range samples {
		if s.Name != checkGauge || !strings.HasPrefix(s.Labels["namespace"], benchNamespacePrefix) {
			continue
		}
		key := s.Labels["kind"] + "/" + s.Labels["namespace"] + "/" + s.Labels["name"]
		if v, seen := l.last[key]; seen && v == s.Value {
			continue
		}
		l.last[key] = s.Value
		l.events = append(l.events, checkEvent{resource: key, serviceUser: s.Labels["kind"] == "ServiceUser",
			at: time.Unix(int64(s.Value), 0)})
	}
}

func (l *checkLog) snapshot() []checkEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]checkEvent(nil), l.events...)
}

// countChecks counts, by kind, the checks at or after from and before to.
func countChecks(events []checkEvent, from, to time.Time) checks {
	var c checks
	for _, e := range events {
		if e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		if e.serviceUser {
			c.serviceUsers++
		} else {
			c.pats++
		}
	}
	return c
}

// firstChecks returns, for every resource checked at or after since, when its first such
// check came, from since; sorted.
func firstChecks(events []checkEvent, since time.Time) []time.Duration {
	first := map[string]time.Time{}
	for _, e := range events {
		if e.at.Before(since) {
			continue
		}
		if t, ok := first[e.resource]; !ok || e.at.Before(t) {
			first[e.resource] = e.at
		}
	}
	out := make([]time.Duration, 0, len(first))
	for _, t := range first {
		out = append(out, t.Sub(since))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// peakShare is the largest share of the (sorted) offsets that fall within any window of
// width w: 1/10 for checks spread evenly over an interval of 10 w, 1 for a burst.
func peakShare(sorted []time.Duration, w time.Duration) float64 {
	if len(sorted) == 0 {
		return 0
	}
	best, j := 0, 0
	for i := range sorted {
		for sorted[i]-sorted[j] >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return float64(best) / float64(len(sorted))
}

// watchChecks scrapes the running manager's checkGauge into l every period until the
// returned function is called; that function scrapes once more and waits.
func (c *cluster) watchChecks(ctx context.Context, l *checkLog, period time.Duration) func() {
	poll := func() {
		if s, err := c.scrapeChecks(ctx); err == nil {
			l.observe(s)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			poll()
			select {
			case <-stop:
				poll()
				return
			case <-ctx.Done():
				return
			case <-time.After(period):
			}
		}
	}()
	return func() { close(stop); <-done }
}

// checkResult is the periodic upstream check, measured with a short --verify-interval.
type checkResult struct {
	interval  time.Duration
	resources int
	// restart is from the stop of the previous process until the new one had reconciled
	// every resource once.
	restart delta
	// firstRound holds, per resource, when its first check came after the process started.
	firstRound []time.Duration
	// window is the steady measurement that follows: the checks seen in it, and its cost.
	window delta
	checks checks
}

// runPeriodicCheck restarts the manager with --verify-interval=o.verifyInterval. Nothing is
// remembered across a restart, so the new process spreads the first check of each resource
// over one interval; once every resource has been reconciled, o.steadyWindow is measured with
// nothing changing but the periodic checks. The checks are read from checkGauge, scraped
// every 2 s; the window starts and ends on whole seconds, the gauge's resolution, so the
// cost per check does not depend on how the window cuts the rounds.
func runPeriodicCheck(ctx context.Context, c *cluster, o options) (checkResult, error) {
	res := checkResult{interval: o.verifyInterval}
	objs, err := c.objects.list(ctx)
	if err != nil {
		return res, err
	}
	res.resources = len(objs)
	if _, err := c.op.stop(time.Minute); err != nil {
		return res, fmt.Errorf("stop the operator: %w", err)
	}
	before, err := c.snapshot(ctx) // no operator runs: its counters start at zero
	if err != nil {
		return res, err
	}
	if _, err := c.startOperator(ctx, o, o.verifyInterval); err != nil {
		return res, err
	}
	log := &checkLog{}
	stopWatch := c.watchChecks(ctx, log, 2*time.Second)
	defer func() {
		if stopWatch != nil {
			stopWatch()
		}
	}()
	if err := c.waitReconciled(ctx, float64(len(objs))); err != nil {
		return res, err
	}
	mid, err := c.snapshotOnSecond(ctx, time.Now())
	if err != nil {
		return res, err
	}
	res.restart = before.to(mid)
	end, err := c.snapshotOnSecond(ctx, mid.at.Add(o.steadyWindow))
	if err != nil {
		return res, err
	}
	stopWatch()
	stopWatch = nil
	res.window = mid.to(end)
	events := log.snapshot()
	res.checks = countChecks(events, mid.at.Truncate(time.Second), end.at.Truncate(time.Second))
	res.firstRound = firstChecks(events, c.op.started.Truncate(time.Second))
	return res, nil
}

// scrapeChecks scrapes checkGauge of the running manager.
func (c *cluster) scrapeChecks(ctx context.Context) ([]Sample, error) {
	return c.scrapeOperator(ctx, checkGauge)
}

// snapshotOnSecond waits until the first whole second at or after t and takes a snapshot.
func (c *cluster) snapshotOnSecond(ctx context.Context, t time.Time) (snapshot, error) {
	at := t.Truncate(time.Second)
	if at.Before(t) {
		at = at.Add(time.Second)
	}
	if err := sleep(ctx, time.Until(at)); err != nil {
		return snapshot{}, err
	}
	return c.snapshot(ctx)
}
