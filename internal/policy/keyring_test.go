package policy

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeyRingRotation(t *testing.T) {
	old, err := NewKeyRing(key1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := old.Seal(sampleRecord())
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := KeyRingFromSecretData(map[string][]byte{SecretKeyCurrent: key2, SecretKeyPrevious: key1})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := rotated.Open(before); err != nil || r.Name != "alice-token" {
		t.Errorf("a record sealed before the rotation: %v", err)
	}
	after, err := rotated.Seal(sampleRecord())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(key2, after); err != nil {
		t.Errorf("new records are not sealed with the current key: %v", err)
	}
	if _, err := old.Open(after); !errors.Is(err, ErrInvalidSeal) {
		t.Errorf("a ring without the new key opens its records: %v", err)
	}
	dropped, err := KeyRingFromSecretData(map[string][]byte{SecretKeyCurrent: key2, SecretKeyPrevious: nil})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dropped.Open(before); !errors.Is(err, ErrInvalidSeal) {
		t.Errorf("a dropped key still opens records: %v", err)
	}
	if _, err := rotated.Open("garbage"); !errors.Is(err, ErrMalformed) {
		t.Errorf("Open(garbage) = %v, want ErrMalformed", err)
	}
}

func TestKeyRingKeys(t *testing.T) {
	if _, err := KeyRingFromSecretData(map[string][]byte{}); err == nil {
		t.Error("a Secret without the current key was accepted")
	}
	if _, err := NewKeyRing(key1, key1[:8]); !errors.Is(err, ErrKeyTooShort) {
		t.Errorf("short previous key: %v", err)
	}
	k, err := GenerateKey()
	if err != nil || len(k) != MinKeySize {
		t.Fatalf("GenerateKey = %d bytes, %v", len(k), err)
	}
	k2, _ := GenerateKey()
	if bytes.Equal(k, k2) {
		t.Error("GenerateKey repeats itself")
	}
	current := bytes.Clone(key1)
	ring, _ := NewKeyRing(current)
	current[0] = 9
	v, _ := ring.Seal(sampleRecord())
	if _, err := Open(key1, v); err != nil {
		t.Errorf("the ring shares the caller's key slice: %v", err)
	}
}
