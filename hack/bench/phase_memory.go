// Phase memory measures the manager's RSS and Go heap with N resources, then with many
// unrelated Secrets, which its cache must not hold.

package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// unrelatedPrefix is the namespace prefix of the unrelated Secrets.
const unrelatedPrefix = "unrelated-"

// memoryResult is the manager's memory with N resources, then with many Secrets it has no
// business with.
type memoryResult struct {
	// idleRSS is the manager's resident set right after its start, before any resource.
	idleRSS uint64
	// before: with the N resources (end of the idle window).
	rssBefore, hwmBefore uint64
	heapBefore           float64
	// after: the unrelated Secrets created, and o.settle later.
	rssAfter, hwmAfter uint64
	heapAfter          float64
	secrets            int
	secretBytes        int
	created            time.Duration
	// d is what the operator did while the Secrets were created (it should do nothing).
	d delta
}

// runMemory creates o.unrelatedSecrets Secrets of o.unrelatedSize bytes, without the
// operator's label, in namespaces of their own, with a client of high QPS, and reads the
// manager's memory again. The cache holds only labelled Secrets, so it should barely move.
func runMemory(ctx context.Context, c *cluster, o options, idle idleResult) (memoryResult, error) {
	res := memoryResult{rssBefore: idle.rss, hwmBefore: idle.hwm, heapBefore: idle.heapInuse,
		secrets: o.unrelatedSecrets, secretBytes: o.unrelatedSize}
	const namespaces = 20
	if err := c.ensureNamespaces(ctx, unrelatedPrefix, namespaces); err != nil {
		return res, err
	}
	payload, err := randomBytes(o.unrelatedSize)
	if err != nil {
		return res, err
	}
	labels := map[string]string{"app.kubernetes.io/name": "something-else"}
	var after snapshot
	res.created, res.d, after, err = c.createSecrets(ctx, o.settle, o.unrelatedSecrets, 64, func(i int) *corev1.Secret {
		return blobSecret(numbered(unrelatedPrefix, i%namespaces), fmt.Sprintf("unrelated-%06d", i), labels, payload)
	})
	if err != nil {
		return res, fmt.Errorf("unrelated Secrets: %w", err)
	}
	res.heapAfter = after.op.HeapInuse
	res.rssAfter, res.hwmAfter, err = c.op.memory()
	return res, err
}
