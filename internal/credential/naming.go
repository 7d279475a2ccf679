package credential

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// Owner identifies the resource an upstream object belongs to: the cluster (so that two
// clusters sharing one Devin enterprise, or a copy restored from a backup, never touch each
// other's objects) and the resource's UID. Every upstream name the operator makes ends with
// the owner's marker, " [k8s:<cluster>:<uid>...]", derived from these two and never read
// back from anything a tenant can write; the operator adopts, revokes or deletes an
// upstream object found by name only when its name ends with that marker.
type Owner struct {
	Cluster string
	UID     types.UID
	// Restored are the owners of an earlier resource of the same kind, namespace and name
	// whose upstream objects this one adopted after a restore from a backup, as a verified
	// restore record names them (see Restore): their markers prove ownership too. New names
	// always carry the owner's own marker.
	Restored []Owner
}

// Owner is the owner marker of the resource's upstream objects, with the owners it adopted
// after a restore (a verified status.restoredFrom, with adoption on).
func (l *Lifecycle) Owner(obj Object) Owner {
	o := Owner{Cluster: l.Cluster, UID: obj.GetUID()}
	o.Restored = l.Restore.restoredOwners(l.Kind, obj, o)
	return o
}

// maxUpstreamName is the Devin API's limit on a service user's name.
const maxUpstreamName = 256

// ClusterID derives a short cluster identity from a unique seed (the UID of the
// kube-system namespace): "c" and 12 hex digits of its SHA-256.
func ClusterID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return "c" + hex.EncodeToString(sum[:6])
}

func (o Owner) prefix() string { return fmt.Sprintf("[k8s:%s:%s", o.Cluster, o.UID) }

// TokenName is the upstream name of the owner's n-th token: "<display> [k8s:<cluster>:<uid>:<n>]".
func (o Owner) TokenName(display string, n int64) string {
	return fmt.Sprintf("%s %s:%d]", display, o.prefix(), n)
}

// ServiceUserName is the upstream name of the owner's service user, "<display> [k8s:<cluster>:<uid>]",
// with display shortened so that the whole fits the API's limit.
func (o Owner) ServiceUserName(display string) string {
	marker := " " + o.prefix() + "]"
	room := maxUpstreamName - len(marker)
	for len(display) > room {
		_, size := utf8.DecodeLastRuneInString(display)
		display = display[:len(display)-size]
	}
	return display + marker
}

// OwnsServiceUser reports whether an upstream service user name ends with the owner's marker,
// or with a restored owner's.
func (o Owner) OwnsServiceUser(name string) bool {
	if strings.HasSuffix(name, " "+o.prefix()+"]") {
		return true
	}
	for _, r := range o.Restored {
		if strings.HasSuffix(name, " "+r.prefix()+"]") {
			return true
		}
	}
	return false
}

// OwnsToken reports whether an upstream token name ends with the owner's marker, or with
// the marker without a cluster, " [k8s:<uid>:<n>]", of tokens made before names carried it.
func (o Owner) OwnsToken(name string) bool {
	_, ok := o.IssueNumber(name)
	return ok
}

// IssueNumber reads the counter from a token name the owner's marker (or a restored
// owner's) ends.
func (o Owner) IssueNumber(name string) (int64, bool) {
	if n, ok := o.ownIssueNumber(name); ok {
		return n, ok
	}
	for _, r := range o.Restored {
		if n, ok := r.ownIssueNumber(name); ok {
			return n, ok
		}
	}
	return 0, false
}

func (o Owner) ownIssueNumber(name string) (int64, bool) {
	for _, p := range []string{o.prefix() + ":", "[k8s:" + string(o.UID) + ":"} {
		i := strings.LastIndex(name, " "+p)
		if i < 0 || !strings.HasSuffix(name, "]") {
			continue
		}
		n, err := strconv.ParseInt(name[i+1+len(p):len(name)-1], 10, 64)
		if err == nil && n > 0 {
			return n, true
		}
	}
	return 0, false
}

// OwnedBy reports whether an upstream token name carries the marker of a resource with this
// UID, in any cluster. The audit of a test cluster uses it; the operator asks its Owner.
func OwnedBy(name string, uid types.UID) bool {
	return strings.Contains(name, ":"+string(uid)+":") && strings.Contains(name, "[k8s:")
}

// SecretName is the name of the Secret a resource's token goes to.
func SecretName(obj Object) string {
	if n := obj.Credential().SecretName; n != "" {
		return n
	}
	return obj.GetName()
}

// SecretKey is the Secret data key that holds the token.
func SecretKey(obj Object) string {
	if t := obj.Credential().SecretTemplate; t != nil && t.Key != "" {
		return t.Key
	}
	return iamv1alpha1.DefaultSecretKey
}

// Marker is what the marker an upstream name ends with says: the cluster ("" in a token
// marker without one), the UID of the resource, and, in a token's marker, its issue number.
type Marker struct {
	Cluster string
	UID     types.UID
	// N is the token's issue number; 0 in a service user's marker.
	N int64
}

// markerOpen starts every marker.
const markerOpen = " [k8s:"

// ParseServiceUserMarker reads the marker a service user's upstream name ends with,
// " [k8s:<cluster>:<uid>]", and returns the name's display part before it; ok is false
// when the name ends with no such marker. Owner{m.Cluster, m.UID}.OwnsServiceUser(name)
// holds whenever ok does.
func ParseServiceUserMarker(name string) (display string, m Marker, ok bool) {
	display, fields, ok := markerFields(name)
	if !ok || len(fields) < 2 {
		return "", Marker{}, false
	}
	uid := fields[len(fields)-1]
	cluster := strings.Join(fields[:len(fields)-1], ":")
	if uid == "" || cluster == "" {
		return "", Marker{}, false
	}
	return display, Marker{Cluster: cluster, UID: types.UID(uid)}, true
}

// ParseTokenMarker reads the marker a token's upstream name ends with,
// " [k8s:<cluster>:<uid>:<n>]" or, without a cluster, " [k8s:<uid>:<n>]", and returns the
// name's display part before it; ok is false when the name ends with no such marker.
// Owner{m.Cluster, m.UID}.IssueNumber(name) returns m.N whenever ok does.
func ParseTokenMarker(name string) (display string, m Marker, ok bool) {
	display, fields, ok := markerFields(name)
	if !ok || len(fields) < 2 {
		return "", Marker{}, false
	}
	n, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
	uid := fields[len(fields)-2]
	if err != nil || n <= 0 || uid == "" {
		return "", Marker{}, false
	}
	cluster := strings.Join(fields[:len(fields)-2], ":")
	if len(fields) > 2 && cluster == "" {
		return "", Marker{}, false
	}
	return display, Marker{Cluster: cluster, UID: types.UID(uid), N: n}, true
}

// markerFields splits the last marker of name into its colon-separated fields; a cluster
// ID given by flag may hold a colon, a UID and a number never do.
func markerFields(name string) (display string, fields []string, ok bool) {
	i := strings.LastIndex(name, markerOpen)
	if i < 0 || !strings.HasSuffix(name, "]") {
		return "", nil, false
	}
	inner := name[i+len(markerOpen) : len(name)-1]
	if strings.ContainsAny(inner, "[]") {
		return "", nil, false
	}
	return name[:i], strings.Split(inner, ":"), true
}
