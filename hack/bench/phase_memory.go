package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	payload := make([]byte, o.unrelatedSize)
	if _, err := rand.Read(payload); err != nil {
		return res, err
	}
	before, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	start := time.Now()
	err = parallel(ctx, o.unrelatedSecrets, 64, func(ctx context.Context, i int) error {
		sec := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: fmt.Sprintf("%s%d", unrelatedPrefix, i%namespaces),
				Name:      fmt.Sprintf("unrelated-%06d", i),
				Labels:    map[string]string{"app.kubernetes.io/name": "something-else"},
			},
			Data: map[string][]byte{"blob": payload},
		}
		return c.admin.Create(ctx, sec)
	})
	if err != nil {
		return res, fmt.Errorf("create unrelated Secrets: %w", err)
	}
	res.created = time.Since(start)
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(o.settle):
	}
	after, err := c.snapshot(ctx)
	if err != nil {
		return res, err
	}
	res.d = before.to(after)
	res.heapAfter = after.op.HeapInuse
	res.rssAfter, res.hwmAfter, err = c.op.memory()
	return res, err
}
