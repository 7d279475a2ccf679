package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// An account with credentialRotation has its own key replaced before it expires: the name
// of the new key is recorded first, then the key created, then written into the account's
// Secret (with its ID in an annotation), then recorded; the previous key is revoked once
// unused for quietPeriod after that write. A crash between two steps is found at the next
// reconcile: a key of the recorded name that the Secret does not hold was never handed out
// and is revoked; one the Secret holds becomes the current key. So there is always a
// working key in the Secret and never a live key nobody holds.

// rotate runs one step of the account's key rotation and returns when to look again (0:
// nothing to wait for).
func (r *DevinAccountReconciler) rotate(ctx context.Context, conn *account.Connection, obj AccountObject, sec *corev1.Secret, secretKey string, base *statusBase) (time.Duration, error) {
	spec, st := obj.AccountSpec().CredentialRotation, obj.AccountStatus()
	if spec == nil || !obj.GetDeletionTimestamp().IsZero() {
		if spec == nil {
			st.CredentialKey, st.Rotation = nil, nil
			meta.RemoveStatusCondition(&st.Conditions, iamv1alpha1.ConditionKeyRotation)
		}
		return 0, nil
	}
	keys, err := conn.Client.ListServiceUserAPIKeys(ctx, st.ServiceUserID, devinapi.KeyStatusActive)
	if forbidden(err) {
		r.rotationForbidden(obj, "list")
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list the account's keys: %w", err)
	}
	held := sec.Annotations[iamv1alpha1.AccountKeyIDAnnotation]
	if st.Rotation != nil && st.Rotation.PendingName != "" {
		// The watch may lag behind the last write: which key the Secret holds decides what
		// is revoked, so ask the API server.
		if held, err = r.heldKey(ctx, sec); err != nil {
			return 0, err
		}
	}
	if err := r.recoverCreate(ctx, conn, st, keys, held); err != nil {
		return 0, err
	}
	cur := currentKey(keys, held, st.CredentialKey)
	if cur == nil {
		conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionKeyRotation, metav1.ConditionFalse, iamv1alpha1.ReasonKeyCurrent,
			"cannot tell which of the service user's active keys the Secret holds; the next rotation writes one the operator knows")
		return accountRecheck, nil
	}
	st.CredentialKey = &iamv1alpha1.AccountKey{ID: cur.ID, ExpiresAt: timeOf(cur.ExpiresAt), CreatedAt: &metav1.Time{Time: cur.CreatedAt}}
	if st.Rotation != nil && st.Rotation.PreviousKeyID != "" {
		return r.retirePrevious(ctx, conn, obj, keys, spec.Quiet().Duration)
	}
	st.Rotation = nil
	due := renewAt(cur, spec)
	if wait := due.Sub(r.Clock.Now()); wait > 0 {
		conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionKeyRotation, metav1.ConditionTrue, iamv1alpha1.ReasonKeyCurrent,
			fmt.Sprintf("key %s is replaced at %s", cur.ID, due.UTC().Format(time.RFC3339)))
		return wait, nil
	}
	if wait := r.refused.wait(r.keyOf(obj), r.Clock.Now()); wait > 0 {
		return wait, nil // refused lately: tried again hourly, not at every look
	}
	return r.replace(ctx, conn, obj, sec, secretKey, cur, spec, base)
}

// refusals are the times rotations were last refused, by account key.
type refusals struct {
	mu sync.Mutex
	at map[string]time.Time
}

// wait is how long the account's rotation still waits after a refusal (0: none).
func (f *refusals) wait(key string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.at[key]
	if !ok {
		return 0
	}
	if left := at.Add(accountRecheck).Sub(now); left > 0 {
		return left
	}
	delete(f.at, key)
	return 0
}

func (f *refusals) record(key string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at == nil {
		f.at = map[string]time.Time{}
	}
	f.at[key] = now
}

func (f *refusals) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.at, key)
}

// keyOf is the account's key among the connections.
func (r *DevinAccountReconciler) keyOf(obj AccountObject) string {
	return AccountKey(r.Kind, client.ObjectKeyFromObject(obj))
}

// recoverCreate finishes what a crash interrupted: keys of the recorded pending name that
// the Secret does not hold were never handed out (revoked); one it holds is the new key,
// and the key status named before is the previous one.
func (r *DevinAccountReconciler) recoverCreate(ctx context.Context, conn *account.Connection, st *iamv1alpha1.DevinAccountStatus, keys []devinapi.APIKey, held string) error {
	if st.Rotation == nil || st.Rotation.PendingName == "" {
		return nil
	}
	for _, k := range keys {
		if k.Name != st.Rotation.PendingName {
			continue
		}
		if k.ID == held {
			if st.CredentialKey != nil && st.CredentialKey.ID != held {
				st.Rotation.PreviousKeyID = st.CredentialKey.ID
				st.Rotation.SecretWrittenAt = &metav1.Time{Time: r.Clock.Now()}
			}
			continue
		}
		if err := conn.Client.RevokeServiceUserAPIKey(ctx, st.ServiceUserID, k.ID); err != nil && !devinapi.IsGone(err) {
			return fmt.Errorf("revoke key %s, created but never written into the Secret: %w", k.ID, err)
		}
	}
	st.Rotation.PendingName = ""
	return nil
}

// heldKey reads, around every cache, which key the account's Secret holds.
func (r *DevinAccountReconciler) heldKey(ctx context.Context, sec *corev1.Secret) (string, error) {
	latest := &corev1.Secret{}
	if err := r.Reader.Get(ctx, client.ObjectKeyFromObject(sec), latest); err != nil {
		return "", fmt.Errorf("read Secret %s/%s: %w", sec.Namespace, sec.Name, err)
	}
	return latest.Annotations[iamv1alpha1.AccountKeyIDAnnotation], nil
}

// replace creates the new key (its name recorded first), writes it into the Secret and
// records it; the previous key is retired later.
func (r *DevinAccountReconciler) replace(ctx context.Context, conn *account.Connection, obj AccountObject, sec *corev1.Secret, secretKey string, cur *devinapi.APIKey, spec *iamv1alpha1.CredentialRotation, base *statusBase) (time.Duration, error) {
	st := obj.AccountStatus()
	now := r.Clock.Now()
	name := fmt.Sprintf("token-operator account key %s", now.UTC().Format("20060102T150405Z"))
	st.Rotation = &iamv1alpha1.AccountKeyRotation{PendingName: name}
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFromWithOptions(base.obj, client.MergeFromWithOptimisticLock{})); err != nil {
		return 0, fmt.Errorf("record the key about to be created: %w", err)
	}
	base.obj = obj.DeepCopyObject().(AccountObject)
	expires := now.Add(spec.Lifetime().Duration)
	issued, err := conn.Client.CreateServiceUserAPIKey(ctx, st.ServiceUserID, devinapi.CreateKeyRequest{Name: name, ExpiresAt: &expires})
	if forbidden(err) {
		st.Rotation = nil
		r.rotationForbidden(obj, "create")
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("create the account's new key: %w", err)
	}
	written := sec.DeepCopy()
	written.Data[secretKey] = []byte(issued.Token.Reveal())
	if written.Annotations == nil {
		written.Annotations = map[string]string{}
	}
	written.Annotations[iamv1alpha1.AccountKeyIDAnnotation] = issued.ID
	if err := r.Client.Patch(ctx, written, client.MergeFromWithOptions(sec, client.MergeFromWithOptimisticLock{})); err != nil {
		return 0, fmt.Errorf("write the account's new key %s into Secret %s/%s: %w", issued.ID, sec.Namespace, sec.Name, err)
	}
	conn.Use([]byte(issued.Token.Reveal()))
	st.CredentialKey = &iamv1alpha1.AccountKey{ID: issued.ID, ExpiresAt: timeOf(issued.ExpiresAt), CreatedAt: &metav1.Time{Time: now}}
	st.Rotation = &iamv1alpha1.AccountKeyRotation{PreviousKeyID: cur.ID, SecretWrittenAt: &metav1.Time{Time: now}}
	conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionKeyRotation, metav1.ConditionTrue, iamv1alpha1.ReasonKeyReplacing,
		fmt.Sprintf("key %s is in the Secret; key %s is revoked once unused for %s", issued.ID, cur.ID, spec.Quiet().Duration))
	r.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventAccountKeyRotated, fmt.Sprintf("wrote key %s into the Secret, replacing key %s", issued.ID, cur.ID))
	return spec.Quiet().Duration, nil
}

// retirePrevious revokes the key the current one replaced once nothing has used it for
// quiet since the new key was written.
func (r *DevinAccountReconciler) retirePrevious(ctx context.Context, conn *account.Connection, obj AccountObject, keys []devinapi.APIKey, quiet time.Duration) (time.Duration, error) {
	st := obj.AccountStatus()
	rot := st.Rotation
	var prev *devinapi.APIKey
	for i := range keys {
		if keys[i].ID == rot.PreviousKeyID {
			prev = &keys[i]
		}
	}
	now := r.Clock.Now()
	if prev != nil {
		quietSince := rot.SecretWrittenAt.Time
		if prev.LastUsedAt != nil && prev.LastUsedAt.After(quietSince) {
			quietSince = *prev.LastUsedAt
		}
		if wait := quietSince.Add(quiet).Sub(now); wait > 0 {
			conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionKeyRotation, metav1.ConditionTrue, iamv1alpha1.ReasonKeyReplacing,
				fmt.Sprintf("key %s is in the Secret; key %s is revoked once unused for %s", st.CredentialKey.ID, prev.ID, quiet))
			return wait, nil
		}
		err := conn.Client.RevokeServiceUserAPIKey(ctx, st.ServiceUserID, prev.ID)
		if forbidden(err) {
			r.rotationForbidden(obj, "revoke")
			return 0, nil
		}
		if err != nil && !devinapi.IsGone(err) {
			return 0, fmt.Errorf("revoke the account's previous key %s: %w", prev.ID, err)
		}
		r.event(obj, corev1.EventTypeNormal, iamv1alpha1.EventAccountKeyRevoked, fmt.Sprintf("revoked the previous key %s, unused for %s", prev.ID, quiet))
	}
	st.Rotation = nil
	return time.Second, nil // the next look schedules the next rotation
}

// currentKey is the active key the Secret holds: the one its annotation names, or the one
// status named, or the only active key.
func currentKey(keys []devinapi.APIKey, held string, known *iamv1alpha1.AccountKey) *devinapi.APIKey {
	for _, id := range []string{held, idOf(known)} {
		for i := range keys {
			if id != "" && keys[i].ID == id {
				return &keys[i]
			}
		}
	}
	if len(keys) == 1 {
		return &keys[0]
	}
	return nil
}

func idOf(k *iamv1alpha1.AccountKey) string {
	if k == nil {
		return ""
	}
	return k.ID
}

// renewAt is when key k is replaced: renewBefore ahead of its expiry, or, for a key that
// does not expire, expiresAfter minus renewBefore after it was created.
func renewAt(k *devinapi.APIKey, spec *iamv1alpha1.CredentialRotation) time.Time {
	if k.ExpiresAt != nil {
		return k.ExpiresAt.Add(-spec.RenewWindow().Duration)
	}
	return k.CreatedAt.Add(spec.Lifetime().Duration - spec.RenewWindow().Duration)
}

func (r *DevinAccountReconciler) rotationForbidden(obj AccountObject, what string) {
	r.refused.record(r.keyOf(obj), r.Clock.Now())
	st := obj.AccountStatus()
	conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionKeyRotation, metav1.ConditionFalse, iamv1alpha1.ReasonRotationForbidden,
		fmt.Sprintf("the account's credential may not %s its own service user's keys (403): give that service user the enterprise permission ManageAccountServiceUsers; nothing was changed", what))
}

func (r *DevinAccountReconciler) event(obj AccountObject, typ, reason, msg string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, typ, reason, "RotateKey", "%s", msg)
	}
}

func forbidden(err error) bool { return errors.Is(err, devinapi.ErrForbidden) }

func timeOf(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	return &metav1.Time{Time: *t}
}
