package kubectldevin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// maxManifest bounds what can-i reads from a file or stdin.
const maxManifest = 1 << 20

// readManifests reads the objects of a YAML or JSON file ("-" for stdin), one or more
// documents, and refuses any that is not a PersonalAccessToken or a ServiceUser.
func readManifests(path string, stdin io.Reader) ([]*unstructured.Unstructured, error) {
	src := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read the manifest: %w", err)
		}
		defer f.Close()
		src = f
	}
	b, err := io.ReadAll(io.LimitReader(src, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("read the manifest %s: %w", path, err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("the manifest %s is larger than 1 MiB", path)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the manifest %s is not YAML or JSON: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue // an empty document
		}
		if err := judged(obj); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("the manifest %s holds no object", path)
	}
	return objs, nil
}

// judged refuses an object the policies do not govern.
func judged(obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	if gvk.Group != iamv1alpha1.GroupVersion.Group || (gvk.Kind != kindPAT && gvk.Kind != kindSU) {
		return fmt.Errorf("%s %q is not a PersonalAccessToken or ServiceUser of %s: can-i judges only those",
			gvk.Kind, obj.GetName(), iamv1alpha1.GroupVersion.Group)
	}
	return nil
}
