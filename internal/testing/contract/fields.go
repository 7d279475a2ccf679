package contract

import (
	"errors"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// requestFields turns an error of openapi3filter.ValidateRequest into field errors, located
// as FastAPI locates them ("body", "name"), so that the fake can answer the 422 the API would.
func requestFields(err error) []FieldError {
	// A type switch, not errors.As: a RequestError unwraps to its schema errors, which must
	// be read under the RequestError's location.
	switch e := err.(type) { //nolint:errorlint // on purpose, see above
	case openapi3.MultiError:
		var out []FieldError
		for _, inner := range e {
			out = append(out, requestFields(inner)...)
		}
		return out
	case *openapi3filter.RequestError:
		return requestErrorFields(e)
	}
	return []FieldError{{Loc: []string{"request"}, Msg: err.Error(), Type: "value_error"}}
}

func requestErrorFields(re *openapi3filter.RequestError) []FieldError {
	switch {
	case re.Parameter != nil:
		loc := []string{re.Parameter.In, re.Parameter.Name}
		if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
			return []FieldError{{Loc: loc, Msg: "field required", Type: "missing"}}
		}
		return schemaFields(loc, re.Err, re.Reason)
	case re.RequestBody != nil:
		loc := []string{"body"}
		if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
			return []FieldError{{Loc: loc, Msg: "a JSON body is required", Type: "missing"}}
		}
		var pe *openapi3filter.ParseError
		if errors.As(re.Err, &pe) {
			return []FieldError{{Loc: loc, Msg: "the body is not valid JSON", Type: "json_invalid"}}
		}
		return schemaFields(loc, re.Err, re.Reason)
	}
	return []FieldError{{Loc: []string{"request"}, Msg: re.Error(), Type: "value_error"}}
}

// schemaFields locates the schema errors of err under prefix.
func schemaFields(prefix []string, err error, reason string) []FieldError {
	// Not errors.As: a MultiError's items are located one by one, and only at this level.
	if me, ok := err.(openapi3.MultiError); ok { //nolint:errorlint // see above
		var out []FieldError
		for _, e := range me {
			out = append(out, schemaFields(prefix, e, reason)...)
		}
		return out
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		loc := append(append([]string(nil), prefix...), se.JSONPointer()...)
		if se.SchemaField == "required" {
			// The built-in validator locates a missing property at the property, as FastAPI.
			return []FieldError{{Loc: loc, Msg: "field required", Type: "missing"}}
		}
		return []FieldError{{Loc: loc, Msg: se.Reason, Type: "value_error"}}
	}
	msg := reason
	if msg == "" && err != nil {
		msg = err.Error()
	}
	return []FieldError{{Loc: prefix, Msg: msg, Type: "value_error"}}
}

// describeFields renders field errors as "body.name: msg; query.first: msg".
func describeFields(fields []FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = strings.Join(f.Loc, ".") + ": " + f.Msg
	}
	return strings.Join(parts, "; ")
}
