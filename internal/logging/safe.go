// Package logging keeps token values out of the operator's logs, whatever the verbosity.
package logging

import (
	"fmt"

	"github.com/go-logr/logr"

	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

// MaxVerbosity is the highest V-level that is written. client-go dumps request and response
// bodies from V(8) on; a Secret's body holds its token, so those levels are never written.
const MaxVerbosity = 7

// Redacted is what a token value becomes in a log line.
const Redacted = "cog_[REDACTED]"

// Scrub replaces anything that looks like a token in s.
func Scrub(s string) string { return tokenpattern.Replace(s, Redacted) }

// Safe wraps a logger so that it never writes a token value: V-levels above MaxVerbosity
// are dropped, and anything that looks like a token in the message, the key/value pairs or
// an error is replaced by a placeholder.
func Safe(l logr.Logger) logr.Logger {
	sink := l.GetSink()
	if sink == nil {
		return l
	}
	if _, ok := sink.(*safeSink); ok {
		return l
	}
	return logr.New(&safeSink{sink: sink}).V(0)
}

type safeSink struct {
	sink logr.LogSink
}

var (
	_ logr.LogSink          = &safeSink{}
	_ logr.CallDepthLogSink = &safeSink{}
)

func (s *safeSink) Init(info logr.RuntimeInfo) {
	info.CallDepth++
	s.sink.Init(info)
}

func (s *safeSink) Enabled(level int) bool {
	return level <= MaxVerbosity && s.sink.Enabled(level)
}

func (s *safeSink) Info(level int, msg string, kv ...any) {
	if level > MaxVerbosity {
		return
	}
	s.sink.Info(level, Scrub(msg), scrubValues(kv)...)
}

func (s *safeSink) Error(err error, msg string, kv ...any) {
	if err != nil && tokenpattern.Contains(err.Error()) {
		err = scrubbedError{msg: Scrub(err.Error())}
	}
	s.sink.Error(err, Scrub(msg), scrubValues(kv)...)
}

func (s *safeSink) WithValues(kv ...any) logr.LogSink {
	return &safeSink{sink: s.sink.WithValues(scrubValues(kv)...)}
}

func (s *safeSink) WithName(name string) logr.LogSink {
	return &safeSink{sink: s.sink.WithName(name)}
}

func (s *safeSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return &safeSink{sink: cd.WithCallDepth(depth)}
	}
	return s
}

// scrubValues replaces values that hold a token. Strings, byte slices, errors and
// Stringers are checked; structured values are rendered with %v and checked too.
func scrubValues(kv []any) []any {
	out := kv
	copied := false
	for i, v := range kv {
		var s string
		switch x := v.(type) {
		case nil, bool, int, int32, int64, uint, uint32, uint64, float32, float64:
			continue
		case string:
			s = x
		case []byte:
			s = string(x)
		case error:
			s = x.Error()
		case fmt.Stringer:
			s = x.String()
		default:
			s = fmt.Sprintf("%v", x)
		}
		if !tokenpattern.Contains(s) {
			continue
		}
		if !copied {
			out = append([]any(nil), kv...)
			copied = true
		}
		out[i] = Scrub(s)
	}
	return out
}

type scrubbedError struct{ msg string }

func (e scrubbedError) Error() string { return e.msg }
