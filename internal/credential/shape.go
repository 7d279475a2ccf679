package credential

import (
	"encoding/json"
	"maps"
	"slices"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// secretShape is the Secret a resource wants, derived once per reconcile from its spec and
// the operator's settings: its name, the data key of the token, the template's labels and
// annotations (with the record of their keys) and the extra entries. Every step of the
// lifecycle reads it; none derives it from the spec again.
type secretShape struct {
	// name is the Secret's name; key the data key of the token.
	name, key string
	// labels and annotations are what the template sets, the managed-by label and the record
	// of the template's keys; never changed once made (meta returns copies).
	labels, annotations map[string]string
	// The data keys of the template's extra entries ("" for none) and their values; the
	// token's ID depends on the token.
	apiURLKey, apiURL    string
	tokenIDKey           string
	organizationKey, org string
}

// wantedSecret is the shape of obj's Secret.
func (l *Lifecycle) wantedSecret(obj Object) secretShape {
	s := secretShape{name: SecretName(obj), key: SecretKey(obj)}
	s.labels, s.annotations = secretMeta(obj)
	if tmpl := obj.Credential().SecretTemplate; tmpl != nil && tmpl.ExtraKeys != nil {
		x := tmpl.ExtraKeys
		s.apiURLKey, s.apiURL = x.APIURL, l.APIURL
		s.tokenIDKey = x.TokenID
		s.organizationKey, s.org = x.OrganizationID, l.organization(obj)
	}
	return s
}

// meta returns copies of the labels and annotations the Secret wants.
func (s secretShape) meta() (labels, annotations map[string]string) {
	return maps.Clone(s.labels), maps.Clone(s.annotations)
}

// extraData is the Secret's extra entries for tok. The token's own key is never an extra
// entry, whatever the spec says (the CRD refuses it too): an extra entry there would
// overwrite the token, the next reconcile would find the Secret changed and mint again,
// forever.
func (s secretShape) extraData(tok *iamv1alpha1.IssuedToken) map[string][]byte {
	out := map[string][]byte{}
	if s.apiURLKey != "" && s.apiURL != "" {
		out[s.apiURLKey] = []byte(s.apiURL)
	}
	if s.tokenIDKey != "" && tok != nil {
		out[s.tokenIDKey] = []byte(tok.ID)
	}
	if s.organizationKey != "" && s.org != "" {
		out[s.organizationKey] = []byte(s.org)
	}
	delete(out, s.key)
	return out
}

// secretMeta is the metadata the resource wants on its Secret: the template's labels and
// annotations, the managed-by label, and the record of the template's keys.
func secretMeta(obj Object) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	keys := templateKeys{}
	if tmpl := obj.Credential().SecretTemplate; tmpl != nil {
		for k, v := range tmpl.Labels {
			labels[k] = string(v)
			keys.Labels = append(keys.Labels, k)
		}
		maps.Copy(annotations, tmpl.Annotations)
		keys.Annotations = slices.Collect(maps.Keys(tmpl.Annotations))
	}
	slices.Sort(keys.Labels)
	slices.Sort(keys.Annotations)
	labels[iamv1alpha1.ManagedByLabel] = iamv1alpha1.ManagedByValue
	if len(keys.Labels)+len(keys.Annotations) > 0 {
		raw, _ := json.Marshal(keys)
		annotations[iamv1alpha1.TemplateKeysAnnotation] = string(raw)
	}
	return labels, annotations
}
