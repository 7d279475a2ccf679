// What shows that the figures are of a correct run: the invariant over the cluster, the
// Devin API contract violations, and the token values in the operator's logs.

package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/cogtokens/token-operator/internal/logging"
	"github.com/cogtokens/token-operator/internal/testing/audit"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

// checkInvariant checks the operator's promise over the cluster with the shared audit:
// every resource Ready, its Secret holding the live upstream token its status names, and no
// live upstream token or active service user owned by nobody. Replaced tokens still in their
// grace period are allowed (the run ends soon after the storm's revocations). The Devin API's
// latency faults must be off: this is not measured. Token values are never reported.
func checkInvariant(ctx context.Context, c *cluster) (audit.Report, error) {
	checker := &audit.Checker{Kube: c.admin, API: c.srv.Client(), Upstream: c.srv, Mode: audit.Grace}
	return checker.Check(ctx)
}

// contractViolations takes, scrubbed, the requests and answers of the in-memory Devin API
// that broke the vendor's published contract during the run: the operator's client or the
// fake was wrong, and the figures are not of the real API's traffic.
func contractViolations(srv *devinapitest.Server) []string {
	var out []string
	for _, v := range srv.TakeViolations() {
		out = append(out, logging.Scrub(v.String()))
	}
	return out
}

// logScan is the result of scanning the operator's logs for token values.
type logScan struct {
	files, lines, leaks int
}

// add sums two scans.
func (l logScan) add(o logScan) logScan {
	return logScan{files: l.files + o.files, lines: l.lines + o.lines, leaks: l.leaks + o.leaks}
}

// scanLogs counts the lines of the operator's logs that hold something like a token value
// (tokenpattern: a scrubbed placeholder does not count).
func scanLogs(paths []string) (logScan, error) {
	var res logScan
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return res, fmt.Errorf("scan the operator's log: %w", err)
		}
		res.files++
		for _, line := range strings.Split(string(b), "\n") {
			if line == "" {
				continue
			}
			res.lines++
			if tokenpattern.Contains(line) {
				res.leaks++
			}
		}
	}
	return res, nil
}
