package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	key1 = bytes.Repeat([]byte{1}, MinKeySize)
	key2 = bytes.Repeat([]byte{2}, MinKeySize)
)

func sampleRecord() Record {
	return Record{
		Kind: KindPersonalAccessToken, Namespace: "team-a", Name: "alice-token", SpecHash: "sha256:00ff",
		Policy: "team-a", User: "oidc:alice@example.com", Groups: []string{"devs", "system:authenticated"},
		UserUID: "uid-1", Extra: map[string][]string{"example.com/email": {"alice@example.com"}}, Email: "alice@example.com",
		UID: "705ab4f5-6393-11e8-b7cc-42010a800002", At: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
	}
}

func mustSeal(t *testing.T, key []byte, r Record) string {
	t.Helper()
	v, err := Seal(key, r)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSealOpenRoundTrip(t *testing.T) {
	want := sampleRecord()
	v := mustSeal(t, key1, want)
	if !strings.HasPrefix(v, "v1.") || strings.Count(v, ".") != 2 {
		t.Errorf("sealed value %q is not v1.<record>.<mac>", v)
	}
	got, err := Open(key1, v)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(got)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Errorf("Open = %s, want %s", gotJSON, wantJSON)
	}
	if err := got.Check(KindPersonalAccessToken, "team-a", "alice-token", "sha256:00ff"); err != nil {
		t.Errorf("Check: %v", err)
	}
	who := got.Requester()
	if who.User != want.User || who.Email != want.Email || who.UID != want.UserUID || len(who.Groups) != 2 || len(who.Extra) != 1 {
		t.Errorf("Requester = %+v", who)
	}
}

// Every field of the record is covered by the MAC: changing any one of them, and keeping the
// MAC, is refused.
func TestOpenRefusesTamperedRecords(t *testing.T) {
	v := mustSeal(t, key1, sampleRecord())
	parts := strings.Split(v, ".")
	for name, tamper := range map[string]func(*Record){
		"kind":      func(r *Record) { r.Kind = KindServiceUser },
		"namespace": func(r *Record) { r.Namespace = "team-b" },
		"name":      func(r *Record) { r.Name = "bob-token" },
		"spec hash": func(r *Record) { r.SpecHash = "sha256:ff00" },
		"policy":    func(r *Record) { r.Policy = "permissive" },
		"user":      func(r *Record) { r.User = "oidc:bob@example.com" },
		"groups":    func(r *Record) { r.Groups = append(r.Groups, "system:masters") },
		"user UID":  func(r *Record) { r.UserUID = "uid-2" },
		"extra":     func(r *Record) { r.Extra = nil },
		"email":     func(r *Record) { r.Email = "bob@example.com" },
		"uid":       func(r *Record) { r.UID = "another-request" },
		"at":        func(r *Record) { r.At = r.At.Add(time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			r := sampleRecord()
			tamper(&r)
			payload, _ := json.Marshal(r)
			forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
			if _, err := Open(key1, forged); !errors.Is(err, ErrInvalidSeal) {
				t.Errorf("Open of a record with another %s: %v, want ErrInvalidSeal", name, err)
			}
		})
	}
}

func TestOpenRefusesMalformedValues(t *testing.T) {
	v := mustSeal(t, key1, sampleRecord())
	parts := strings.Split(v, ".")
	mac := []byte(parts[2])
	mac[3] ^= 1
	otherKey := mustSeal(t, key2, sampleRecord())
	unknownField := "v1." + base64.RawURLEncoding.EncodeToString([]byte(`{"kind":"ServiceUser","admin":true}`))
	unknownField += "." + base64.RawURLEncoding.EncodeToString(macFor(key1, unknownField))
	notJSON := "v1." + base64.RawURLEncoding.EncodeToString([]byte(`not json`))
	notJSON += "." + base64.RawURLEncoding.EncodeToString(macFor(key1, notJSON))
	badPayload := "v1.!!!"
	badPayload += "." + base64.RawURLEncoding.EncodeToString(macFor(key1, badPayload))
	for name, tc := range map[string]struct {
		key   []byte
		value string
		want  error
	}{
		"empty":              {key1, "", ErrNoRecord},
		"other version":      {key1, "v2." + parts[1] + "." + parts[2], ErrMalformed},
		"two parts":          {key1, parts[0] + "." + parts[1], ErrMalformed},
		"four parts":         {key1, v + ".x", ErrMalformed},
		"MAC not base64":     {key1, parts[0] + "." + parts[1] + ".@@", ErrMalformed},
		"MAC too short":      {key1, parts[0] + "." + parts[1] + ".AAAA", ErrMalformed},
		"MAC changed":        {key1, parts[0] + "." + parts[1] + "." + string(mac), ErrInvalidSeal},
		"too long":           {key1, "v1." + strings.Repeat("A", maxSealed) + "." + parts[2], ErrMalformed},
		"wrong key":          {key1, otherKey, ErrInvalidSeal},
		"short key":          {key1[:16], v, ErrKeyTooShort},
		"unknown field":      {key1, unknownField, ErrMalformed},
		"signed, not JSON":   {key1, notJSON, ErrMalformed},
		"signed, not base64": {key1, badPayload, ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Open(tc.key, tc.value); !errors.Is(err, tc.want) {
				t.Errorf("Open: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Seal(key1[:31], sampleRecord()); !errors.Is(err, ErrKeyTooShort) {
		t.Errorf("Seal with a short key: %v", err)
	}
}

func macFor(key []byte, signed string) []byte { return mac(key, signed) }

// Unverified reads what a record says without the key (for display), in the same format
// Open reads: a record sealed with any key, or with its MAC altered, decodes alike, and a
// malformed one is refused as Open refuses it.
func TestUnverifiedDecodesWithoutTheKey(t *testing.T) {
	want := sampleRecord()
	v := mustSeal(t, key2, want)
	got, err := Unverified(v)
	if err != nil {
		t.Fatal(err)
	}
	if got.Policy != want.Policy || got.User != want.User || got.Email != want.Email || !got.At.Equal(want.At) {
		t.Errorf("Unverified = %+v, want %+v", got, want)
	}
	parts := strings.Split(v, ".")
	if _, err := Unverified(parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(macFor(key1, "x"))); err != nil {
		t.Errorf("Unverified of a record under another MAC: %v", err)
	}
	for value, wantErr := range map[string]error{
		"":                                ErrNoRecord,
		parts[0] + "." + parts[1]:         ErrMalformed,
		"v1.!!!." + parts[2]:              ErrMalformed,
		"v2." + parts[1] + "." + parts[2]: ErrMalformed,
		"v1." + b64.EncodeToString([]byte(`{"admin":true}`)) + "." + parts[2]: ErrMalformed,
	} {
		if _, err := Unverified(value); !errors.Is(err, wantErr) {
			t.Errorf("Unverified(%.20q): %v, want %v", value, err, wantErr)
		}
	}
}

func TestRecordCheck(t *testing.T) {
	r := sampleRecord()
	for name, args := range map[string][4]string{
		"kind":      {"ServiceUser", "team-a", "alice-token", "sha256:00ff"},
		"namespace": {"PersonalAccessToken", "team-b", "alice-token", "sha256:00ff"},
		"name":      {"PersonalAccessToken", "team-a", "bob-token", "sha256:00ff"},
		"spec":      {"PersonalAccessToken", "team-a", "alice-token", "sha256:0000"},
	} {
		if err := r.Check(Kind(args[0]), args[1], args[2], args[3]); !errors.Is(err, ErrMismatch) {
			t.Errorf("another %s: %v, want ErrMismatch", name, err)
		}
	}
}

// TestRecordCheckCreated: a record written before the resource was created (beyond the
// clock skew) was written for an earlier resource of the same name, and is refused.
func TestRecordCheckCreated(t *testing.T) {
	r := sampleRecord()
	for _, c := range []struct {
		name    string
		created time.Time
		ok      bool
	}{
		{"created just after admission", r.At.Add(time.Second), true},
		{"created before a spec change", r.At.Add(-24 * time.Hour), true},
		{"clocks a little apart", r.At.Add(ClockSkew - time.Second), true},
		{"unknown creation time", time.Time{}, true},
		{"replayed on a later resource", r.At.Add(ClockSkew + time.Second), false},
	} {
		err := r.CheckCreated(c.created)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrMismatch)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	v, err := Seal(key1, sampleRecord())
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(v, ".")
	for _, seed := range []string{v, "", "v1..", "v1.e30.", parts[0] + "." + parts[1] + ".", v + "=", strings.ToUpper(v), "v1.e30." + parts[2]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r, err := Open(key1, value)
		if err != nil {
			return
		}
		// Only a value this key sealed opens; sealing what it holds again opens alike.
		again, err := Open(key1, mustSeal(t, key1, r))
		if err != nil || again.Name != r.Name || again.Policy != r.Policy || again.SpecHash != r.SpecHash {
			t.Errorf("a record that opened does not round-trip: %+v, %v", again, err)
		}
		if _, err := Open(key2, value); err == nil {
			t.Errorf("%q opens under two keys", value)
		}
	})
}
