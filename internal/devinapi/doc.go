// Package devinapi is the HTTP client of the Devin API: the only code that knows its paths,
// JSON shapes and error forms (RFC 9457 problems, older {"detail"} answers). It owns typed
// errors the callers classify with errors.Is and errors.As (not found, conflict, refused,
// retryable with a delay), the process-wide rate limit with a share kept for admission
// requests and the server's Retry-After honoured by every request, request metrics, and
// Token, a credential value that redacts itself when printed.
//
// Service users, their API keys, users, roles and /v3/self are used as the vendor publishes
// them (contract/ holds that contract and checks exchanges against it). The personal access
// token endpoints are not published: their assumed shape lives in pats.go alone.
// devinapitest is an in-memory server that speaks the same contract, for tests and the dev
// environment.
package devinapi
