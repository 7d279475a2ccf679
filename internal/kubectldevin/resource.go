package kubectldevin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// credentialObject is a PersonalAccessToken or a ServiceUser.
type credentialObject interface {
	client.Object
	Credential() *iamv1alpha1.CredentialSpec
	CredentialStatus() *iamv1alpha1.CredentialStatus
	Suspended() bool
	Imported() bool
}

// Kinds the plugin names, with kubectl's short names.
const (
	kindPAT = "PersonalAccessToken"
	kindSU  = "ServiceUser"
)

// ref names one resource: pat/NAME or su/NAME.
type ref struct {
	kind string
	name string
}

// resourceNames are the names kubectl accepts for each kind, lower case.
var resourceNames = map[string]string{
	"pat":                               kindPAT,
	"pats":                              kindPAT,
	"personalaccesstoken":               kindPAT,
	"personalaccesstokens":              kindPAT,
	"personalaccesstokens.iam.devin.ai": kindPAT,
	"su":                                kindSU,
	"sus":                               kindSU,
	"serviceuser":                       kindSU,
	"serviceusers":                      kindSU,
	"serviceusers.iam.devin.ai":         kindSU,
}

// parseRef reads "pat/NAME" or "su/NAME"; kinds, when given, are the ones the command takes.
func parseRef(arg string, kinds ...string) (ref, error) {
	typ, name, ok := strings.Cut(arg, "/")
	kind := resourceNames[strings.ToLower(typ)]
	if !ok || name == "" || kind == "" || strings.Contains(name, "/") {
		return ref{}, fmt.Errorf("%q is not a resource: name one as pat/NAME or su/NAME", arg)
	}
	if len(kinds) > 0 && !slices.Contains(kinds, kind) {
		return ref{}, fmt.Errorf("%q: this command takes %s only", arg, strings.Join(shortNames(kinds), " or "))
	}
	return ref{kind: kind, name: name}, nil
}

func shortNames(kinds []string) []string {
	var out []string
	for _, k := range kinds {
		out = append(out, short(k)+"/NAME")
	}
	return out
}

// short is kubectl's short name of a kind.
func short(kind string) string {
	if kind == kindSU {
		return "su"
	}
	return "pat"
}

func (r ref) String() string { return short(r.kind) + "/" + r.name }

func newObject(kind string) credentialObject {
	if kind == kindSU {
		return &iamv1alpha1.ServiceUser{}
	}
	return &iamv1alpha1.PersonalAccessToken{}
}

// get reads the resource, with errors that say what to do.
func (s *session) get(ctx context.Context, r ref) (credentialObject, error) {
	obj := newObject(r.kind)
	err := s.client.Get(ctx, types.NamespacedName{Namespace: s.namespace, Name: r.name}, obj)
	switch {
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("%s not found in namespace %s: list them with kubectl get %s -n %s, or pass -n",
			r, s.namespace, short(r.kind), s.namespace)
	case apierrors.IsForbidden(err):
		return nil, fmt.Errorf("you may not read %s in namespace %s: ask for get on %s.iam.devin.ai there (%w)",
			r, s.namespace, plural(r.kind), err)
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", r, err)
	}
	return obj, nil
}

func plural(kind string) string { return strings.ToLower(kind) + "s" }
