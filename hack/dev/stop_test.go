package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestInterruptLeavesNoProcess runs `make run` until it is ready, interrupts it as Ctrl-C
// does (main turns SIGINT into the cancellation of this context) and checks that the
// control plane it started (kube-apiserver, etcd) is gone when it returns.
func TestInterruptLeavesNoProcess(t *testing.T) {
	opts, err := parse([]string{"--dir", t.TempDir(), "--metrics-bind-address=0", "--health-probe-bind-address=0"})
	if err != nil {
		t.Fatal(err)
	}
	opts.logTo = io.Discard
	before := children(t)
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	out := &lineWatcher{want: "▶ ready", seen: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- runWith(ctx, opts, out) }()

	select {
	case <-out.seen:
	case err := <-done:
		t.Fatalf("make run ended before it was ready: %v\n%s", err, out.text())
	case <-time.After(3 * time.Minute):
		t.Fatalf("make run not ready after 3 minutes:\n%s", out.text())
	}
	started := map[int]string{}
	for pid, name := range children(t) {
		if _, old := before[pid]; !old {
			started[pid] = name
		}
	}
	var names []string
	for _, n := range started {
		names = append(names, n)
	}
	if !strings.Contains(strings.Join(names, " "), "kube-apiserver") || !strings.Contains(strings.Join(names, " "), "etcd") {
		t.Fatalf("make run started %v; want kube-apiserver and etcd among them", names)
	}

	interrupt()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("make run ended with %v after Ctrl-C", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("make run did not stop within a minute of Ctrl-C")
	}
	if !strings.Contains(out.text(), "▶ stopping") {
		t.Errorf("no stopping line:\n%s", out.text())
	}
	for pid, name := range started {
		if alive(pid) {
			t.Errorf("%s (pid %d) still runs after make run stopped", name, pid)
		}
	}
}

// children returns the live child processes of this process by PID, with their names.
func children(t *testing.T) map[int]string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	self := os.Getpid()
	out := map[int]string{}
	for _, path := range stats {
		pid, name, ppid, state, ok := readStat(path)
		if ok && ppid == self && state != "Z" {
			out[pid] = name
		}
	}
	return out
}

func alive(pid int) bool {
	_, _, _, state, ok := readStat(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	return ok && state != "Z"
}

// readStat parses /proc/PID/stat: "pid (name) state ppid ...".
func readStat(path string) (pid int, name string, ppid int, state string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, "", 0, "", false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return 0, "", 0, "", false
	}
	fields := strings.Fields(s[closing+1:])
	if len(fields) < 2 {
		return 0, "", 0, "", false
	}
	pid, err1 := strconv.Atoi(strings.TrimSpace(s[:open]))
	ppid, err2 := strconv.Atoi(fields[1])
	return pid, s[open+1 : closing], ppid, fields[0], err1 == nil && err2 == nil
}

// lineWatcher collects what make run prints and closes seen once want appears.
type lineWatcher struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
	once sync.Once
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *lineWatcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
