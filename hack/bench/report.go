package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/cogtokens/token-operator/internal/audit"
)

// machine describes where the bench ran.
type machine struct {
	cpu, kernel, goVersion, apiserver, etcd string
	cores                                   int
	memory                                  uint64
	loadStart, loadEnd                      string
	// otherAPIServers is how many kube-apiservers (other test runs) were running at start.
	otherAPIServers int
	// tree is the commit measured and what differs from it.
	tree string
}

func describeMachine(ctx context.Context) machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version(), loadStart: loadAverage()}
	m.cpu = firstField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseUint(strings.Fields(firstField("/proc/meminfo", "MemTotal") + " 0")[0], 10, 64); err == nil {
		m.memory = kb * 1024
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if assets := os.Getenv("KUBEBUILDER_ASSETS"); assets != "" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, filepath.Join(assets, "etcd"), "--version").Output(); err == nil {
			m.etcd = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		}
	}
	m.otherAPIServers = countProcesses("kube-apiserver")
	m.tree = describeTree(ctx)
	return m
}

// describeTree names the source tree measured: its commit and the files changed since (read
// only: git rev-parse and git diff).
func describeTree(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	head, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	out := "commit " + strings.TrimSpace(string(head))
	changed, err := exec.CommandContext(ctx, "git", "diff", "--name-only", "HEAD").Output()
	if err != nil {
		return out
	}
	var files []string
	for _, f := range strings.Fields(string(changed)) {
		files = append(files, "`"+f+"`")
	}
	if len(files) > 0 {
		out += fmt.Sprintf(" with uncommitted changes to %s (untracked files not listed)", strings.Join(files, ", "))
	}
	return out
}

// firstField returns the value of the first "key : value" line of a /proc file.
func firstField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " / ")
}

// countProcesses counts the processes whose executable is named name.
func countProcesses(name string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		argv0 := strings.SplitN(string(b), "\x00", 2)[0]
		if filepath.Base(argv0) == name {
			n++
		}
	}
	return n
}

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
