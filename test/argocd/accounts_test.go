package argocd

import (
	"path/filepath"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// TestAccountTestdataIsReal checks that every account object is one the operator could have
// written: it decodes strictly into the Go types, passes the structural schema of the
// generated CRD, a DevinAccount has a namespace and a ClusterDevinAccount none, and its
// conditions use the account's condition types and the reasons of the API.
func TestAccountTestdataIsReal(t *testing.T) {
	reasons := append(conditionReasons(t), reasonConstants(t, "devinaccount_types.go")...)
	condTypes := []string{iamv1alpha1.ConditionReady, iamv1alpha1.ConditionReconciling,
		iamv1alpha1.ConditionStalled, iamv1alpha1.ConditionExpiringSoon}
	for _, kind := range accountKinds {
		schema := crdSchema(t, kind)
		for _, path := range testdataFiles(t, kind) {
			rel, _ := filepath.Rel(kindDir(kind), path)
			t.Run(kind+"/"+rel, func(t *testing.T) {
				meta, status := decodeAccount(t, kind, readFile(t, path))
				obj := readObject(t, path)
				if obj["apiVersion"] != iamv1alpha1.GroupVersion.String() || obj["kind"] != kind {
					t.Errorf("apiVersion %v kind %v, want %s %s", obj["apiVersion"], obj["kind"], iamv1alpha1.GroupVersion, kind)
				}
				for _, err := range checkSchema("", schema, obj) {
					t.Error(err)
				}
				if meta.Name == "" || meta.UID == "" || meta.Generation < 1 || meta.CreationTimestamp.IsZero() {
					t.Errorf("metadata lacks what the API server sets: %+v", meta)
				}
				if namespaced := kind == "DevinAccount"; namespaced != (meta.Namespace != "") {
					t.Errorf("namespace %q on a %s", meta.Namespace, kind)
				}
				if status.ObservedGeneration > meta.Generation {
					t.Errorf("observedGeneration %d is ahead of generation %d", status.ObservedGeneration, meta.Generation)
				}
				checkAccountConditions(t, meta, status, condTypes, reasons)
			})
		}
	}
}

// decodeAccount decodes an account strictly into the Go types of its kind.
func decodeAccount(t *testing.T, kind string, raw []byte) (metav1.ObjectMeta, iamv1alpha1.DevinAccountStatus) {
	t.Helper()
	switch kind {
	case "DevinAccount":
		var obj iamv1alpha1.DevinAccount
		if err := yaml.UnmarshalStrict(raw, &obj); err != nil {
			t.Fatalf("not a DevinAccount of the Go types: %v", err)
		}
		return obj.ObjectMeta, obj.Status
	case "ClusterDevinAccount":
		var obj iamv1alpha1.ClusterDevinAccount
		if err := yaml.UnmarshalStrict(raw, &obj); err != nil {
			t.Fatalf("not a ClusterDevinAccount of the Go types: %v", err)
		}
		return obj.ObjectMeta, obj.Status
	}
	t.Fatalf("%s is not an account kind", kind)
	return metav1.ObjectMeta{}, iamv1alpha1.DevinAccountStatus{}
}

// checkAccountConditions: known types and reasons, what the operator sets on each, and
// kstatus' rules (Stalled and Reconciling exclusive; Ready False with the reason of either);
// a Ready account names its service user.
func checkAccountConditions(t *testing.T, meta metav1.ObjectMeta, status iamv1alpha1.DevinAccountStatus, condTypes, reasons []string) {
	t.Helper()
	seen := map[string]metav1.Condition{}
	for _, c := range status.Conditions {
		if !slices.Contains(condTypes, c.Type) {
			t.Errorf("condition type %q is not one of %v", c.Type, condTypes)
		}
		if !slices.Contains(reasons, c.Reason) {
			t.Errorf("condition %s has reason %q, not one of api/v1alpha1", c.Type, c.Reason)
		}
		if c.Status != metav1.ConditionTrue && c.Status != metav1.ConditionFalse && c.Status != metav1.ConditionUnknown {
			t.Errorf("condition %s has status %q", c.Type, c.Status)
		}
		if c.Message == "" || c.LastTransitionTime.IsZero() || c.ObservedGeneration < 1 || c.ObservedGeneration > meta.Generation {
			t.Errorf("condition %s lacks what the operator sets (message, lastTransitionTime, observedGeneration): %+v", c.Type, c)
		}
		if _, dup := seen[c.Type]; dup {
			t.Errorf("condition %s appears twice", c.Type)
		}
		seen[c.Type] = c
	}
	stalled, reconciling := seen[iamv1alpha1.ConditionStalled], seen[iamv1alpha1.ConditionReconciling]
	if stalled.Status == metav1.ConditionTrue && reconciling.Status == metav1.ConditionTrue {
		t.Error("Stalled and Reconciling are both True")
	}
	ready, ok := seen[iamv1alpha1.ConditionReady]
	if ok && ready.Status == metav1.ConditionFalse {
		for _, c := range []metav1.Condition{stalled, reconciling} {
			if c.Status == metav1.ConditionTrue && c.Reason != ready.Reason {
				t.Errorf("Ready is False (%s) while %s is True with reason %s", ready.Reason, c.Type, c.Reason)
			}
		}
	}
	if ok && ready.Status == metav1.ConditionTrue && (status.ServiceUserID == "" || status.Principal == "") {
		t.Error("Ready is True without the principal and service user in status")
	}
	if ok && ready.Status != metav1.ConditionTrue && (status.ServiceUserID != "" || status.CredentialExpiresAt != nil) {
		t.Error("a credential that does not work still names a service user or an expiry")
	}
}
