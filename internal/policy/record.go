package policy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of Open and Record.Check; wrap-aware (errors.Is).
var (
	// ErrNoRecord: the resource carries no admission record.
	ErrNoRecord = errors.New("no admission record")
	// ErrMalformed: the value is not a sealed record of a known format.
	ErrMalformed = errors.New("malformed admission record")
	// ErrInvalidSeal: the MAC does not match under any key: the record was altered, or
	// sealed with a key the operator no longer holds.
	ErrInvalidSeal = errors.New("admission record not sealed by this operator")
	// ErrMismatch: the record is genuine but about another object or another spec.
	ErrMismatch = errors.New("admission record does not match the resource")
	// ErrKeyTooShort: an HMAC key shorter than MinKeySize.
	ErrKeyTooShort = errors.New("admission key too short")
)

const (
	// MinKeySize is the minimum length of an HMAC key, in bytes.
	MinKeySize = 32
	// sealVersion prefixes every sealed value: v1.<base64url json>.<base64url hmac-sha256>.
	sealVersion = "v1"
	// maxSealed bounds the length of a value Open reads.
	maxSealed = 64 << 10
)

var b64 = base64.RawURLEncoding.Strict()

// Record is what the admission webhook records about the request that admitted a resource's
// current spec: who asked, under which policy, and which object and spec it was about.
type Record struct {
	Kind      Kind   `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// SpecHash is SpecHash of the admitted object.
	SpecHash string `json:"specHash"`
	// Policy is the CredentialPolicy that admitted it.
	Policy string `json:"policy"`
	// User, Groups, UserUID and Extra are the requester as the API server authenticated
	// them; Email is the Devin email they mapped to ("" for none).
	User    string              `json:"user"`
	Groups  []string            `json:"groups,omitempty"`
	UserUID string              `json:"userUID,omitempty"`
	Extra   map[string][]string `json:"extra,omitempty"`
	Email   string              `json:"email,omitempty"`
	// UID is the admission request's UID (it matches the API server's audit log).
	UID string `json:"uid"`
	// At is when the webhook admitted the request.
	At time.Time `json:"at"`
}

// Requester returns the recorded requester, for the controller's Decide.
func (r *Record) Requester() Requester {
	return Requester{User: r.User, Groups: r.Groups, UID: r.UserUID, Extra: r.Extra, Email: r.Email}
}

// Check returns an error wrapping ErrMismatch unless the record is about this object and
// this spec hash.
func (r *Record) Check(kind Kind, namespace, name, specHash string) error {
	switch {
	case r.Kind != kind || r.Namespace != namespace || r.Name != name:
		return fmt.Errorf("%w: it admitted %s %s/%s", ErrMismatch, r.Kind, quote(r.Namespace), quote(r.Name))
	case r.SpecHash != specHash:
		return fmt.Errorf("%w: the spec changed since it was admitted", ErrMismatch)
	}
	return nil
}

// ClockSkew is how far the operator's clock (which dates a record) and the API server's
// (which dates the resource's creation, after the webhook) may disagree.
const ClockSkew = 2 * time.Minute

// CheckCreated returns an error wrapping ErrMismatch when the record predates the creation of
// the resource (created) by more than ClockSkew: it was written for an earlier resource of
// the same kind, namespace, name and spec, and is replayed on this one.
func (r *Record) CheckCreated(created time.Time) error {
	if !created.IsZero() && r.At.Before(created.Add(-ClockSkew)) {
		return fmt.Errorf("%w: it was written at %s for an earlier resource of this name (this one was created at %s)",
			ErrMismatch, r.At.UTC().Format(time.RFC3339), created.UTC().Format(time.RFC3339))
	}
	return nil
}

// Seal encodes r and signs it with key (HMAC-SHA256):
// "v1.<base64url(json)>.<base64url(mac)>", the MAC covering "v1.<base64url(json)>".
func Seal(key []byte, r Record) (string, error) {
	if len(key) < MinKeySize {
		return "", fmt.Errorf("seal: %w (%d bytes, want %d)", ErrKeyTooShort, len(key), MinKeySize)
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("seal: encode record: %w", err)
	}
	signed := sealVersion + "." + b64.EncodeToString(payload)
	return signed + "." + b64.EncodeToString(mac(key, signed)), nil
}

// Open verifies value with key (constant-time) and decodes its record. Errors wrap
// ErrNoRecord, ErrMalformed, ErrInvalidSeal or ErrKeyTooShort. The caller still checks that
// the record is about its object (Record.Check).
func Open(key []byte, value string) (Record, error) {
	signed, sum, err := split(value)
	if err != nil {
		return Record{}, err
	}
	return open(key, signed, sum)
}

// split parses the format; signed is the MAC'd part, sum the decoded MAC.
func split(value string) (signed string, sum []byte, err error) {
	if value == "" {
		return "", nil, ErrNoRecord
	}
	if len(value) > maxSealed {
		return "", nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(value))
	}
	parts := strings.Split(value, ".")
	if len(parts) != 3 || parts[0] != sealVersion {
		return "", nil, fmt.Errorf("%w: want %s.<record>.<mac>", ErrMalformed, sealVersion)
	}
	sum, err = b64.DecodeString(parts[2])
	if err != nil || len(sum) != sha256.Size {
		return "", nil, fmt.Errorf("%w: bad MAC encoding", ErrMalformed)
	}
	return parts[0] + "." + parts[1], sum, nil
}

func open(key []byte, signed string, sum []byte) (Record, error) {
	if len(key) < MinKeySize {
		return Record{}, fmt.Errorf("open: %w (%d bytes, want %d)", ErrKeyTooShort, len(key), MinKeySize)
	}
	if !hmac.Equal(mac(key, signed), sum) {
		return Record{}, ErrInvalidSeal
	}
	return decode(signed)
}

// Unverified decodes the record of value without checking its seal, for display only (the
// kubectl plugin shows who asked, and holds no key): whoever may edit the resource can write
// anything there. Decide nothing on it; the operator opens it with Open.
func Unverified(value string) (Record, error) {
	signed, _, err := split(value)
	if err != nil {
		return Record{}, err
	}
	return decode(signed)
}

// decode parses the record of the signed part, "v1.<base64url json>".
func decode(signed string) (Record, error) {
	payload, err := b64.DecodeString(signed[len(sealVersion)+1:])
	if err != nil {
		return Record{}, fmt.Errorf("%w: bad record encoding", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return r, nil
}

func mac(key []byte, signed string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(signed))
	return h.Sum(nil)
}
