// Package credential is the token lifecycle shared by PersonalAccessToken and ServiceUser:
// issue a token crash-safely, keep it in a Secret, rotate it, verify it upstream, revoke old
// tokens after their grace period and every token on deletion.
//
// The order of a mint is what makes it crash-safe:
//
//  1. the finalizer is persisted (by the controller, before any upstream call);
//  2. the intent (a deterministic upstream name, from the resource UID and a counter) is
//     persisted in status.pendingIssue;
//  3. the token is created upstream;
//  4. the Secret is written with the token and annotations naming it;
//  5. status names the new token and the intent is cleared.
//
// After a crash at any point the next reconcile finishes the job: a Secret that already holds
// the intended token is adopted; an intent with no such Secret means the token's value is
// lost, so the token is found by its name, revoked, and a new one is issued.
package credential
