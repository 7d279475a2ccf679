package policy

import (
	"fmt"
	"strings"
	"time"
)

const (
	// maxListed bounds how many values of a policy a message lists.
	maxListed = 8
	// maxQuoted bounds how much of a requester's own input a message echoes.
	maxQuoted = 128
)

func refusal(policy, why string) string {
	return fmt.Sprintf("policy %s: %s", policy, why)
}

// quote echoes a value a request or a policy carried, escaped and shortened.
func quote(s string) string {
	if len(s) > maxQuoted {
		s = strings.ToValidUTF8(s[:maxQuoted], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

// listOf formats at most maxListed values: "[Member, Admin]", "[a, b, ... (3 more)]".
func listOf[S ~string](values []S) string {
	parts := make([]string, 0, min(len(values), maxListed)+1)
	for i, v := range values {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("... (%d more)", len(values)-maxListed))
			break
		}
		parts = append(parts, string(v))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// FormatDuration prints a duration without trailing zero units, as a person writes it in a
// spec: 2160h, 1h30m, 1m30s. Policy messages and the benchmark's report print durations so.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func describeRequester(r Requester) string {
	return fmt.Sprintf("user %s (%s)", quote(r.User), describeEmail(r.Email))
}

func describeEmail(email string) string {
	if email == "" {
		return "no Devin email"
	}
	return "Devin email " + quote(email)
}
