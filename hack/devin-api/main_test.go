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
		// noPATs: the PAT endpoints answer as unknown routes.
		noPATs bool
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
		"without the PAT API, with the enterprise admin key": {
			args: func(dir string) []string {
				return []string{"--listen", "127.0.0.1:0", "--pat-api=false", "--admin-token-file", filepath.Join(dir, "token"),
					"--enterprise-admin-key-file", filepath.Join(dir, "apk")}
			},
			noPATs: true,
		},
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
			if tc.noPATs {
				tok, _ := os.ReadFile(filepath.Join(dir, "token"))
				status, body := get(t, url+"/v3beta1/enterprise/members/users/user-alice/personal-access-tokens?status=active", string(tok))
				if status != http.StatusNotFound || body != `{"detail":"Not Found"}` {
					t.Errorf("PAT list without the PAT API: %d %s", status, body)
				}
				key, err := os.ReadFile(filepath.Join(dir, "apk"))
				if err != nil || !strings.HasPrefix(string(key), "apk_user_") {
					t.Fatalf("enterprise admin key file: %v", err)
				}
				if status, body := get(t, url+"/v2/enterprise/members/user-alice", string(key)); status != http.StatusOK {
					t.Errorf("v2 with the enterprise admin key: %d %s", status, body)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
}

// get sends an authenticated GET and returns the status and body.
func get(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
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
		"bad key path":   {args: []string{"--listen", "127.0.0.1:0", "--enterprise-admin-key-file", filepath.Join(dir, "no", "such", "dir")}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), tc.args, io.Discard); err == nil {
				t.Errorf("run(%v) succeeded", tc.args)
			}
		})
	}
}
