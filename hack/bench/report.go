// The report's data (every figure of one run) and the Markdown and number formats that all
// its sections use.

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/cogtokens/token-operator/internal/testing/audit"
)

// results are every figure of one run.
type results struct {
	opts              options
	machine           machine
	started, finished time.Time
	operatorArgs      []string
	floor             floorResult
	create            createResult
	idle              idleResult
	memory            memoryResult
	bloat             bloatResult
	profile           profileResult
	storm             stormResult
	webhook           webhookResult
	recovery          recoveryResult
	check             checkResult
	account           accountResult
	scale             []scalePoint
	invariant         audit.Report
	// violations are the Devin API contract violations of the run, scrubbed.
	violations []string
	logs       logScan
}

// maxListed bounds the problems and violations the report lists.
const maxListed = 20

// list writes up to maxListed items as a Markdown list, and how many it left out.
func list(w func(string, ...any), items []string) {
	for i, it := range items {
		if i == maxListed {
			w("- … and %d more\n", len(items)-maxListed)
			break
		}
		w("- %s\n", it)
	}
	if len(items) > 0 {
		w("\n")
	}
}

// table is a Markdown table under construction.
type table struct {
	b strings.Builder
}

func newTable(head ...string) *table {
	t := &table{}
	t.row(head...)
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
	}
	t.row(seps...)
	return t
}

func (t *table) row(cells ...string) {
	t.b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

func (t *table) String() string { return t.b.String() }

func secs(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func mibf(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

func signedMiB(after, before uint64) string {
	return fmt.Sprintf("%+.1f MiB", (float64(after)-float64(before))/(1<<20))
}

func per(n float64, d int) string {
	if d == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", n/float64(d))
}

// isServiceUserRoute tells the Devin API routes of ServiceUsers from those of PATs.
func isServiceUserRoute(route string) bool {
	return strings.Contains(route, "service-users") || strings.HasSuffix(route, "/roles")
}

func splitCalls(c Calls) (pat, su int) {
	for k, v := range c {
		if isServiceUserRoute(k) {
			su += v
		} else {
			pat += v
		}
	}
	return pat, su
}

func p50p99(ds []time.Duration) string {
	return secs(Percentile(ds, 50)) + " / " + secs(Percentile(ds, 99))
}

// displayArgs drops the flags whose values are of this run only (paths, URLs, ports).
func displayArgs(args []string) []string {
	var out []string
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--kubeconfig", "--devin-api-url", "--webhook-cert-dir", "--webhook-port", "--webhook-host",
			"--metrics-bind-address", "--health-probe-bind-address", "--pprof-bind-address":
			out = append(out, name+"=…")
		default:
			out = append(out, a)
		}
	}
	return out
}

func routes(c Calls) string {
	if len(c) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(c) {
		parts = append(parts, fmt.Sprintf("`%s` %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}
