package policy

import (
	"crypto/rand"
	"errors"
	"fmt"
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
