// Package kubectldevin is the kubectl plugin of token-operator (`kubectl devin`): it reads
// and changes PersonalAccessTokens and ServiceUsers with the user's own kubeconfig, and asks
// the API server (its admission webhooks, its RBAC) rather than repeating their rules. It
// owns the command line, the waits for the operator and the tables it prints; it never holds
// a Devin credential and never prints a token value.
package kubectldevin
