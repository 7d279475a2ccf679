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

// TestSealForSeparatesPurposes: a value sealed for one purpose opens only for that purpose
// and under a key of the ring; an admission record never opens as another purpose's value,
// nor the reverse, and any change of the value breaks its seal.
func TestSealForSeparatesPurposes(t *testing.T) {
	key, other := bytes.Repeat([]byte{1}, MinKeySize), bytes.Repeat([]byte{2}, MinKeySize)
	ring, _ := NewKeyRing(key)
	rotated, _ := NewKeyRing(other, key)
	foreign, _ := NewKeyRing(other)
	value := ring.SealFor("restore", []byte(`{"a":1}`))
	if got, err := rotated.OpenFor("restore", value); err != nil || string(got) != `{"a":1}` {
		t.Fatalf("open with the previous key: %q, %v", got, err)
	}
	if _, err := ring.OpenFor("other", value); !errors.Is(err, ErrInvalidSeal) {
		t.Errorf("opened for another purpose: %v", err)
	}
	if _, err := foreign.OpenFor("restore", value); !errors.Is(err, ErrInvalidSeal) {
		t.Errorf("opened with a foreign key: %v", err)
	}
	tampered := value[:3] + string(rune(value[3]^1)) + value[4:]
	if _, err := ring.OpenFor("restore", tampered); err == nil {
		t.Errorf("a changed value opened")
	}
	admission, err := ring.Seal(Record{Kind: "PersonalAccessToken", Namespace: "a", Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.OpenFor("restore", admission); err == nil {
		t.Errorf("an admission record opened as a restore record")
	}
	if _, err := ring.Open(value); err == nil {
		t.Errorf("a restore record opened as an admission record")
	}
}
