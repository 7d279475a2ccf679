package kubectldevin

import (
	"fmt"
	"io"
	"sort"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
	"github.com/cogtokens/token-operator/internal/credential"
	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/logging"
)

// States of an inventory row.
const (
	// stateOwned: a resource of the cluster answers for the upstream object.
	stateOwned = "owned"
	// stateOrphan: the object carries this cluster's marker, and no resource has its UID.
	stateOrphan = "orphan"
	// stateMissing: a Ready resource's status names an object the Devin API does not hold.
	stateMissing = "missing"
)

// Kinds of upstream objects.
const (
	upstreamServiceUser = "ServiceUser"
	upstreamAPIKey      = "APIKey"
	upstreamPAT         = "PAT"
)

// inventoryRow is one upstream object and the resource that owns it; -o json and -o yaml
// print the rows as they are.
type inventoryRow struct {
	Kind       string `json:"kind"`
	UpstreamID string `json:"upstreamID"`
	// UpstreamName is the display part of the upstream name, without the marker.
	UpstreamName string `json:"upstreamName"`
	// Resource is namespace/name; empty for an orphan.
	Resource string `json:"resource,omitempty"`
	State    string `json:"state"`
}

// upstream is what inventory read of the Devin API.
type upstream struct {
	// serviceUsers are the active service users of the enterprise.
	serviceUsers []devinapi.ServiceUser
	// keys are the active API keys of each service user listed, by its ID.
	keys map[string][]devinapi.APIKey
	// pats are the active personal access tokens of each user listed, by user ID.
	pats map[string][]devinapi.APIKey
}

// resourceIndex finds the resource that answers for an upstream object: the one whose
// status names it, or the one whose UID its name's marker of this cluster carries.
type resourceIndex struct {
	cluster string
	byUID   map[types.UID]credentialObject
	// serviceUsers and tokens are the upstream IDs the resources' status names.
	serviceUsers map[string]credentialObject
	tokens       map[string]credentialObject
}

func newResourceIndex(cluster string, objs []credentialObject) *resourceIndex {
	ix := &resourceIndex{cluster: cluster, byUID: map[types.UID]credentialObject{},
		serviceUsers: map[string]credentialObject{}, tokens: map[string]credentialObject{}}
	for _, o := range objs {
		ix.byUID[o.GetUID()] = o
		st := o.CredentialStatus()
		if st.Token != nil {
			ix.tokens[st.Token.ID] = o
		}
		for _, r := range st.PendingRevocations {
			ix.tokens[r.ID] = o
		}
		if su, ok := o.(*iamv1alpha1.ServiceUser); ok && su.Status.ServiceUserID != "" {
			ix.serviceUsers[su.Status.ServiceUserID] = o
		}
	}
	return ix
}

// serviceUser returns the resource a service user belongs to (nil: none, an orphan); ours
// is false for a service user that is not this cluster's.
func (ix *resourceIndex) serviceUser(u devinapi.ServiceUser) (owner credentialObject, ours bool) {
	if o, ok := ix.serviceUsers[u.ID]; ok {
		return o, true
	}
	_, m, ok := credential.ParseServiceUserMarker(u.Name)
	if !ok || m.Cluster != ix.cluster {
		return nil, false
	}
	return ix.byUID[m.UID], true
}

// token returns the resource a token belongs to (nil: none, an orphan); ours is false for
// a token without a marker of this cluster, and for one whose marker names no cluster and
// no resource here (another cluster may have made it).
func (ix *resourceIndex) token(k devinapi.APIKey) (owner credentialObject, ours bool) {
	if o, ok := ix.tokens[k.ID]; ok {
		return o, true
	}
	_, m, ok := credential.ParseTokenMarker(k.Name)
	switch {
	case !ok:
		return nil, false
	case m.Cluster == ix.cluster:
		return ix.byUID[m.UID], true
	case m.Cluster == "":
		o := ix.byUID[m.UID]
		return o, o != nil
	}
	return nil, false
}

// classify lists every upstream object of this cluster with its resource, then every
// Ready resource whose upstream object is gone.
func classify(cluster string, objs []credentialObject, up *upstream) []inventoryRow {
	ix := newResourceIndex(cluster, objs)
	rows := []inventoryRow{}
	for _, u := range up.serviceUsers {
		suOwner, ours := ix.serviceUser(u)
		if !ours {
			continue
		}
		rows = append(rows, newRow(upstreamServiceUser, u.ID, serviceUserDisplay(u.Name), suOwner))
		for _, k := range up.keys[u.ID] {
			// A key without a marker (the one provisioned with the service user) is the
			// service user's resource's.
			owner, ours := ix.token(k)
			if !ours {
				owner = suOwner
			}
			rows = append(rows, newRow(upstreamAPIKey, k.ID, tokenDisplay(k.Name), owner))
		}
	}
	for _, user := range sortedKeys(up.pats) {
		for _, k := range up.pats[user] {
			if owner, ours := ix.token(k); ours {
				rows = append(rows, newRow(upstreamPAT, k.ID, tokenDisplay(k.Name), owner))
			}
		}
	}
	rows = append(rows, missingRows(objs, up)...)
	sort.SliceStable(rows, func(i, j int) bool {
		if a, b := stateOrder(rows[i].State), stateOrder(rows[j].State); a != b {
			return a < b
		}
		return rows[i].Resource < rows[j].Resource
	})
	return rows
}

// missingRows are the Ready resources whose status names a service user, key or personal
// access token the Devin API does not hold (among what was listed).
func missingRows(objs []credentialObject, up *upstream) []inventoryRow {
	live := map[string]bool{}
	for _, u := range up.serviceUsers {
		live[u.ID] = true
	}
	var rows []inventoryRow
	for _, o := range objs {
		st := o.CredentialStatus()
		if o.GetDeletionTimestamp() != nil || !apimeta.IsStatusConditionTrue(st.Conditions, iamv1alpha1.ConditionReady) {
			continue
		}
		kind, keys, listed := upstreamPAT, []devinapi.APIKey(nil), false
		switch o := o.(type) {
		case *iamv1alpha1.ServiceUser:
			if id := o.Status.ServiceUserID; id != "" && !live[id] {
				rows = append(rows, missingRow(upstreamServiceUser, id, serviceUserDisplay(o.Status.ServiceUserName), o))
				continue
			}
			kind = upstreamAPIKey
			keys, listed = up.keys[o.Status.ServiceUserID]
		case *iamv1alpha1.PersonalAccessToken:
			keys, listed = up.pats[o.Status.UserID]
		}
		if listed && st.Token != nil && !hasKey(keys, st.Token.ID) {
			rows = append(rows, missingRow(kind, st.Token.ID, tokenDisplay(st.Token.Name), o))
		}
	}
	return rows
}

func newRow(kind, id, display string, owner credentialObject) inventoryRow {
	// Upstream names are anyone's text: one that quotes a token is not printed as it is.
	r := inventoryRow{Kind: kind, UpstreamID: logging.Scrub(id), UpstreamName: logging.Scrub(display), State: stateOrphan}
	if owner != nil {
		r.Resource, r.State = owner.GetNamespace()+"/"+owner.GetName(), stateOwned
	}
	return r
}

func missingRow(kind, id, display string, owner credentialObject) inventoryRow {
	r := newRow(kind, id, display, owner)
	r.State = stateMissing
	return r
}

func hasKey(keys []devinapi.APIKey, id string) bool {
	for _, k := range keys {
		if k.ID == id {
			return true
		}
	}
	return false
}

// serviceUserDisplay and tokenDisplay are an upstream name without its marker.
func serviceUserDisplay(name string) string {
	if display, _, ok := credential.ParseServiceUserMarker(name); ok {
		return display
	}
	return name
}

func tokenDisplay(name string) string {
	if display, _, ok := credential.ParseTokenMarker(name); ok {
		return display
	}
	return name
}

// stateOrder lists what needs doing first.
func stateOrder(state string) int {
	switch state {
	case stateOrphan:
		return 0
	case stateMissing:
		return 1
	}
	return 2
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// problems counts the orphans and the missing objects.
func problems(rows []inventoryRow) (orphans, missing int) {
	for _, r := range rows {
		switch r.State {
		case stateOrphan:
			orphans++
		case stateMissing:
			missing++
		}
	}
	return orphans, missing
}

func renderInventory(w io.Writer, rows []inventoryRow) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "No upstream object of this cluster, and no resource whose upstream object is gone.")
		return
	}
	t := newTable(w, "KIND", "UPSTREAM ID", "UPSTREAM NAME", "RESOURCE", "STATE")
	for _, r := range rows {
		t.row(r.Kind, r.UpstreamID, r.UpstreamName, r.Resource, r.State)
	}
	t.flush()
}
