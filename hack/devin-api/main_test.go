package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunServesUntilCanceled(t *testing.T) {
	type testCase struct {
		args      func(dir string) []string
		wantToken bool
	}
	tests := map[string]testCase{
		"with token file and seed": {
			args: func(dir string) []string {
				seed := filepath.Join(dir, "seed.yaml")
				if err := os.WriteFile(seed, []byte("users:\n- email: z@example.com\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"--listen", "127.0.0.1:0", "--seed", seed, "--admin-token-file", filepath.Join(dir, "token"), "--latency", "1ms"}
			},
			wantToken: true,
		},
		"without token file": {args: func(string) []string { return []string{"--listen", "127.0.0.1:0"} }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, tc.args(dir), pw)
				pw.Close()
			}()
			lines := bufio.NewScanner(pr)
			var url string
			for url == "" && lines.Scan() {
				if u, ok := strings.CutPrefix(lines.Text(), "devin-api: serving on "); ok {
					url = u
				}
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			if url == "" {
				t.Fatalf("the server did not say where it serves: %v", <-done)
			}
			resp, err := http.Get(url + "/_fake/calls")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /_fake/calls: %d", resp.StatusCode)
			}
			if tc.wantToken {
				info, err := os.Stat(filepath.Join(dir, "token"))
				if err != nil || info.Mode().Perm() != 0o600 {
					t.Fatalf("token file: %v, %v", info, err)
				}
				tok, _ := os.ReadFile(filepath.Join(dir, "token"))
				req, _ := http.NewRequest(http.MethodGet, url+"/v3/enterprise/members/users?email=z@example.com", nil)
				req.Header.Set("Authorization", "Bearer "+string(tok))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "user-z") {
					t.Errorf("users with the written token: %d %s", resp.StatusCode, body)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	dir := t.TempDir()
	type testCase struct {
		args []string
	}
	tests := map[string]testCase{
		"bad flag":       {args: []string{"--nope"}},
		"missing seed":   {args: []string{"--listen", "127.0.0.1:0", "--seed", filepath.Join(dir, "missing")}},
		"bad address":    {args: []string{"--listen", "not an address"}},
		"bad token path": {args: []string{"--listen", "127.0.0.1:0", "--admin-token-file", filepath.Join(dir, "no", "such", "dir")}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), tc.args, io.Discard); err == nil {
				t.Errorf("run(%v) succeeded", tc.args)
			}
		})
	}
}
