package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Kind classifies a violation of the contract.
type Kind string

const (
	// KindUnknownOperation means the contract has no operation for the request's method and path,
	// and no exemption covers it.
	KindUnknownOperation Kind = "unknown-operation"
	// KindSecurity means the credential is missing or not of the kind the operation accepts (a
	// cog_ bearer token for v3, an apk_user_ enterprise-admin key for v2). The API answers
	// 401 or 403; the fake does so through its own authentication.
	KindSecurity Kind = "security"
	// KindRequest means a parameter or the body does not match the operation. The API answers 422.
	KindRequest Kind = "request"
	// KindUndocumentedParameter means a query parameter the operation does not document. The API
	// (FastAPI) ignores it, so nothing is enforced, but a client must not rely on it.
	KindUndocumentedParameter Kind = "undocumented-parameter"
	// KindResponse means the answer does not match the operation.
	KindResponse Kind = "response"
)

// FieldError locates one failure of a request, as a 422 answer lists it: Loc starts with
// "body", "query", "path" or "header".
type FieldError struct {
	Loc  []string
	Msg  string
	Type string
}

// Violation is one way an exchange differs from the contract.
type Violation struct {
	Kind   Kind
	Method string
	// Path is the escaped request path.
	Path string
	// OperationID is the contract's operation, empty for KindUnknownOperation.
	OperationID string
	// Status is the status of the answer, for KindResponse.
	Status  int
	Message string
	// Fields locate the failures of a KindRequest violation.
	Fields []FieldError
}

// tokenLike matches credential values, which a message must never carry.
var tokenLike = regexp.MustCompile(`(?i)(cog_|apk_user_)[A-Za-z0-9_-]+`)

// String describes the violation on one line, without any credential value.
func (v Violation) String() string {
	op := v.OperationID
	if op == "" {
		op = "no operation"
	}
	s := fmt.Sprintf("contract %s violation: %s %s (%s)", v.Kind, v.Method, v.Path, op)
	if v.Status != 0 {
		s += fmt.Sprintf(" answered %d", v.Status)
	}
	msg := strings.Join(strings.Fields(v.Message), " ")
	return tokenLike.ReplaceAllString(s+": "+msg, "[REDACTED]")
}

// Exchange is the check of one request, kept to check its answer.
type Exchange struct {
	// Exemption is set when the request is exempt: nothing was checked.
	Exemption *Exemption
	// OperationID is the contract's operation, empty when none matched.
	OperationID string
	// Violations of the request.
	Violations []Violation

	method, path string
	input        *openapi3filter.RequestValidationInput
	v            *Validator
}

// Enforced returns the field errors of the request's KindRequest violations: what a 422
// answer of the API lists. It is empty when the API would accept the request.
func (x *Exchange) Enforced() []FieldError {
	var out []FieldError
	for _, v := range x.Violations {
		if v.Kind == KindRequest {
			out = append(out, v.Fields...)
		}
	}
	return out
}

func (x *Exchange) add(kind Kind, status int, msg string, fields ...FieldError) {
	x.Violations = append(x.Violations, Violation{Kind: kind, Method: x.method, Path: x.path,
		OperationID: x.OperationID, Status: status, Message: msg, Fields: fields})
}

// CheckRequest checks a request whose body has been read into body (r.Body is not read).
// Routing uses the escaped path, so that an escaped "/" inside an ID stays in its segment. A
// body without a Content-Type is taken as JSON, as FastAPI does.
func (v *Validator) CheckRequest(r *http.Request, body []byte) *Exchange {
	x := &Exchange{method: r.Method, path: r.URL.EscapedPath(), v: v}
	if e, ok := Exempt(r.Method, x.path); ok {
		x.Exemption = &e
		return x
	}
	req := r.Clone(context.Background())
	u := *r.URL
	u.Path, u.RawPath = x.path, ""
	req.URL = &u
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := v.router.FindRoute(req)
	if err == nil && strings.HasSuffix(x.path, "/") && !strings.HasSuffix(route.Path, "/") {
		// kin's router forgives a trailing slash; the API does not serve one.
		err = errors.New("no operation has a trailing slash")
	}
	if err != nil {
		x.add(KindUnknownOperation, 0, "the contract has no such operation: "+err.Error())
		return x
	}
	x.OperationID = route.Operation.OperationID
	x.input = &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: v.opts}
	if msg := v.checkSecurity(route, r.Header.Get("Authorization")); msg != "" {
		x.add(KindSecurity, 0, msg)
	}
	for _, name := range undocumentedQuery(route, req.URL.Query()) {
		x.add(KindUndocumentedParameter, 0, fmt.Sprintf("query parameter %q is not documented for this operation", name))
	}
	if err := openapi3filter.ValidateRequest(context.Background(), x.input); err != nil {
		fields := requestFields(err)
		x.add(KindRequest, 0, describeFields(fields), fields...)
	}
	return x
}

// CheckResponse checks the answer to a request checked by CheckRequest and returns its
// violations (also appended to x.Violations). An exempt or unknown request has nothing to
// check. A success status the operation does not document is a violation in itself: the
// vendor documents 200 for every operation used here.
func (x *Exchange) CheckResponse(status int, header http.Header, body []byte) []Violation {
	if x.Exemption != nil || x.input == nil {
		return nil
	}
	n := len(x.Violations)
	responses := x.input.Route.Operation.Responses
	if status >= 200 && status < 300 && responses.Status(status) == nil {
		x.add(KindResponse, status, fmt.Sprintf("status %d is not documented; documented: %s", status, documentedStatuses(responses)))
		return x.Violations[n:]
	}
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: x.input, Status: status,
		Header: header, Body: io.NopCloser(bytes.NewReader(body)), Options: x.v.opts}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		x.add(KindResponse, status, err.Error())
	}
	return x.Violations[n:]
}

func documentedStatuses(r *openapi3.Responses) string {
	var codes []string
	for code := range r.Map() {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	return strings.Join(codes, ", ")
}

// bearerPrefixes are the token prefixes of the contract's security schemes, which the YAML
// states in their descriptions only.
var bearerPrefixes = map[string]string{"cogBearer": "cog_", "apkUserBearer": "apk_user_"}

// checkSecurity tells what is wrong with the credential of a request, or "".
func (v *Validator) checkSecurity(route *routers.Route, authorization string) string {
	reqs := v.doc.Security
	if route.Operation.Security != nil {
		reqs = *route.Operation.Security
	}
	if len(reqs) == 0 {
		return ""
	}
	tok, bearer := strings.CutPrefix(authorization, "Bearer ")
	var want []string
	for _, req := range reqs {
		for name := range req {
			prefix := bearerPrefixes[name]
			if bearer && prefix != "" && strings.HasPrefix(tok, prefix) && len(tok) > len(prefix) {
				return ""
			}
			want = append(want, fmt.Sprintf("%s (a bearer token with the %s prefix)", name, prefix))
		}
	}
	sort.Strings(want)
	return "the operation accepts only " + strings.Join(want, " or ")
}

// undocumentedQuery returns the query parameters of a request that its operation does not
// declare, sorted.
func undocumentedQuery(route *routers.Route, q map[string][]string) []string {
	var out []string
	for name := range q {
		if route.Operation.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil &&
			route.PathItem.Parameters.GetByInAndName(openapi3.ParameterInQuery, name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
