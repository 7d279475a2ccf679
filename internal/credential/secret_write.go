package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// What the operator writes of a Secret, and only that: its managed-by label, the
// template's labels and annotations, the annotations that name the token, and the token's
// data key. Every other label, annotation or data key belongs to someone else (Argo CD's
// tracking label, Reloader's bookkeeping) and is kept, except data keys: the Secret holds
// the token and nothing else. Writes are patches locked on the resourceVersion read, so the
// operator never sends back a copy of the whole Secret (its cache holds no values).

// templateKeys is the content of iam.devin.ai/template-keys.
type templateKeys struct {
	Labels      []string `json:"labels,omitempty"`
	Annotations []string `json:"annotations,omitempty"`
}

func readTemplateKeys(sec *corev1.Secret) templateKeys {
	var k templateKeys
	if raw := sec.Annotations[iamv1alpha1.TemplateKeysAnnotation]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &k)
	}
	return k
}

// tokenAnnotations name the token a Secret holds, with the restore record sealed for it
// (none when record is empty); the values are never in them.
func tokenAnnotations(tok *iamv1alpha1.IssuedToken, record string) map[string]string {
	a := map[string]string{
		iamv1alpha1.TokenIDAnnotation:       tok.ID,
		iamv1alpha1.TokenNameAnnotation:     tok.Name,
		iamv1alpha1.TokenIssuedAtAnnotation: tok.IssuedAt.UTC().Format(time.RFC3339),
	}
	if tok.ExpiresAt != nil {
		a[iamv1alpha1.TokenExpiresAtAnnotation] = tok.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if record != "" {
		a[iamv1alpha1.RestoreRecordAnnotation] = record
	}
	return a
}

// newSecret is the Secret the resource (obj, its owner) wants, holding value for tok.
func (l *Lifecycle) newSecret(obj Object, want secretShape, value []byte, tok *iamv1alpha1.IssuedToken, record string) (*corev1.Secret, error) {
	labels, annotations := want.meta()
	maps.Copy(annotations, tokenAnnotations(tok, record))
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: want.name, Namespace: obj.GetNamespace(), Labels: labels, Annotations: annotations},
		Type:       corev1.SecretTypeOpaque,
		Data:       want.extraData(tok),
	}
	sec.Data[want.key] = value
	if err := controllerutil.SetControllerReference(obj, sec, l.Client.Scheme()); err != nil {
		return nil, fmt.Errorf("set owner of secret %s: %w", want.name, err)
	}
	return sec, nil
}

// secretPatch is the merge patch that brings existing to what the resource wants: its
// metadata, the extra entries for tok and, when value is set, the token (tok) under the
// resource's key; any other data key is removed (a nil value keeps the token's entry as it
// is), with record (the restore record sealed for tok; none when empty). Keys the template
// set before and sets no more are removed.
func secretPatch(want secretShape, existing *corev1.Secret, value []byte, tok *iamv1alpha1.IssuedToken, record string) map[string]any {
	labels, annotations := want.meta()
	before := readTemplateKeys(existing)
	lp, ap := map[string]any{}, map[string]any{}
	for _, k := range before.Labels {
		lp[k] = nil
	}
	for _, k := range before.Annotations {
		ap[k] = nil
	}
	if _, ok := annotations[iamv1alpha1.TemplateKeysAnnotation]; !ok {
		ap[iamv1alpha1.TemplateKeysAnnotation] = nil
	}
	for k, v := range labels {
		lp[k] = v
	}
	for k, v := range annotations {
		ap[k] = v
	}
	data := map[string]any{}
	for k := range fingerprints(existing) {
		data[k] = nil
	}
	delete(data, want.key)
	for k, v := range want.extraData(tok) {
		data[k] = v // []byte marshals as base64, as a Secret's data is
	}
	if value != nil {
		if tok.ExpiresAt == nil {
			ap[iamv1alpha1.TokenExpiresAtAnnotation] = nil
		}
		if record == "" {
			ap[iamv1alpha1.RestoreRecordAnnotation] = nil
		}
		for k, v := range tokenAnnotations(tok, record) {
			ap[k] = v
		}
		data[want.key] = value
	}
	meta := map[string]any{"resourceVersion": existing.ResourceVersion, "labels": lp, "annotations": ap}
	return map[string]any{"metadata": meta, "data": data}
}

// organization is the organization of a ServiceUser of scope Organization, "" otherwise.
func (l *Lifecycle) organization(obj Object) string {
	su, ok := obj.(*iamv1alpha1.ServiceUser)
	if !ok || su.EffectiveScope() != iamv1alpha1.ScopeOrganization {
		return ""
	}
	if o := su.OrganizationID(); o != "" {
		return o
	}
	return l.DefaultOrganization
}

// writeSecret creates the resource's Secret (want) or patches it so that it holds value.
// existing is the Secret read before (nil when there was none). A write the API server
// refuses for good (a 4xx other than a conflict) is a Stalled SecretRejected problem.
func (l *Lifecycle) writeSecret(ctx context.Context, obj Object, want secretShape, existing *corev1.Secret, value []byte, tok *iamv1alpha1.IssuedToken) (*corev1.Secret, error) {
	return l.writeSecretOpts(ctx, obj, want, existing, value, tok, false)
}

// writeSecretOpts is writeSecret, only tried (the API server's dry run) when dryRun is set.
func (l *Lifecycle) writeSecretOpts(ctx context.Context, obj Object, want secretShape, existing *corev1.Secret, value []byte, tok *iamv1alpha1.IssuedToken, dryRun bool) (*corev1.Secret, error) {
	name := want.name
	var createOpts []client.CreateOption
	var patchOpts []client.PatchOption
	if dryRun {
		createOpts, patchOpts = []client.CreateOption{client.DryRunAll}, []client.PatchOption{client.DryRunAll}
	}
	record := ""
	if !dryRun {
		record = l.Restore.seal(ctx, l.Kind, obj, l.Owner(obj), tok.ID)
	}
	if existing == nil {
		desired, err := l.newSecret(obj, want, value, tok, record)
		if err != nil {
			return nil, err
		}
		createErr := l.Client.Create(ctx, desired, createOpts...)
		if createErr == nil {
			return desired, nil
		}
		if !apierrors.IsAlreadyExists(createErr) {
			return nil, writeError(name, "create", createErr)
		}
		// It exists but is not in the cache, which holds only Secrets the operator labelled:
		// someone else's Secret, or ours with its label removed.
		if existing, err = l.readAround(ctx, obj, name); err != nil {
			return nil, err
		}
		if existing == nil {
			return nil, fmt.Errorf("create secret %s: %w", name, createErr)
		}
	}
	return l.patchSecret(ctx, existing, secretPatch(want, existing, value, tok, record), patchOpts...)
}

func (l *Lifecycle) patchSecret(ctx context.Context, existing *corev1.Secret, patch map[string]any, opts ...client.PatchOption) (*corev1.Secret, error) {
	raw, err := json.Marshal(patch)
	if err != nil {
		return nil, fmt.Errorf("encode the patch of secret %s: %w", existing.Name, err)
	}
	out := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: existing.Name, Namespace: existing.Namespace}}
	if err := l.Client.Patch(ctx, out, client.RawPatch(types.MergePatchType, raw), opts...); err != nil {
		return nil, writeError(existing.Name, "update", err)
	}
	return out, nil
}

// writeError wraps a failed write; one the API server refuses for good (a 4xx that is not a
// conflict, a missing object or a throttle: an invalid label, a full ResourceQuota, an
// admission policy) becomes a Stalled SecretRejected problem: retrying cannot help, and a
// token minted for this Secret would be lost.
func writeError(name, verb string, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		switch code := status.Status().Code; {
		case code >= 400 && code < 500 && code != http.StatusConflict && code != http.StatusNotFound &&
			code != http.StatusTooManyRequests && code != http.StatusRequestTimeout:
			return Stall(iamv1alpha1.ReasonSecretRejected, fmt.Sprintf("the API server refuses to %s Secret %q; no token is minted until the spec (secretTemplate) "+
				"or the cluster (a ResourceQuota on secrets, an admission policy) changes", verb, name), err)
		}
	}
	return fmt.Errorf("%s secret %s: %w", verb, name, err)
}

// checkWritable asks the API server, with a dry run, whether it would take the Secret the
// next token goes to, before that token is minted. The dry run is a round trip in sequence
// before the create, so it is made only where a refusal is likely (dryRunNeeded); where it is
// not, a refused write costs the one token minted for it, which issue revokes at once.
func (l *Lifecycle) checkWritable(ctx context.Context, obj Object, want secretShape, sec *corev1.Secret) error {
	if !dryRunNeeded(obj, want, sec) {
		return nil
	}
	probe := &iamv1alpha1.IssuedToken{ID: "dry-run", Name: "dry-run", IssuedAt: metav1.NewTime(l.Clock.Now())}
	_, err := l.writeSecretOpts(ctx, obj, want, sec, []byte("dry-run"), probe, true)
	return err
}

// dryRunNeeded reports whether a refusal of the Secret write is likely enough to try it
// first: the Secret exists and must change shape (a new template, labels, keys), or a write
// of this resource was refused or may have been (mayBeRefused). A first token for a missing
// Secret, or a rotation that changes only the token of a Secret in shape, goes without one.
//
// Together with the revocation of a token whose Secret is refused, this bounds a refused
// Secret to one mint: the refusal is recorded before another create can be decided, in status
// (SecretRejected) and, if that status write is lost, by the create's intent annotation,
// which was written before the mint and which status then does not show fulfilled.
func dryRunNeeded(obj Object, want secretShape, sec *corev1.Secret) bool {
	if sec != nil && secretNeedsSync(want, sec, obj.CredentialStatus().Token) {
		return true
	}
	return mayBeRefused(obj)
}

// mayBeRefused reports whether the resource's last Secret write was refused (its status
// says SecretRejected) or its last create upstream did not end with the token in the Secret
// (an intent status does not show fulfilled, or one interrupted since the current token).
func mayBeRefused(obj Object) bool {
	st := obj.CredentialStatus()
	for _, t := range []string{iamv1alpha1.ConditionStalled, iamv1alpha1.ConditionReady} {
		if c := meta.FindStatusCondition(st.Conditions, t); c != nil && c.Reason == iamv1alpha1.ReasonSecretRejected {
			return true
		}
	}
	if IntentPending(obj) || st.PendingIssue != nil {
		return true
	}
	last := st.LastInterruptedIssue
	return last != nil && (st.Token == nil || !st.Token.IssuedAt.After(last.Time))
}

// secretNeedsSync reports whether the Secret's labels, template annotations, extra entries
// (for tok, the current token) or data keys differ from what the resource asks for.
func secretNeedsSync(want secretShape, sec *corev1.Secret, tok *iamv1alpha1.IssuedToken) bool {
	labels, annotations := want.labels, want.annotations
	for k, v := range labels {
		if sec.Labels[k] != v {
			return true
		}
	}
	for k, v := range annotations {
		if sec.Annotations[k] != v {
			return true
		}
	}
	if _, ok := annotations[iamv1alpha1.TemplateKeysAnnotation]; !ok && sec.Annotations[iamv1alpha1.TemplateKeysAnnotation] != "" {
		return true
	}
	fp := fingerprints(sec)
	extra := want.extraData(tok)
	for k, v := range extra {
		if fp[k] != hashToken(v) {
			return true
		}
	}
	_, ok := fp[want.key]
	return len(fp) != 1+len(extra) || !ok
}
