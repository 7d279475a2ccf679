// Package contract holds the Devin API contract as the vendor publishes it
// (openapi-v3-subset.yaml, with its sources in SOURCES.md) and checks HTTP exchanges against
// it with kin-openapi.
//
// The YAML is authoritative: where the client or the in-memory fake (devinapitest) differ
// from it, they are wrong. The few requests the project makes that the vendor has not
// published (the assumed PAT endpoints) and the fake's own /_fake control API are listed in
// one table, Exemptions, and are exempt by method and path pattern; any other request the
// contract does not know is a violation.
//
// Only tests and the fake use this package: the operator's client does not load the YAML.
package contract

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// specYAML is the vendor's published contract, as written down with its sources.
//
//go:embed openapi-v3-subset.yaml
var specYAML []byte

// sourcesMD tells where every part of specYAML comes from.
//
//go:embed SOURCES.md
var sourcesMD []byte

// Spec returns the contract: the OpenAPI 3.1 YAML. The slice is a copy.
func Spec() []byte { return append([]byte(nil), specYAML...) }

// Sources returns SOURCES.md, which names the vendor page behind every operation of Spec.
func Sources() []byte { return append([]byte(nil), sourcesMD...) }

// Validator checks requests and responses against the contract. It is safe for concurrent
// use; build it once (Default does) since parsing the YAML and building the router is the
// expensive part.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

var (
	defaultOnce      sync.Once
	defaultValidator *Validator
	defaultErr       error
)

// Default returns the Validator of the embedded contract, built on first use and shared.
func Default() (*Validator, error) {
	defaultOnce.Do(func() { defaultValidator, defaultErr = New(specYAML) })
	return defaultValidator, defaultErr
}

// New parses and validates an OpenAPI 3.1 document and builds its router. The document's
// servers are dropped: the base URL is configurable (api.devin.ai, a dedicated deployment,
// a local fake) and only paths are part of the contract.
func New(spec []byte) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("load contract: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate contract: %w", err)
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("build contract router: %w", err)
	}
	// The document was validated as OpenAPI 3.1 above. For checking exchanges, kin-openapi
	// would use its JSON Schema 2020-12 validator on a 3.1 document, which compiles the schema
	// anew on every call (about 1.5 ms a response, too slow for a fake that every test talks
	// to). Its built-in validator checks everything this YAML uses (type arrays with "null",
	// enums, bounds, required members, anyOf with a discriminator) some 40 times faster; the
	// one 3.1 keyword it skips, const, only restates the discriminator of /v3/self.
	// TestBuiltInValidatorChecksThe31Subset guards this.
	doc.OpenAPI = "3.0.3"
	return &Validator{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			MultiError: true,
			// Credentials are checked by checkSecurity, which knows the token prefixes that
			// the YAML states in prose only.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// Undocumented statuses are reported by CheckResponse itself, with a clearer
			// message than "status is not supported".
			IncludeResponseStatus: false,
			// Messages name the failing member, not the schema and value in full.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
	}, nil
}

// Operations returns the operation IDs of the contract by "METHOD /path" pattern.
func (v *Validator) Operations() map[string]string {
	out := map[string]string{}
	for path, item := range v.doc.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+path] = op.OperationID
		}
	}
	return out
}

// Extension returns the x- extension named key of the operation with operationID, e.g.
// "x-permission", and whether the operation has it.
func (v *Validator) Extension(operationID, key string) (any, bool) {
	for _, item := range v.doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID == operationID {
				val, ok := op.Extensions[key]
				return val, ok
			}
		}
	}
	return nil, false
}
