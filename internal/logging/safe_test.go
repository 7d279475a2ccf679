package logging_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"

	"github.com/cogtokens/token-operator/internal/logging"
)

type stringer struct{ s string }

func (s stringer) String() string { return s.s }

type logger interface {
	Info(string, ...any)
	Error(error, string, ...any)
}

func TestSafeLoggerNeverWritesATokenValue(t *testing.T) {
	const tok = "cog_abcDEF0123456789abcDEF0123456789abcd"
	cases := map[string]struct {
		log      func(l logger)
		wantLine bool
	}{
		"message":        {log: func(l logger) { l.Info("got " + tok) }, wantLine: true},
		"string value":   {log: func(l logger) { l.Info("x", "v", tok) }, wantLine: true},
		"byte value":     {log: func(l logger) { l.Info("x", "v", []byte(tok)) }, wantLine: true},
		"stringer value": {log: func(l logger) { l.Info("x", "v", stringer{tok}) }, wantLine: true},
		"struct value":   {log: func(l logger) { l.Info("x", "v", struct{ T string }{tok}) }, wantLine: true},
		"error":          {log: func(l logger) { l.Error(errors.New("bad "+tok), "failed") }, wantLine: true},
		"error value":    {log: func(l logger) { l.Info("x", "err", errors.New(tok)) }, wantLine: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			base := funcr.New(func(prefix, args string) { buf.WriteString(prefix + args + "\n") }, funcr.Options{Verbosity: 10})
			l := logging.Safe(base)
			tc.log(l)
			out := buf.String()
			if strings.Contains(out, "abcDEF0123456789") {
				t.Fatalf("token value written: %s", out)
			}
			if tc.wantLine && !strings.Contains(out, logging.Redacted) {
				t.Fatalf("expected the placeholder in %q", out)
			}
		})
	}
}

func TestSafeLoggerDropsClientDumps(t *testing.T) {
	var buf bytes.Buffer
	base := funcr.New(func(prefix, args string) { buf.WriteString(prefix + args + "\n") }, funcr.Options{Verbosity: 10})
	l := logging.Safe(base)
	l.V(8).Info("Request Body", "body", "00000000  63 6f 67 5f |cog_|\n00000010 |x4z5te|")
	l.V(logging.MaxVerbosity).Info("kept")
	if strings.Contains(buf.String(), "Request Body") {
		t.Fatalf("V(8) dump written: %s", buf.String())
	}
	if !strings.Contains(buf.String(), "kept") {
		t.Fatalf("V(%d) line dropped: %s", logging.MaxVerbosity, buf.String())
	}
	if l.V(8).Enabled() {
		t.Fatal("V(8) must be disabled")
	}
}
