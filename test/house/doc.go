// Package house checks the rules the codebase keeps about its own shape: small functions and
// files in product code; the webhook and the controllers as siblings that share domain rules
// from below, never each other; periodic work driven by the injected clock, never the wall
// clock; and comments that give the reason, not the history (no "previous release", issue
// numbers or "used to"). DEVELOPMENT.md lists these rules.
package house
