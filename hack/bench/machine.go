// Where the bench ran: the machine and the source tree measured for the report's header, and
// the CPU time of the bench and of the whole machine, to tell other processes' load apart.

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
	"syscall"
	"time"
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
	if b, err := kiBytes(firstField("/proc/meminfo", "MemTotal")); err == nil {
		m.memory = b
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

// firstField returns the value of key in a /proc file of "key: value" lines, or "unknown".
func firstField(path, key string) string {
	fields, _ := procFields(path)
	if v, ok := fields[key]; ok {
		return v
	}
	return "unknown"
}

// procFields reads a /proc file of "key: value" lines (status, meminfo, cpuinfo), keys and
// values trimmed; a key that repeats (cpuinfo's, once per CPU) keeps its first value.
func procFields(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if k = strings.TrimSpace(k); ok {
			if _, seen := out[k]; !seen {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out, sc.Err()
}

// kiBytes reads a /proc size ("16384 kB") in bytes.
func kiBytes(v string) (uint64, error) {
	f := strings.Fields(v)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("unexpected size %q", v)
	}
	kb, err := strconv.ParseUint(f[0], 10, 64)
	return kb * 1024, err
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

// benchCPU is the CPU time this process (the bench, its informers and the in-memory Devin
// API) has used, in seconds.
func benchCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// machineCPU is the CPU time spent by the whole machine so far (user, nice, system, irq,
// softirq and steal of /proc/stat), in seconds; 0 when unknown.
func machineCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads the busy time of the "cpu" line of /proc/stat (in USER_HZ, 100 per
// second on Linux).
func parseProcStatCPU(stat string) float64 {
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		busy := 0.0
		// user nice system idle iowait irq softirq steal
		for _, i := range []int{1, 2, 3, 6, 7, 8} {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return 0
			}
			busy += v
		}
		return busy / 100
	}
	return 0
}
