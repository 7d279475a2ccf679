// Phase bloat measures the manager's Go heap and RSS when a tenant creates large Secrets that
// carry the operator's managed-by label, and that the operator does no work for them.

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

// bloatPrefix is the namespace prefix of the Secrets that carry the operator's label.
const bloatPrefix = "bloat-"

// bloatResult is the manager's memory before and after a tenant creates large Secrets that
// carry the operator's managed-by label: the manager's Secret informer selects them, and its
// cache transform keeps of each only its identity, the operator's labels and annotations and
// a SHA-256 of each value.
type bloatResult struct {
	secrets, size int
	created       time.Duration
	// gc tells whether the heap figures were read right after a forced GC (through the
	// manager's pprof endpoint), the live heap; otherwise as the metric stood.
	gc                            bool
	rssBefore, rssAfter, hwmAfter uint64
	heapBefore, heapAfter         float64
	// d is what the operator did meanwhile: no reconcile, call or write is expected.
	d delta
}

// runBloat creates o.bloatSecrets Secrets of o.bloatSize bytes labelled
// app.kubernetes.io/managed-by=token-operator, owned by no resource, in namespaces of their
// own, waits o.settle, reads the manager's memory again, and deletes them (out of band) so
// that the later phases run as before.
func runBloat(ctx context.Context, c *cluster, o options) (bloatResult, error) {
	res := bloatResult{secrets: o.bloatSecrets, size: o.bloatSize, gc: o.pprof}
	if o.bloatSecrets == 0 {
		return res, nil
	}
	const namespaces = 10
	if err := c.ensureNamespaces(ctx, bloatPrefix, namespaces); err != nil {
		return res, err
	}
	payload, err := randomBytes(o.bloatSize)
	if err != nil {
		return res, err
	}
	if res.rssBefore, res.heapBefore, err = c.settledMemory(ctx, o.pprof); err != nil {
		return res, err
	}
	labels := map[string]string{iamv1alpha1.ManagedByLabel: iamv1alpha1.ManagedByValue}
	res.created, res.d, _, err = c.createSecrets(ctx, o.settle, o.bloatSecrets, 8, func(i int) *corev1.Secret {
		sec := blobSecret(numbered(bloatPrefix, i%namespaces), fmt.Sprintf("bloat-%04d", i), labels, payload)
		if i%2 == 1 {
			metadataBloat(sec, o.bloatSize)
		}
		return sec
	})
	if err != nil {
		return res, fmt.Errorf("labelled Secrets: %w", err)
	}
	if res.rssAfter, res.heapAfter, err = c.settledMemory(ctx, o.pprof); err != nil {
		return res, err
	}
	if _, res.hwmAfter, err = c.op.memory(); err != nil {
		return res, err
	}
	return res, c.deleteBloat(ctx, namespaces, o)
}

// metadataBloat replaces sec's data with what a tenant can put in the metadata of a Secret
// that names a PersonalAccessToken (one that does not exist) as its controller: owner
// references by the thousand, iam.devin.ai/ annotations, and many small data keys, about
// size bytes in all (the API server keeps metadata under 256 KiB of annotations).
func metadataBloat(sec *corev1.Secret, size int) {
	filler := strings.Repeat("x", 200)
	sec.OwnerReferences = []metav1.OwnerReference{{APIVersion: iamv1alpha1.GroupVersion.String(), Kind: "PersonalAccessToken",
		Name: "ghost", UID: types.UID(sec.Name + "-ghost"), Controller: ptr.To(true)}}
	for i := 0; i < size/2/250; i++ {
		sec.OwnerReferences = append(sec.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap",
			Name: fmt.Sprintf("%s-%d", filler, i), UID: types.UID(fmt.Sprintf("%s-%d", sec.Name, i))})
	}
	sec.Annotations = map[string]string{}
	for i := 0; i < min(size/4, 200<<10)/1024; i++ {
		sec.Annotations[fmt.Sprintf("iam.devin.ai/junk-%d", i)] = strings.Repeat("y", 1000)
	}
	sec.Data = map[string][]byte{}
	for i := 0; i < size/4/1024; i++ {
		sec.Data[fmt.Sprintf("k%04d", i)] = []byte(strings.Repeat("z", 1000))
	}
}

// settledMemory reads the manager's RSS and Go heap in use, right after a forced GC when gc
// is set (GET /debug/pprof/heap?gc=1 runs one).
func (c *cluster) settledMemory(ctx context.Context, gc bool) (uint64, float64, error) {
	if gc {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.pprofURL("heap?gc=1"), nil)
		if err != nil {
			return 0, 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, fmt.Errorf("force a GC: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	st, err := c.operatorStats(ctx)
	if err != nil {
		return 0, 0, err
	}
	rss, _, err := c.op.memory()
	return rss, st.HeapInuse, err
}

// deleteBloat deletes the labelled Secrets and waits until the operator is idle.
func (c *cluster) deleteBloat(ctx context.Context, namespaces int, o options) error {
	sel := client.MatchingLabels{iamv1alpha1.ManagedByLabel: iamv1alpha1.ManagedByValue}
	for i := 0; i < namespaces; i++ {
		if err := c.admin.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(numbered(bloatPrefix, i)), sel); err != nil {
			return fmt.Errorf("delete labelled Secrets: %w", err)
		}
	}
	_, err := c.waitIdle(ctx, o.quiet, o.phaseTimeout, idlePoll)
	return err
}
