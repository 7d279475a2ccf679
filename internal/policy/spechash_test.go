package policy

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

func mustHash(t *testing.T, obj runtime.Object) string {
	t.Helper()
	h, err := SpecHash(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSpecHash(t *testing.T) {
	su := &iamv1alpha1.ServiceUser{
		ObjectMeta: metav1.ObjectMeta{Name: "ci", Namespace: "team-a"},
		Spec:       iamv1alpha1.ServiceUserSpec{Role: "Member", TTL: &metav1.Duration{Duration: time.Hour}},
	}
	pat := &iamv1alpha1.PersonalAccessToken{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: "team-a"},
		Spec:       iamv1alpha1.PersonalAccessTokenSpec{User: iamv1alpha1.UserReference{Email: "alice@example.com"}},
	}
	base := map[string]string{"su": mustHash(t, su), "pat": mustHash(t, pat)}
	same := map[string]func() runtime.Object{
		"status": func() runtime.Object { c := su.DeepCopy(); c.Status.ServiceUserID = "x"; return c },
		"metadata": func() runtime.Object {
			c := su.DeepCopy()
			c.Annotations = map[string]string{iamv1alpha1.AdmissionAnnotation: "v1.x.y"}
			c.Labels, c.Generation, c.ResourceVersion = map[string]string{"a": "b"}, 7, "42"
			return c
		},
		"60m is 1h": func() runtime.Object { c := su.DeepCopy(); c.Spec.TTL.Duration = 60 * time.Minute; return c },
	}
	for name, change := range same {
		if mustHash(t, change()) != base["su"] {
			t.Errorf("%s changed the spec hash", name)
		}
	}
	changed := map[string]func() runtime.Object{
		"role":         func() runtime.Object { c := su.DeepCopy(); c.Spec.Role = "Admin"; return c },
		"scope":        func() runtime.Object { c := su.DeepCopy(); c.Spec.Scope = iamv1alpha1.ScopeEnterprise; return c },
		"organization": func() runtime.Object { c := su.DeepCopy(); c.Spec.OrganizationID = "org-b"; return c },
		"ttl":          func() runtime.Object { c := su.DeepCopy(); c.Spec.TTL.Duration = 2 * time.Hour; return c },
		"key lifetime": func() runtime.Object {
			c := su.DeepCopy()
			c.Spec.APIKey.ExpiresAfter = &metav1.Duration{Duration: time.Hour}
			return c
		},
		"deletion": func() runtime.Object {
			c := su.DeepCopy()
			c.Spec.DeletionPolicy = iamv1alpha1.DeletionPolicyOrphan
			return c
		},
		"suspend":  func() runtime.Object { c := su.DeepCopy(); c.Spec.Suspend = true; return c },
		"secret":   func() runtime.Object { c := su.DeepCopy(); c.Spec.APIKey.SecretName = "other"; return c },
		"pat:user": func() runtime.Object { c := pat.DeepCopy(); c.Spec.User.Email = "bob@example.com"; return c },
		"pat:import": func() runtime.Object {
			c := pat.DeepCopy()
			c.Spec.ImportFrom = &iamv1alpha1.ImportSource{SecretName: "s"}
			return c
		},
		"pat:grace":      func() runtime.Object { c := pat.DeepCopy(); c.Spec.RotationGracePeriod = &metav1.Duration{}; return c },
		"pat:token name": func() runtime.Object { c := pat.DeepCopy(); c.Spec.TokenName = "x"; return c },
	}
	for name, change := range changed {
		was := base["su"]
		if strings.HasPrefix(name, "pat:") {
			was = base["pat"]
		}
		if mustHash(t, change()) == was {
			t.Errorf("a change of %s kept the spec hash", name)
		}
	}
	if _, err := SpecHash(&corev1.Secret{}); err == nil {
		t.Error("SpecHash of a Secret")
	}
}
