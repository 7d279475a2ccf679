// Package reliability proves, under faults and bad actors, the promises of token-operator:
// every Ready resource has exactly one live upstream token (two inside a rotation grace
// period), its Secret holds that token, no live upstream token belongs to no resource, and
// no token value appears anywhere but in the Secrets. The operator runs here with exactly the
// RBAC of config/rbac (as its own user), with leader election, behind the real webhooks.
package reliability
