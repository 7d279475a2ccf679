package policy

import (
	"strings"
	"testing"
	"time"
)

func TestMessageHelpers(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2160 * time.Hour: "2160h", 90 * time.Minute: "1h30m", 30 * time.Minute: "30m", 90 * time.Second: "1m30s", 0: "0s", time.Hour + time.Second: "1h0m1s",
		time.Hour: "1h", time.Minute: "1m", 20 * time.Second: "20s", 50 * time.Millisecond: "50ms", 2*time.Minute + 5*time.Second: "2m5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	if got := listOf([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}); got != "[a, b, c, d, e, f, g, h, ... (2 more)]" {
		t.Errorf("listOf = %q", got)
	}
	if got := quote(strings.Repeat("é", 100)); len(got) > maxQuoted+8 || !strings.HasSuffix(got, `..."`) {
		t.Errorf("quote of a long value = %q", got)
	}
	if got := quote("a\nb"); got != `"a\nb"` {
		t.Errorf("quote escapes control characters: %q", got)
	}
}
