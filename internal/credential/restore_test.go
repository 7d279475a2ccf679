package credential

import (
	"bytes"
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
)

type staticRing struct{ ring *policy.KeyRing }

func (s staticRing) KeyRing(context.Context) (*policy.KeyRing, error) { return s.ring, nil }

func ringOf(t *testing.T, b byte) staticRing {
	t.Helper()
	ring, err := policy.NewKeyRing(bytes.Repeat([]byte{b}, policy.MinKeySize))
	if err != nil {
		t.Fatal(err)
	}
	return staticRing{ring}
}

const restoredUID = types.UID("1c0ffee0-bbbb-4ccc-8ddd-123456789abc")

// restoredWorld is a world whose resource got its first token (and its Secret the sealed
// record), then was lost and re-created from a backup: the same kind, namespace and name,
// a new UID, no status; its Secret restored as it was, its owner reference naming the
// earlier UID. mutate changes the new resource before it is reconciled.
func restoredWorld(t *testing.T, adopt bool, mutate ...func(*iamv1alpha1.PersonalAccessToken)) *world {
	t.Helper()
	w := newWorld(t)
	w.l.Restore = &Restore{Keys: ringOf(t, 7), Adopt: adopt}
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	if w.secret("ci").Annotations[iamv1alpha1.RestoreRecordAnnotation] == "" {
		t.Fatal("the Secret carries no restore record")
	}
	w.pat = &iamv1alpha1.PersonalAccessToken{ObjectMeta: metav1.ObjectMeta{
		Name: "ci", Namespace: "team-a", UID: restoredUID, Generation: 1,
	}}
	for _, m := range mutate {
		m(w.pat)
	}
	w.log = nil
	_ = w.events()
	return w
}

// TestRestoredSecretIsAdoptedOnProof: with adoption on, the re-created resource takes the
// restored Secret's token over (no new token upstream), becomes the Secret's controller,
// and its owner includes the earlier resource's marker.
func TestRestoredSecretIsAdoptedOnProof(t *testing.T) {
	w := restoredWorld(t, true)
	if _, err := w.reconcile(); err != nil {
		t.Fatal(err)
	}
	st := w.pat.CredentialStatus()
	if st.Token == nil || st.Token.ID != "key-1" || indexOf(w.log, "issue ") >= 0 {
		t.Fatalf("token %+v, calls %q: want key-1 adopted, nothing issued", st.Token, w.log)
	}
	if sec := w.secret("ci"); !metav1.IsControlledBy(sec, w.pat) || sec.Annotations[iamv1alpha1.RestoreRecordAnnotation] == "" {
		t.Fatalf("the Secret is not controlled by the new resource, or lost its record: %+v", sec.OwnerReferences)
	}
	if owner := w.l.Owner(w.pat); len(owner.Restored) != 1 || owner.Restored[0].UID != testUID || !owner.OwnsToken(testOwner.TokenName("team-a/ci", 1)) {
		t.Fatalf("owner %+v: want the earlier resource's marker restored", owner)
	}
	if got := w.events(); len(got) != 1 || got[0] != iamv1alpha1.EventRestoredAdopted {
		t.Fatalf("events %q, want one %s", got, iamv1alpha1.EventRestoredAdopted)
	}
}

// TestRestoredSecretIsNotAdoptedWithoutProof plays the cases where nothing may be adopted:
// adoption off (a clone beside the original), a record sealed by another operator's keys
// (or forged), a record of another resource name, a token the Devin API no longer lists.
// Each leaves the SecretConflict and mints nothing.
func TestRestoredSecretIsNotAdoptedWithoutProof(t *testing.T) {
	cases := map[string]func(t *testing.T) *world{
		"adoption off": func(t *testing.T) *world { return restoredWorld(t, false) },
		"another operator's keys": func(t *testing.T) *world {
			w := restoredWorld(t, true)
			w.l.Restore.Keys = ringOf(t, 8)
			return w
		},
		"a record of another name": func(t *testing.T) *world {
			return restoredWorld(t, true, func(p *iamv1alpha1.PersonalAccessToken) {
				p.Name, p.Spec.SecretName = "ci-copy", "ci"
			})
		},
		"a token revoked since": func(t *testing.T) *world {
			w := restoredWorld(t, true)
			if err := w.iss.Revoke(context.Background(), "key-1"); err != nil {
				t.Fatal(err)
			}
			w.log = nil
			return w
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			w := setup(t)
			_, err := w.reconcile()
			if p := Classify(err); p.Reason != iamv1alpha1.ReasonSecretConflict {
				t.Fatalf("error %v, want a SecretConflict", err)
			}
			st := w.pat.CredentialStatus()
			if st.Token != nil || st.RestoredFrom != "" || indexOf(w.log, "issue ") >= 0 {
				t.Fatalf("token %+v, restoredFrom %q, calls %q: nothing may be adopted or issued", st.Token, st.RestoredFrom, w.log)
			}
			if metav1.IsControlledBy(w.secret("ci"), w.pat) {
				t.Fatal("the Secret was taken over")
			}
		})
	}
}

// TestRestoredOwnersNeedAGenuineRecord: status.restoredFrom, which whoever may write status
// can set, widens ownership only when it is a record this operator sealed for the same
// kind, namespace and name, and only with adoption on.
func TestRestoredOwnersNeedAGenuineRecord(t *testing.T) {
	w := restoredWorld(t, true)
	genuine := w.secret("ci").Annotations[iamv1alpha1.RestoreRecordAnnotation]
	forged := ringOf(t, 9).ring.SealFor(restorePurpose, []byte(`{"kind":"PersonalAccessToken","namespace":"team-a","name":"ci","owners":[{"cluster":"x","uid":"victim"}],"tokenID":"k"}`))
	other := w.pat.DeepCopy()
	other.Name = "other"
	for name, tc := range map[string]struct {
		obj   *iamv1alpha1.PersonalAccessToken
		value string
		adopt bool
		want  int
	}{
		"genuine":                {w.pat, genuine, true, 1},
		"genuine, adoption off":  {w.pat, genuine, false, 0},
		"sealed by another ring": {w.pat, forged, true, 0},
		"of another name":        {other, genuine, true, 0},
		"not a record":           {w.pat, "p1.e30.AAAA", true, 0},
	} {
		w.l.Restore.Adopt = tc.adopt
		tc.obj.Status.RestoredFrom = tc.value
		if got := w.l.Owner(tc.obj).Restored; len(got) != tc.want {
			t.Errorf("%s: restored owners %+v, want %d", name, got, tc.want)
		}
	}
}
