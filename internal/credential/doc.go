// Package credential is the token lifecycle shared by PersonalAccessToken and ServiceUser:
// issue a token crash-safely, keep it in a Secret, rotate it, verify it upstream, revoke old
// tokens after their grace period and every token on deletion.
//
// The order of a mint is what makes it crash-safe, in three writes:
//
//  1. the intent (iam.devin.ai/issue-intent: "create number n is pending") and the
//     finalizer, in one metadata write, before anything is created upstream; the upstream
//     name is derived from the resource's UID, the cluster and n, never read back;
//  2. the token is created upstream, and the Secret written with it (tried first with a
//     dry run, so that a Secret the API server refuses costs no token);
//  3. status names the new token, and its issueCount reaches n.
//
// After a crash at any point the next reconcile finishes the job: while n is above
// status.issueCount the create is pending; a Secret that already holds a token of the
// resource (listed as its own by the backend) is adopted; otherwise the token's value is
// lost, so every token of the resource that status does not know is revoked and a new one
// is issued.
//
// A steady state writes nothing: when a token was last checked upstream is kept in memory
// (and exported as a metric), not in status.
package credential
