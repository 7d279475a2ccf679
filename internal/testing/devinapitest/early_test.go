package devinapitest

import (
	"testing"
	"time"
)

// TestIsEarly covers the rule behind EarlyRequests: a call on the connection that was
// answered with a Retry-After, before it elapsed, was sent after the client read it and is
// early; a call on another connection may have been on its way and is never judged.
func TestIsEarly(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	type testCase struct {
		remote string
		at     time.Duration // after the announcement
		want   bool
	}
	tests := map[string]testCase{
		"same connection, at once":                 {remote: "conn-a", at: time.Millisecond, want: true},
		"same connection, before it elapsed":       {remote: "conn-a", at: 900 * time.Millisecond, want: true},
		"same connection, after it elapsed":        {remote: "conn-a", at: time.Second, want: false},
		"other connection, at once":                {remote: "conn-b", at: time.Millisecond, want: false},
		"other connection, long after":             {remote: "conn-b", at: 900 * time.Millisecond, want: false},
		"other connection, after it elapsed":       {remote: "conn-b", at: 2 * time.Second, want: false},
		"connection told before, still in flight":  {remote: "conn-old", at: time.Millisecond, want: true},
		"connection whose wait elapsed, in flight": {remote: "conn-done", at: time.Millisecond, want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := &faultState{}
			fs.reset(Faults{RetryAfter: time.Second})
			fs.announce("conn-done", t0.Add(-2*time.Second))
			fs.announce("conn-old", t0.Add(-100*time.Millisecond))
			fs.announce("conn-a", t0)
			if _, kept := fs.told["conn-done"]; kept {
				t.Errorf("an elapsed Retry-After is still remembered")
			}
			if got := fs.isEarly(tc.remote, t0.Add(tc.at)); got != tc.want {
				t.Errorf("isEarly(%s, +%v) = %v, want %v", tc.remote, tc.at, got, tc.want)
			}
		})
	}
}
