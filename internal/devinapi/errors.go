package devinapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cogtokens/token-operator/internal/tokenpattern"
)

// Sentinel errors classify every failure of the Devin API. Test them with errors.Is; an
// *APIError matches the sentinels of its class. Error texts never contain a token value.
var (
	// ErrNotFound: the object does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object is in a conflicting state, e.g. a key already revoked (409).
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized: the operator's own credential was refused (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the request was refused for a reason (403); the more precise
	// ErrSSOAccount and ErrFeatureNotEnabled also match ErrForbidden.
	ErrForbidden = errors.New("forbidden")
	// ErrSSOAccount: the user is linked to enterprise SSO and cannot have a PAT.
	ErrSSOAccount = errors.New("account is linked to enterprise SSO")
	// ErrFeatureNotEnabled: the account does not have the (closed beta) feature.
	ErrFeatureNotEnabled = errors.New("feature not enabled for this account")
	// ErrInvalid: the request was rejected as malformed (400, 422).
	ErrInvalid = errors.New("invalid request")
	// ErrRetryable: a transient failure (429, 503, other 5xx, timeouts, connection errors);
	// RetryAfter tells how long the server asked to wait, if it did.
	ErrRetryable = errors.New("temporary failure")
	// ErrPATAPIUnavailable: the API has no personal access token endpoint (the vendor has not
	// published one; the client's PAT paths are assumed). It is not ErrNotFound, nor
	// retryable: only a new API version, or the operator's configuration, changes it.
	ErrPATAPIUnavailable = errors.New("the Devin API has no personal access token endpoint")
)

// APIError is an error answer of the Devin API, parsed from an RFC 9457 problem document or
// from the older {"detail": "..."} body.
type APIError struct {
	// Op names the client operation, e.g. "CreatePAT".
	Op string
	// Status is the HTTP status code.
	Status int
	// Type, Title, Detail and Instance are the problem document's members.
	Type     string
	Title    string
	Detail   string
	Instance string
	// Errors holds the validation errors of a 422 answer.
	Errors []FieldError
	// RetryAfter is the delay asked by a Retry-After header (zero when absent).
	RetryAfter time.Duration
	// Permission is the permission the vendor's docs name for the operation (see
	// RequiredPermission); empty when they name none. With a 403 it is what the credential
	// lacks, so that a caller can say "the operator's credential lacks <Permission> for <Op>".
	Permission string
	// RouteMissing is set on an answer of a PAT operation that says the endpoint does not
	// exist (FastAPI's default 404 or 405 body): the error matches ErrPATAPIUnavailable
	// instead of ErrNotFound.
	RouteMissing bool
}

// FieldError is one entry of a 422 answer's "errors" list.
type FieldError struct {
	Loc  []any  `json:"loc,omitempty"`
	Msg  string `json:"msg,omitempty"`
	Type string `json:"type,omitempty"`
}

// Error returns "devinapi: <Op>: <status> <status text>: <detail>". It never contains a
// token value: every string taken from the answer is scrubbed of "cog_" tokens and shortened.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("devinapi: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(e.Status))
	if text := http.StatusText(e.Status); text != "" {
		b.WriteString(" ")
		b.WriteString(text)
	}
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	switch {
	case e.RouteMissing:
		b.WriteString(" (the API has no such endpoint)")
	case e.Status == http.StatusForbidden && e.Permission != "":
		b.WriteString(" (requires ")
		b.WriteString(e.Permission)
		b.WriteString(")")
	}
	if len(e.Errors) > 0 {
		b.WriteString(" (")
		for i, fe := range e.Errors {
			if i == maxErrorsInText {
				fmt.Fprintf(&b, "; and %d more", len(e.Errors)-i)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(fe.String())
		}
		b.WriteString(")")
	}
	return scrub(b.String())
}

// Is reports whether e belongs to the class of target:
//   - ErrNotFound: 404; ErrConflict: 409; ErrUnauthorized: 401;
//   - ErrForbidden: 403, and every answer that matches ErrSSOAccount or ErrFeatureNotEnabled;
//   - ErrSSOAccount: 403 or 422 whose problem type ends with "sso-account";
//   - ErrFeatureNotEnabled: 403 whose problem type ends with "feature-not-enabled";
//   - ErrInvalid: 400, and 422 unless it is an SSO refusal (a refusal, not a malformed request);
//   - ErrRetryable: 408, 429 and every 5xx;
//   - ErrPATAPIUnavailable: RouteMissing, which no other class then matches.
func (e *APIError) Is(target error) bool {
	if e.RouteMissing {
		return target == ErrPATAPIUnavailable
	}
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden || e.isSSORefusal()
	case ErrSSOAccount:
		return e.isSSORefusal()
	case ErrFeatureNotEnabled:
		return e.Status == http.StatusForbidden && strings.HasSuffix(e.Type, "feature-not-enabled")
	case ErrInvalid:
		return e.Status == http.StatusBadRequest ||
			(e.Status == http.StatusUnprocessableEntity && !e.isSSORefusal())
	case ErrRetryable:
		return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests ||
			e.Status >= 500
	}
	return false
}

func (e *APIError) isSSORefusal() bool {
	return (e.Status == http.StatusForbidden || e.Status == http.StatusUnprocessableEntity) &&
		strings.HasSuffix(e.Type, "sso-account")
}

// String renders a field error as "loc.path: msg".
func (fe FieldError) String() string {
	parts := make([]string, 0, len(fe.Loc))
	for _, l := range fe.Loc {
		parts = append(parts, fmt.Sprint(l))
	}
	loc := strings.Join(parts, ".")
	switch {
	case loc == "":
		return fe.Msg
	case fe.Msg == "":
		return loc
	}
	return loc + ": " + fe.Msg
}

// RequestError is a request that got no answer: a connection failure, a timeout (the
// per-request Options.Timeout or the caller's context deadline), an answer cut short, or a
// wait for the rate limiter or the server's Retry-After that would outlive the caller's
// deadline. It always matches ErrRetryable, and also whatever Err matches (e.g.
// context.DeadlineExceeded for a timeout). A create that fails this way may or may not have
// happened. The cancellation of the caller's context is not a RequestError: it is returned
// wrapped as is and does not match ErrRetryable.
type RequestError struct {
	// Op names the client operation.
	Op string
	// Err is the underlying failure.
	Err error
	// RetryAfter is how long the client still has to hold back because of an earlier
	// Retry-After (zero when that is not why the request failed).
	RetryAfter time.Duration
}

// Error describes the failure without any token value.
func (e *RequestError) Error() string {
	msg := "request failed"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	return scrub("devinapi: " + msg)
}

// Unwrap returns ErrRetryable and the underlying failure.
func (e *RequestError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrRetryable}
	}
	return []error{ErrRetryable, e.Err}
}

// errThrottled is why a request was not sent: the server's Retry-After outlives the caller's
// deadline.
var errThrottled = errors.New("the server's Retry-After delay outlasts the context deadline")

// RetryAfter returns the delay the server asked for (Retry-After of a 429 or 503 answer, or
// the rest of it when a request was held back by it) and true, or false when err carries no
// such delay.
func RetryAfter(err error) (time.Duration, bool) {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter, true
	}
	var reqErr *RequestError
	if errors.As(err, &reqErr) && reqErr.RetryAfter > 0 {
		return reqErr.RetryAfter, true
	}
	return 0, false
}

// IsGone reports whether err says the object no longer exists or is already in its final
// state (ErrNotFound or ErrConflict): for a revocation or a deletion, the job is done.
func IsGone(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}

const (
	// maxEchoBytes bounds every string taken from an error answer.
	maxEchoBytes = 200
	// maxFieldErrors bounds the validation errors kept from one answer.
	maxFieldErrors = 20
	// maxErrorsInText bounds the validation errors written into Error().
	maxErrorsInText = 3
	// maxLocParts bounds the location elements of one validation error.
	maxLocParts = 10
	// maxRetryAfter caps a Retry-After, so that a wrong header cannot stall the client for days.
	maxRetryAfter = time.Hour
)

// scrub removes token-like strings from s, and a bare prefix too: an answer may cut a token
// with a character that clean turns into a space.
func scrub(s string) string {
	s = tokenpattern.Replace(s, "[REDACTED]")
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+len(tokenpattern.Prefix) <= len(s) && strings.EqualFold(s[i:i+len(tokenpattern.Prefix)], tokenpattern.Prefix) {
			b.WriteString("[REDACTED]")
			i += len(tokenpattern.Prefix)
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// clean makes a string taken from an answer safe to show: valid UTF-8, no control characters,
// no token, at most maxEchoBytes bytes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(scrub(s))
	if len(s) <= maxEchoBytes {
		return s
	}
	cut := maxEchoBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// parseAPIError turns a non-2xx answer into an *APIError. It accepts RFC 9457 problem
// documents, the older {"detail": "..."} bodies (detail a string or a list of validation
// errors) and any other body, which it echoes only shortened. It never fails.
func parseAPIError(op string, status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Op: op, Status: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil || doc == nil {
		e.Detail = clean(string(body))
		return e
	}
	e.Type = jsonString(doc["type"])
	e.Title = jsonString(doc["title"])
	e.Instance = jsonString(doc["instance"])
	if raw, ok := doc["detail"]; ok {
		if s, isString := stringValue(raw); isString {
			e.Detail = clean(s)
		} else {
			e.Errors = append(e.Errors, fieldErrors(raw)...)
		}
	}
	e.Errors = append(e.Errors, fieldErrors(doc["errors"])...)
	if len(e.Errors) > maxFieldErrors {
		e.Errors = e.Errors[:maxFieldErrors]
	}
	return e
}

// stringValue decodes a JSON string.
func stringValue(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// jsonString decodes a JSON string and cleans it; anything else is "".
func jsonString(raw json.RawMessage) string {
	s, _ := stringValue(raw)
	return clean(s)
}

// fieldErrors decodes a list of validation errors leniently, skipping malformed entries.
func fieldErrors(raw json.RawMessage) []FieldError {
	var items []json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []FieldError
	for _, item := range items {
		if len(out) == maxFieldErrors {
			break
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(item, &m) != nil || m == nil {
			continue
		}
		fe := FieldError{Msg: jsonString(m["msg"]), Type: jsonString(m["type"])}
		var loc []any
		_ = json.Unmarshal(m["loc"], &loc)
		for _, l := range loc {
			if len(fe.Loc) == maxLocParts {
				break
			}
			switch v := l.(type) {
			case string:
				fe.Loc = append(fe.Loc, clean(v))
			case float64, bool:
				fe.Loc = append(fe.Loc, v)
			}
		}
		out = append(out, fe)
	}
	return out
}

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP date. It returns zero
// when the header is absent, malformed or in the past, and caps the delay at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil {
		if secs > uint64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}
