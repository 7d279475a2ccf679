package tenancy

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cogtokens/token-operator/internal/policy"
)

// keyReload is how long a loaded key ring is used before the Secret is read again (a key
// rotated by hand reaches every replica within it).
const keyReload = time.Minute

// KeySecret keeps the key ring that seals admission records in a Secret of the operator's
// namespace (keys "current" and, after a rotation, "previous"), which only the operator
// reads. The first replica that finds it missing creates it; every replica then uses the
// same keys.
type KeySecret struct {
	Client    client.Client // creates the Secret
	Reader    client.Reader // reads it around the cache
	Namespace string
	Name      string
	// Clock says when the keys are read again; nil: the wall clock.
	Clock clock.PassiveClock

	mu       sync.Mutex
	ring     *policy.KeyRing
	loadedAt time.Time
}

// KeyRing returns the key ring, loading (or creating) the Secret when needed.
func (k *KeySecret) KeyRing(ctx context.Context) (*policy.KeyRing, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring != nil && k.now().Sub(k.loadedAt) < keyReload {
		return k.ring, nil
	}
	ring, err := k.load(ctx)
	if err != nil {
		if k.ring != nil {
			return k.ring, nil // keep using the last keys while the Secret cannot be read
		}
		return nil, err
	}
	k.ring, k.loadedAt = ring, k.now()
	return ring, nil
}

func (k *KeySecret) now() time.Time {
	if k.Clock == nil {
		return clock.RealClock{}.Now()
	}
	return k.Clock.Now()
}

func (k *KeySecret) load(ctx context.Context) (*policy.KeyRing, error) {
	sec := &corev1.Secret{}
	err := k.Reader.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: k.Name}, sec)
	if apierrors.IsNotFound(err) {
		if sec, err = k.create(ctx); apierrors.IsAlreadyExists(err) {
			err = k.Reader.Get(ctx, client.ObjectKey{Namespace: k.Namespace, Name: k.Name}, sec)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read the admission key Secret %s/%s: %w", k.Namespace, k.Name, err)
	}
	return policy.KeyRingFromSecretData(sec.Data)
}

func (k *KeySecret) create(ctx context.Context) (*corev1.Secret, error) {
	key, err := policy.GenerateKey()
	if err != nil {
		return nil, err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name,
			Labels: map[string]string{"app.kubernetes.io/name": "token-operator", "app.kubernetes.io/component": "admission-key"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{policy.SecretKeyCurrent: key},
	}
	return sec, k.Client.Create(ctx, sec)
}
