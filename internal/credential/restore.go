package credential

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/policy"
)

// restorePurpose separates restore records from every other value the key ring seals.
const restorePurpose = "restore-record/v1"

// maxRestoredOwners bounds the owners a record carries (a resource restored again and again
// keeps the markers of its service user and of its current token).
const maxRestoredOwners = 4

// keyRingTimeout bounds the read of the key ring Secret when a record is checked.
const keyRingTimeout = 5 * time.Second

// RestoreRecord names a resource and the upstream objects its Secret belongs to: the
// markers their names carry, the token the Secret holds and its service user. The operator
// seals it onto every Secret it writes a token into (RestoreRecordAnnotation), in the same
// write, so that a resource restored from a backup, with a new UID, can prove that the
// restored Secret's token is the one this operator created for its kind, namespace and name.
type RestoreRecord struct {
	Kind          string         `json:"kind"`
	Namespace     string         `json:"namespace"`
	Name          string         `json:"name"`
	Owners        []recordMarker `json:"owners"`
	TokenID       string         `json:"tokenID"`
	ServiceUserID string         `json:"serviceUserID,omitempty"`
}

type recordMarker struct {
	Cluster string    `json:"cluster"`
	UID     types.UID `json:"uid"`
}

// about reports whether the record is about this kind, namespace and name.
func (r RestoreRecord) about(kind string, obj Object) bool {
	return r.Kind == kind && r.Namespace == obj.GetNamespace() && r.Name == obj.GetName()
}

// names reports whether one of the record's owners has this UID.
func (r RestoreRecord) names(uid types.UID) bool {
	return slices.ContainsFunc(r.Owners, func(m recordMarker) bool { return m.UID == uid })
}

// KeyRings gives the key ring that seals restore records (the admission key ring).
type KeyRings interface {
	KeyRing(ctx context.Context) (*policy.KeyRing, error)
}

// Restore seals restore records and, when Adopt is set (--adopt-restored, an
// administrator's choice), lets a resource adopt what a verified record names. A clone of a
// cluster restored beside the original must leave Adopt off: it would adopt, then rotate
// and revoke, the original's tokens.
type Restore struct {
	Keys  KeyRings
	Adopt bool
}

// seal returns the record for obj's token as the Secret's annotation; "" when no key ring
// can be read (the Secret then carries no record, and is not adoptable after a restore).
func (r *Restore) seal(ctx context.Context, kind string, obj Object, owner Owner, tokenID string) string {
	if r == nil || r.Keys == nil {
		return ""
	}
	ring, err := r.Keys.KeyRing(ctx)
	if err != nil {
		ctrl.LoggerFrom(ctx).Info("the Secret gets no restore record: the key ring cannot be read", "error", err.Error())
		return ""
	}
	rec := RestoreRecord{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), TokenID: tokenID}
	for _, o := range append([]Owner{owner}, owner.Restored...) {
		if len(rec.Owners) < maxRestoredOwners {
			rec.Owners = append(rec.Owners, recordMarker{Cluster: o.Cluster, UID: o.UID})
		}
	}
	if su, ok := obj.(*iamv1alpha1.ServiceUser); ok {
		rec.ServiceUserID = su.Status.ServiceUserID
	}
	payload, err := json.Marshal(rec)
	if err != nil {
		return ""
	}
	return ring.SealFor(restorePurpose, payload)
}

// open verifies a sealed record and decodes it; only with Adopt.
func (r *Restore) open(ctx context.Context, value string) (RestoreRecord, error) {
	if r == nil || !r.Adopt || r.Keys == nil {
		return RestoreRecord{}, fmt.Errorf("adoption of restored objects is off (--adopt-restored)")
	}
	ctx, cancel := context.WithTimeout(ctx, keyRingTimeout)
	defer cancel()
	ring, err := r.Keys.KeyRing(ctx)
	if err != nil {
		return RestoreRecord{}, err
	}
	payload, err := ring.OpenFor(restorePurpose, value)
	if err != nil {
		return RestoreRecord{}, err
	}
	var rec RestoreRecord
	if err := json.Unmarshal(payload, &rec); err != nil || len(rec.Owners) > maxRestoredOwners {
		return RestoreRecord{}, fmt.Errorf("%w: restore record", policy.ErrMalformed)
	}
	return rec, nil
}

// restoredOwners are the owners a resource adopted after a restore: those its
// status.restoredFrom names, when that is a record this operator sealed for the same kind,
// namespace and name and adoption is on. Anything else (a record of another resource, one
// altered or written by someone else, a failure to read the key ring) names none.
func (r *Restore) restoredOwners(kind string, obj Object, self Owner) []Owner {
	value := obj.CredentialStatus().RestoredFrom
	if value == "" || r == nil || !r.Adopt {
		return nil
	}
	rec, err := r.open(context.Background(), value)
	if err != nil || !rec.about(kind, obj) {
		return nil
	}
	var out []Owner
	for _, m := range rec.Owners {
		if m.UID != self.UID || m.Cluster != self.Cluster {
			out = append(out, Owner{Cluster: m.Cluster, UID: m.UID})
		}
	}
	return out
}
