// The manager's profiles: CPU over the create phase and the heap after it, through its pprof
// endpoint, summarised with go tool pprof for the report.

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// cpuChunk is the length of each CPU profile the bench takes in turn: a profile's length is
// fixed when it starts, and a phase's is not known then, so the phase is covered by chunks
// merged afterwards (go tool pprof merges profiles of the same type).
const cpuChunk = 5 * time.Second

// profileResult summarises the manager's profiles: CPU over the create phase, heap right
// after it. The summaries are `go tool pprof -top` outputs.
type profileResult struct {
	// dir is where cpu.pprof and heap.pprof were saved.
	dir                  string
	cpuFlat, cpuCum      string
	heapInuse, heapAlloc string
	chunks               int
	cpuWindow            time.Duration
	err                  string
}

// profileDir is where the profiles go: profiles/ next to the report, or the run's temporary
// directory when no report is written.
func profileDir(o options, c *cluster) string {
	if o.out == "" {
		return filepath.Join(c.dir, "profiles")
	}
	return filepath.Join(filepath.Dir(o.out), "profiles")
}

// runProfiledCreate runs the create phase with the manager's CPU profiled throughout (until
// the operator is idle again), then takes a heap profile (after a GC) and summarises both.
// A profile that cannot be had is reported, not fatal.
func runProfiledCreate(ctx context.Context, c *cluster, o options, dir string) (createResult, profileResult, error) {
	if !o.pprof {
		res, err := runCreate(ctx, c, o)
		return res, profileResult{err: "not taken (--pprof=false)"}, err
	}
	prof := profileResult{dir: dir}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return createResult{}, prof, err
	}
	cpu := c.startCPUProfile(ctx, dir)
	res, err := runCreate(ctx, c, o)
	chunks, perr := cpu.stop()
	if err != nil {
		return res, prof, err
	}
	prof.chunks, prof.cpuWindow = len(chunks), cpu.window()
	if perr == nil {
		perr = prof.summarize(ctx, c, chunks)
	}
	if perr != nil {
		prof.err = perr.Error()
	}
	return res, prof, nil
}

// summarize merges the CPU chunks into cpu.pprof, fetches heap.pprof, and reads the top
// functions of each.
func (p *profileResult) summarize(ctx context.Context, c *cluster, chunks []string) error {
	cpuPath, heapPath := filepath.Join(p.dir, "cpu.pprof"), filepath.Join(p.dir, "heap.pprof")
	if err := mergeProfiles(ctx, cpuPath, chunks); err != nil {
		return err
	}
	if err := fetchTo(ctx, c.pprofURL("heap?gc=1"), heapPath); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	var err error
	for _, s := range []struct {
		out  *string
		args []string
	}{
		{&p.cpuFlat, []string{"-top", cpuPath}},
		{&p.cpuCum, []string{"-top", "-cum", cpuPath}},
		{&p.heapInuse, []string{"-top", "-sample_index=inuse_space", heapPath}},
		{&p.heapAlloc, []string{"-top", "-sample_index=alloc_space", heapPath}},
	} {
		if *s.out, err = pprofTool(ctx, append([]string{"-nodecount=15"}, s.args...)...); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) pprofURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/%s", c.pprofPort, path)
}

// cpuProfiler takes CPU profiles of cpuChunk in turn until stopped.
type cpuProfiler struct {
	stopCh, done chan struct{}
	chunks       []string
	started      time.Time
	ended        time.Time
	err          error
}

func (c *cluster) startCPUProfile(ctx context.Context, dir string) *cpuProfiler {
	p := &cpuProfiler{stopCh: make(chan struct{}), done: make(chan struct{}), started: time.Now()}
	u := c.pprofURL(fmt.Sprintf("profile?seconds=%d", int(cpuChunk/time.Second)))
	go func() {
		defer close(p.done)
		defer func() { p.ended = time.Now() }()
		for i := 0; ; i++ {
			path := filepath.Join(dir, fmt.Sprintf("cpu-%03d.pprof", i))
			if err := fetchTo(ctx, u, path); err != nil {
				p.err = fmt.Errorf("CPU profile: %w", err)
				return
			}
			p.chunks = append(p.chunks, path)
			select {
			case <-p.stopCh:
				return
			default:
			}
		}
	}()
	return p
}

// stop waits for the chunk under way and returns every chunk taken.
func (p *cpuProfiler) stop() ([]string, error) {
	close(p.stopCh)
	<-p.done
	return p.chunks, p.err
}

// window is how long the chunks covered, from the first start to the last end.
func (p *cpuProfiler) window() time.Duration { return p.ended.Sub(p.started) }

// fetchTo GETs url into the file path.
func fetchTo(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, cpuChunk+time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// mergeProfiles merges profiles of one type into out (go tool pprof -proto) and removes them.
func mergeProfiles(ctx context.Context, out string, in []string) error {
	if len(in) == 0 {
		return fmt.Errorf("no CPU profile was taken")
	}
	merged, err := pprofTool(ctx, append([]string{"-proto"}, in...)...)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(merged), 0o644); err != nil {
		return err
	}
	for _, p := range in {
		_ = os.Remove(p)
	}
	return nil
}

// pprofTool runs go tool pprof with args and returns its standard output.
func pprofTool(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// trimTop drops the lines of a pprof -top output that are of this run only (file, build
// ID, date).
func trimTop(top string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(top, "\n"), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
