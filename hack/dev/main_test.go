package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSmoke runs `make run ARGS=--smoke` in-process: the dev environment comes up, the
// samples become Ready with live tokens, an SSO user is refused, deletion revokes.
func TestSmoke(t *testing.T) {
	var out, logs bytes.Buffer
	o := []string{"--smoke", "--dir", t.TempDir(), "--metrics-bind-address=0", "--health-probe-bind-address=0"}
	opts, err := parse(o)
	if err != nil {
		t.Fatal(err)
	}
	opts.logTo = &logs
	if err := runWith(context.Background(), opts, &out); err != nil {
		t.Fatalf("smoke failed: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "smoke test passed") {
		t.Fatalf("no success line:\n%s", out.String())
	}
	if strings.Contains(out.String()+logs.String(), "cog_") {
		t.Fatal("a token value was printed")
	}
}
