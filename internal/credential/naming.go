package credential

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// UpstreamName is the deterministic upstream name of the n-th token of a resource:
// "<display> [k8s:<uid>:<n>]". The suffix makes it unique and lets the operator find the
// tokens of a resource among the others of the same user.
func UpstreamName(display string, uid types.UID, n int64) string {
	return fmt.Sprintf("%s %s%d]", display, ownedPrefix(uid), n)
}

// OwnedBy reports whether an upstream token name was issued for the resource with this UID.
func OwnedBy(name string, uid types.UID) bool {
	return strings.Contains(name, ownedPrefix(uid))
}

// issueNumber reads the counter from an upstream name made by UpstreamName.
func issueNumber(name string, uid types.UID) (int64, bool) {
	i := strings.Index(name, ownedPrefix(uid))
	if i < 0 {
		return 0, false
	}
	rest := strings.TrimSuffix(name[i+len(ownedPrefix(uid)):], "]")
	n, err := strconv.ParseInt(rest, 10, 64)
	return n, err == nil
}

func ownedPrefix(uid types.UID) string { return "[k8s:" + string(uid) + ":" }

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
