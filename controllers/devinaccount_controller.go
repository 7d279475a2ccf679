package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/account"
	"github.com/cogtokens/token-operator/internal/conditions"
	"github.com/cogtokens/token-operator/internal/devinapi"
)

// AccountObject is a DevinAccount or a ClusterDevinAccount.
type AccountObject interface {
	client.Object
	AccountSpec() *iamv1alpha1.DevinAccountSpec
	AccountStatus() *iamv1alpha1.DevinAccountStatus
}

const (
	// accountRecheck is how often an account's credential is asked about again (its
	// expiry; a change of its Secret is seen at once).
	accountRecheck = time.Hour
	// accountCredentialWarning is how long before its service user expires an account warns.
	accountCredentialWarning = 30 * 24 * time.Hour
	// defaultAPIURL is the public Devin API.
	defaultAPIURL = "https://api.devin.ai"
)

// +kubebuilder:rbac:groups=iam.devin.ai,resources=devinaccounts;clusterdevinaccounts,verbs=list;watch;patch
// +kubebuilder:rbac:groups=iam.devin.ai,resources=devinaccounts/status;clusterdevinaccounts/status,verbs=patch

// DevinAccountReconciler tells, for each account of one kind (DevinAccount or
// ClusterDevinAccount), whether its credential works: it watches the account's Secret, asks
// the Devin API who the credential is (GET /v3/self: a service user's key is required) and
// when its service user expires, and writes that into status. The account and its Secret
// stay (finalizers) while resources name it (devinaccount_hold.go).
type DevinAccountReconciler struct {
	Client client.Client
	// Reader reads around the cache: a Secret the account held before.
	Reader      client.Reader
	Connections *account.Connections
	Recorder    events.EventRecorder
	Clock       clock.PassiveClock
	// Kind is the kind this reconciler serves; New makes an empty object of it.
	Kind string
	New  func() AccountObject
	// OperatorNamespace is where a ClusterDevinAccount's Secret is by default;
	// SecretNamespaces are the other namespaces it may be read from.
	OperatorNamespace string
	SecretNamespaces  []string
	// APIURLs are the API URLs a DevinAccount (which a tenant writes) may name; a
	// ClusterDevinAccount, which only cluster administrators write, may name any.
	APIURLs []string
	// Changed receives the accounts whose Secret changed (see AccountKey).
	Changed chan event.GenericEvent
	// Expiry exports when each account's service user expires (label account); nil: not
	// exported.
	Expiry *prometheus.GaugeVec

	// refused remembers, per account, when the Devin API last refused (403) a step of its key
	// rotation: it is tried again after accountRecheck, not at every look.
	refused refusals
}

// AccountKey is the key of an account among the connections: kind/namespace/name.
func AccountKey(kind string, key types.NamespacedName) string {
	return account.ConnectionKey(kind, key)
}

// ParseAccountKey reverses AccountKey.
func ParseAccountKey(s string) (kind string, key types.NamespacedName, ok bool) {
	parts := strings.SplitN(s, "/", 3)
	if len(parts) != 3 {
		return "", types.NamespacedName{}, false
	}
	return parts[0], types.NamespacedName{Namespace: parts[1], Name: parts[2]}, true
}

// SetupWithManager watches the kind, and the Secrets of its accounts through Changed.
func (r *DevinAccountReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(r.New()).
		Named(strings.ToLower(r.Kind)).
		WatchesRawSource(source.Channel(r.Changed, &handler.EnqueueRequestForObject{})).
		// A deleting account goes when the last resource that names it has gone.
		Watches(&iamv1alpha1.PersonalAccessToken{}, handler.EnqueueRequestsFromMapFunc(r.accountOfUser)).
		Watches(&iamv1alpha1.ServiceUser{}, handler.EnqueueRequestsFromMapFunc(r.accountOfUser)).
		Complete(r)
}

// Reconcile checks one account's credential and records what it found.
func (r *DevinAccountReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := AccountKey(r.Kind, req.NamespacedName)
	obj := r.New()
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Connections.Forget(key)
			r.exportExpiry(key, nil, true)
			r.refused.forget(key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	users, err := r.users(ctx, obj)
	if err != nil {
		return ctrl.Result{}, err
	}
	deleting := !obj.GetDeletionTimestamp().IsZero()
	switch {
	case deleting && users == 0:
		r.exportExpiry(key, nil, true)
		return ctrl.Result{}, r.release(ctx, key, obj)
	case !deleting:
		if err := r.holdAccount(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	base := &statusBase{obj: obj.DeepCopyObject().(AccountObject)}
	again, checkErr := r.check(ctx, key, obj, base)
	st := obj.AccountStatus()
	st.ObservedGeneration, st.Users = obj.GetGeneration(), 0
	r.exportExpiry(key, st.CredentialExpiresAt, false)
	if deleting {
		st.Users = users
		conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionReconciling, metav1.ConditionTrue, iamv1alpha1.ReasonAccountInUse,
			fmt.Sprintf("deleted; it goes once the %d PersonalAccessTokens and ServiceUsers that name it have revoked their credentials", users))
	}
	if equality.Semantic.DeepEqual(base.obj.AccountStatus(), obj.AccountStatus()) {
		return ctrl.Result{RequeueAfter: again}, checkErr // a check that finds nothing new writes nothing
	}
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(base.obj)); err != nil {
		return ctrl.Result{}, fmt.Errorf("write the status of %s: %w", key, err)
	}
	return ctrl.Result{RequeueAfter: again}, checkErr
}

// statusBase is the account's status as the API server has it: the reconcile's one status
// write sends what differs from it, and a write made on the way (a rotation records the key
// it is about to create) moves it.
type statusBase struct{ obj AccountObject }

// check asks about the account's credential, sets its conditions and returns when to look
// again; an error is a failure worth a retry (the Devin API unreachable).
func (r *DevinAccountReconciler) check(ctx context.Context, key string, obj AccountObject, base *statusBase) (time.Duration, error) {
	st := obj.AccountStatus()
	ep, reason, why := r.endpoint(obj)
	if why != "" {
		r.Connections.Forget(key)
		r.stall(obj, reason, why)
		return 0, nil
	}
	conn, err := r.Connections.Get(key, ep)
	switch {
	case errors.Is(err, account.ErrTooManyAccounts):
		r.stall(obj, iamv1alpha1.ReasonTooManyAccounts, err.Error())
		return 0, nil
	case errors.Is(err, account.ErrNotStarted):
		return 0, err // retried once the connections run
	case err != nil:
		r.stall(obj, iamv1alpha1.ReasonInvalidSpec, err.Error())
		return 0, nil
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sec, err := conn.Secret(sctx)
	if err != nil {
		return 0, err
	}
	if sec == nil || len(sec.Data[ep.Secret.Key]) == 0 {
		r.stall(obj, iamv1alpha1.ReasonSecretMissing, fmt.Sprintf(
			"Secret %s/%s has no key %q: put the API key of the service user this account acts as there", ep.Secret.Namespace, ep.Secret.Name, ep.Secret.Key))
		return 0, nil
	}
	conn.Use(sec.Data[ep.Secret.Key])
	if sec, err = r.holdSecret(ctx, obj, sec); err != nil {
		return 0, err
	}
	self, err := conn.Client.Self(ctx)
	switch {
	case errors.Is(err, devinapi.ErrUnauthorized):
		r.stall(obj, iamv1alpha1.ReasonCredentialRefused, fmt.Sprintf(
			"the Devin API at %s refuses the key in Secret %s/%s (401): put a live service user's API key there", ep.URL, ep.Secret.Namespace, ep.Secret.Name))
		return 0, nil
	case err != nil:
		conditions.Progressing(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ReasonBackendError, "cannot ask the Devin API about the credential: "+err.Error(), false)
		return 0, err
	case self.Kind != devinapi.PrincipalServiceUser:
		r.stall(obj, iamv1alpha1.ReasonNotAServiceUser, fmt.Sprintf(
			"the key in Secret %s/%s is a %q principal's, not a service user's API key: an account acts as a service user", ep.Secret.Namespace, ep.Secret.Name, self.Kind))
		return 0, nil
	}
	st.Principal, st.ServiceUserID, st.OrganizationID = self.Kind, self.ServiceUserID, self.OrgID
	conditions.Ready(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ReasonCredentialValid,
		fmt.Sprintf("the credential is the API key of service user %s", self.ServiceUserID))
	return r.afterCheck(ctx, conn, obj, sec, ep.Secret.Key, base)
}

// afterCheck is what a working credential leads to: its expiry, and its rotation when the
// spec asks for it; it returns when to look again.
func (r *DevinAccountReconciler) afterCheck(ctx context.Context, conn *account.Connection, obj AccountObject, sec *corev1.Secret, secretKey string, base *statusBase) (time.Duration, error) {
	again := r.expiry(ctx, conn, obj)
	wake, err := r.rotate(ctx, conn, obj, sec, secretKey, base)
	if err != nil {
		return 0, err
	}
	if wake > 0 {
		again = min(again, wake)
	}
	return again, nil
}

// expiry records when the account's service user expires and warns ahead of it; it
// returns when to look again.
func (r *DevinAccountReconciler) expiry(ctx context.Context, conn *account.Connection, obj AccountObject) time.Duration {
	st := obj.AccountStatus()
	su, err := conn.Client.GetServiceUser(ctx, st.ServiceUserID)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("cannot read the account's service user", "serviceUserID", st.ServiceUserID, "error", err.Error())
		return accountRecheck
	}
	st.CredentialExpiresAt = nil
	if su.ExpiresAt == nil {
		meta.RemoveStatusCondition(&st.Conditions, iamv1alpha1.ConditionExpiringSoon)
		return accountRecheck
	}
	st.CredentialExpiresAt = &metav1.Time{Time: *su.ExpiresAt}
	warnAt := su.ExpiresAt.Add(-accountCredentialWarning)
	if left := warnAt.Sub(r.Clock.Now()); left > 0 {
		conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionExpiringSoon, metav1.ConditionFalse,
			iamv1alpha1.ReasonCredentialValid, "the service user is far from its expiry")
		return min(accountRecheck, left)
	}
	msg := fmt.Sprintf("service user %s expires %s: provision a new one and put its key in the account's Secret before then",
		su.ID, su.ExpiresAt.UTC().Format(time.RFC3339))
	if !meta.IsStatusConditionTrue(st.Conditions, iamv1alpha1.ConditionExpiringSoon) && r.Recorder != nil {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, iamv1alpha1.EventExpiringSoon, "CheckCredential", "%s", msg)
	}
	conditions.Set(&st.Conditions, obj.GetGeneration(), iamv1alpha1.ConditionExpiringSoon, metav1.ConditionTrue,
		iamv1alpha1.ReasonCredentialExpiring, msg)
	return accountRecheck
}

// exportExpiry sets the account's expiry metric (0: unknown), or drops it (gone).
func (r *DevinAccountReconciler) exportExpiry(key string, at *metav1.Time, gone bool) {
	switch {
	case r.Expiry == nil:
	case gone:
		r.Expiry.DeleteLabelValues(account.Label(key))
	case at == nil:
		r.Expiry.WithLabelValues(account.Label(key)).Set(0)
	default:
		r.Expiry.WithLabelValues(account.Label(key)).Set(float64(at.Unix()))
	}
}

// secretRef is where one of the account's Secrets is: a DevinAccount's in its own namespace;
// a ClusterDevinAccount's in the operator's namespace or one --cluster-account-secret-namespaces
// lists (why, with its reason, says when not).
func (r *DevinAccountReconciler) secretRef(obj AccountObject, in iamv1alpha1.AccountSecretRef) (account.SecretRef, string, string) {
	ref := account.SecretRef{Namespace: obj.GetNamespace(), Name: in.Name, Key: in.Key}
	if ref.Key == "" {
		ref.Key = iamv1alpha1.DefaultSecretKey
	}
	if obj.GetNamespace() != "" {
		return ref, "", ""
	}
	if ref.Namespace = in.Namespace; ref.Namespace == "" {
		ref.Namespace = r.OperatorNamespace
	}
	if ref.Namespace != r.OperatorNamespace && !slices.Contains(r.SecretNamespaces, ref.Namespace) {
		return ref, iamv1alpha1.ReasonSecretNamespaceNotAllowed, fmt.Sprintf(
			"a ClusterDevinAccount reads its Secrets from the operator's namespace %s, or from a namespace the operator's --cluster-account-secret-namespaces lists; %s is not one",
			r.OperatorNamespace, ref.Namespace)
	}
	return ref, "", ""
}

// stall marks the account Stalled for reason: only a change of its spec or Secret helps
// (both are watched).
func (r *DevinAccountReconciler) stall(obj AccountObject, reason, msg string) {
	st := obj.AccountStatus()
	conditions.Stalled(&st.Conditions, obj.GetGeneration(), reason, msg, false)
	st.Principal, st.ServiceUserID, st.OrganizationID, st.CredentialExpiresAt = "", "", "", nil
	meta.RemoveStatusCondition(&st.Conditions, iamv1alpha1.ConditionExpiringSoon)
}

// endpoint is where the account's requests go; why (with its reason) says what is wrong
// when its Secret may not be read from the namespace it names, or a tenant's account names
// an API URL the operator may not call.
func (r *DevinAccountReconciler) endpoint(obj AccountObject) (account.Endpoint, string, string) {
	spec := obj.AccountSpec()
	ref, reason, why := r.secretRef(obj, spec.CredentialSecretRef)
	if why != "" {
		return account.Endpoint{}, reason, why
	}
	var adminKey account.SecretRef
	if spec.EnterpriseAdminKeySecretRef != nil {
		if adminKey, reason, why = r.secretRef(obj, *spec.EnterpriseAdminKeySecretRef); why != "" {
			return account.Endpoint{}, reason, why
		}
	}
	ep := account.Endpoint{URL: strings.TrimSuffix(spec.APIURL, "/"), Secret: ref, AdminKey: adminKey}
	if ep.URL == "" {
		ep.URL = defaultAPIURL
	}
	if obj.GetNamespace() != "" && !slices.Contains(r.APIURLs, ep.URL) {
		return account.Endpoint{}, iamv1alpha1.ReasonAPIURLNotAllowed, fmt.Sprintf(
			"the operator calls only the API URLs its --account-api-urls lists for a DevinAccount (%s); ask a cluster administrator to add %s, or use a ClusterDevinAccount",
			strings.Join(r.APIURLs, ", "), ep.URL)
	}
	if rl := spec.RateLimit; rl != nil {
		ep.QPS, ep.Burst = float64(rl.RequestsPerSecond), int(rl.Burst)
		if ep.Burst == 0 {
			ep.Burst = int(rl.RequestsPerSecond)
		}
	}
	return ep, "", ""
}
