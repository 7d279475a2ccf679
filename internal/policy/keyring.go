package policy

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
)

// Data keys of the operator's Secret that holds the admission keys.
const (
	// SecretKeyCurrent holds the key that seals new records.
	SecretKeyCurrent = "current"
	// SecretKeyPrevious optionally holds the key before it, still accepted by Open.
	SecretKeyPrevious = "previous"
)

// KeyRing seals admission records with its current key and opens records sealed with any of
// its keys, so that rotating the key (the old current becomes previous) does not invalidate
// the records of existing resources. Safe for concurrent use; immutable.
type KeyRing struct {
	keys [][]byte
}

// NewKeyRing returns a KeyRing that seals with current and also opens with previous. Every
// key must be at least MinKeySize bytes.
func NewKeyRing(current []byte, previous ...[]byte) (*KeyRing, error) {
	keys := append([][]byte{current}, previous...)
	for i, k := range keys {
		if len(k) < MinKeySize {
			return nil, fmt.Errorf("key ring: key %d: %w (%d bytes, want %d)", i, ErrKeyTooShort, len(k), MinKeySize)
		}
		keys[i] = append([]byte(nil), k...)
	}
	return &KeyRing{keys: keys}, nil
}

// KeyRingFromSecretData reads a KeyRing from the data of the operator's Secret:
// SecretKeyCurrent, and SecretKeyPrevious when present and not empty.
func KeyRingFromSecretData(data map[string][]byte) (*KeyRing, error) {
	current, ok := data[SecretKeyCurrent]
	if !ok {
		return nil, fmt.Errorf("key ring: the Secret has no %q key", SecretKeyCurrent)
	}
	if previous := data[SecretKeyPrevious]; len(previous) > 0 {
		return NewKeyRing(current, previous)
	}
	return NewKeyRing(current)
}

// GenerateKey returns a new random key of MinKeySize bytes, for SecretKeyCurrent.
func GenerateKey() ([]byte, error) {
	key := make([]byte, MinKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate admission key: %w", err)
	}
	return key, nil
}

// Seal seals r with the current key.
func (k *KeyRing) Seal(r Record) (string, error) {
	return Seal(k.keys[0], r)
}

// Open opens a value sealed with any key of the ring. Errors as for Open.
func (k *KeyRing) Open(value string) (Record, error) {
	signed, sum, err := split(value)
	if err != nil {
		return Record{}, err
	}
	for _, key := range k.keys {
		r, err := open(key, signed, sum)
		if !errors.Is(err, ErrInvalidSeal) {
			return r, err
		}
	}
	return Record{}, ErrInvalidSeal
}

// purposeVersion prefixes a value sealed for a purpose: p1.<base64url payload>.<base64url mac>.
const purposeVersion = "p1"

// SealFor signs payload for one purpose (a restore record, say) with the current key. The
// MAC key is derived from the ring's key and the purpose, so that a value sealed for one
// purpose (or an admission record) never opens for another.
func (k *KeyRing) SealFor(purpose string, payload []byte) string {
	signed := purposeVersion + "." + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(mac(purposeKey(k.keys[0], purpose), signed))
}

// OpenFor verifies a value SealFor sealed for purpose with any key of the ring and returns
// its payload. Errors wrap ErrNoRecord, ErrMalformed or ErrInvalidSeal.
func (k *KeyRing) OpenFor(purpose, value string) ([]byte, error) {
	if value == "" {
		return nil, ErrNoRecord
	}
	parts := strings.Split(value, ".")
	if len(value) > maxSealed || len(parts) != 3 || parts[0] != purposeVersion {
		return nil, fmt.Errorf("%w: want %s.<payload>.<mac>", ErrMalformed, purposeVersion)
	}
	sum, err := b64.DecodeString(parts[2])
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("%w: bad MAC encoding", ErrMalformed)
	}
	signed := parts[0] + "." + parts[1]
	for _, key := range k.keys {
		if hmac.Equal(mac(purposeKey(key, purpose), signed), sum) {
			payload, err := b64.DecodeString(parts[1])
			if err != nil {
				return nil, fmt.Errorf("%w: bad payload encoding", ErrMalformed)
			}
			return payload, nil
		}
	}
	return nil, ErrInvalidSeal
}

// purposeKey derives the MAC key of one purpose from a ring key.
func purposeKey(key []byte, purpose string) []byte {
	return mac(key, "token-operator sealed value, purpose: "+purpose)
}
