package devinapitest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

// Kinds of TokenRecord.
const (
	kindAPIKey = "api_key"
	kindPAT    = "pat"
)

// serviceUserRec is a service user. Deleted ones are kept (inactive) for listings.
type serviceUserRec struct {
	id, name  string
	createdAt time.Time
	expiresAt *time.Time
	roleID    string
	// orgID is set for an organization role.
	orgID   string
	deleted bool
	seq     int64
}

// active: neither deleted nor past its expiry.
func (su *serviceUserRec) active(now time.Time) bool {
	return !su.deleted && (su.expiresAt == nil || now.Before(*su.expiresAt))
}

// keyRec is an API key or a PAT; its value is kept only as a hash.
type keyRec struct {
	kind       string
	ownerID    string
	id, name   string
	createdAt  time.Time
	expiresAt  *time.Time
	revokedAt  *time.Time
	lastUsedAt *time.Time
	hash       [32]byte
	// admin marks the admin credentials, current and past.
	admin bool
	seq   int64
	// ent is the enterprise the key belongs to and authenticates into.
	ent *Enterprise
}

// TokenRecord describes an issued token, never its value.
type TokenRecord struct {
	// Kind is "pat" or "api_key".
	Kind string `json:"kind"`
	// OwnerID is the user (PAT) or service user (API key) the token authenticates as.
	OwnerID   string    `json:"owner_id"`
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the effective expiry: an API key stops at the latest when its service
	// user expires.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Active reports whether the token authenticates at now: not revoked and not expired.
func (r TokenRecord) Active(now time.Time) bool {
	return r.RevokedAt == nil && (r.ExpiresAt == nil || now.Before(*r.ExpiresAt))
}

// Prefixes of the credentials the fake issues: cog_ for v3 keys and PATs, apk_user_ for the
// enterprise admin's personal key that v2 accepts.
const (
	tokenPrefix              = "cog_"
	enterpriseAdminKeyPrefix = "apk_user_"
)

// newSecret returns prefix and 40 random characters of [A-Za-z0-9].
func newSecret(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	n := len(prefix) + 40
	out := make([]byte, 0, n)
	out = append(out, prefix...)
	var buf [64]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			// Rejection sampling keeps the distribution uniform.
			if b < 248 && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}

func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func hashToken(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// addKeyLocked stores a new key whose value is token.
func (e *Enterprise) addKeyLocked(kind, ownerID, name string, expiresAt *time.Time, token string) *keyRec {
	prefix := "apk-"
	if kind == kindPAT {
		prefix = "pat-"
	}
	k := &keyRec{kind: kind, ownerID: ownerID, id: newID(e.prefix + prefix), name: name, createdAt: e.now(),
		expiresAt: expiresAt, hash: hashToken(token), seq: e.nextSeq(), ent: e}
	e.keys[k.id] = k
	e.keyOrder = append(e.keyOrder, k.id)
	e.srv.byHash[k.hash] = k
	return k
}

// issueKeyLocked creates a key with a fresh value and returns both.
func (e *Enterprise) issueKeyLocked(kind, ownerID, name string, expiresAt *time.Time) (*keyRec, string) {
	tok := newSecret(tokenPrefix)
	return e.addKeyLocked(kind, ownerID, name, expiresAt, tok), tok
}

// effectiveExpiry is when a key stops working: its own expiry or its service user'e.
func (e *Enterprise) effectiveExpiry(k *keyRec) *time.Time {
	exp := k.expiresAt
	if k.kind != kindAPIKey {
		return exp
	}
	if su := e.sus[k.ownerID]; su != nil && su.expiresAt != nil && (exp == nil || su.expiresAt.Before(*exp)) {
		exp = su.expiresAt
	}
	return exp
}

func (e *Enterprise) record(k *keyRec) TokenRecord {
	return TokenRecord{Kind: k.kind, OwnerID: k.ownerID, ID: k.id, Name: k.name, CreatedAt: k.createdAt,
		ExpiresAt: e.effectiveExpiry(k), RevokedAt: k.revokedAt}
}

// keyStatus is "active", "revoked" or "expired".
func (e *Enterprise) keyStatus(k *keyRec, now time.Time) string {
	switch {
	case k.revokedAt != nil:
		return "revoked"
	case !e.record(k).Active(now):
		return "expired"
	}
	return "active"
}

// keyLive reports whether a key authenticates: active, and its owner exists and is active.
func (e *Enterprise) keyLive(k *keyRec, now time.Time) bool {
	if e.keyStatus(k, now) != "active" {
		return false
	}
	if k.kind == kindPAT {
		return e.users[k.ownerID] != nil
	}
	su := e.sus[k.ownerID]
	return su != nil && su.active(now)
}

// Tokens returns every token the enterprise ever issued, in order, excluding its admin
// credentials.
func (e *Enterprise) Tokens() []TokenRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []TokenRecord
	for _, id := range e.keyOrder {
		if k := e.keys[id]; !k.admin {
			out = append(out, e.record(k))
		}
	}
	return out
}

// KeyIDOf returns the ID of the API key or PAT of this enterprise whose value is token, live
// or not, and false when the enterprise never issued it. It is a test helper, not an API: GET
// /v3/self does not name the key of a service user key, so a test asks the fake instead.
func (e *Enterprise) KeyIDOf(token string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if k := e.srv.byHash[hashToken(token)]; k != nil && k.ent == e {
		return k.id, true
	}
	return "", false
}

// LiveTokens returns the tokens of Tokens that are active now (by the server's clock).
func (e *Enterprise) LiveTokens() []TokenRecord {
	now := e.now()
	var out []TokenRecord
	for _, r := range e.Tokens() {
		if r.Active(now) {
			out = append(out, r)
		}
	}
	return out
}

// ServiceUsers returns the service users that are not deleted (expired ones included, with
// IsActive false), in creation order, excluding the enterprise's admin service user.
func (e *Enterprise) ServiceUsers() []devinapi.ServiceUser {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	var out []devinapi.ServiceUser
	for _, id := range e.suOrder {
		su := e.sus[id]
		if su.deleted || su.id == e.adminSUID {
			continue
		}
		w := e.serviceUserWire(su, now, true)
		out = append(out, devinapi.ServiceUser{ID: su.id, Name: su.name, ExpiresAt: su.expiresAt,
			RoleAssignments: w.roleAssignments(), IsActive: su.active(now)})
	}
	return out
}

// RevokeKey revokes a PAT or API key of the enterprise out of band, as a human would in the web UI. It fails
// with devinapi.ErrNotFound for an unknown key and devinapi.ErrConflict when already revoked.
func (e *Enterprise) RevokeKey(keyID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := e.keys[keyID]
	if k == nil {
		return fmt.Errorf("revoke key %s: %w", keyID, devinapi.ErrNotFound)
	}
	if k.revokedAt != nil {
		return fmt.Errorf("revoke key %s: %w", keyID, devinapi.ErrConflict)
	}
	now := e.now()
	k.revokedAt = &now
	return nil
}

// DeleteServiceUser deletes a service user of the enterprise out of band and revokes its keys. It fails with
// devinapi.ErrNotFound when the service user does not exist or is already deleted.
func (e *Enterprise) DeleteServiceUser(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	su := e.sus[id]
	if su == nil || su.deleted {
		return fmt.Errorf("delete service user %s: %w", id, devinapi.ErrNotFound)
	}
	e.deleteServiceUserLocked(su)
	return nil
}

func (e *Enterprise) deleteServiceUserLocked(su *serviceUserRec) {
	now := e.now()
	su.deleted = true
	for _, k := range e.keys {
		if k.kind == kindAPIKey && k.ownerID == su.id && k.revokedAt == nil {
			k.revokedAt = &now
		}
	}
}

// SetServiceUserRole changes the role of a service user out of band. An organization role
// keeps the service user's organization (or takes the first one). It fails with
// devinapi.ErrNotFound for an unknown service user or role.
func (e *Enterprise) SetServiceUserRole(id, roleID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	su := e.sus[id]
	if su == nil || su.deleted {
		return fmt.Errorf("set role of service user %s: %w", id, devinapi.ErrNotFound)
	}
	role, ok := e.role(roleID)
	if !ok {
		return fmt.Errorf("set role of service user %s: role %s: %w", id, roleID, devinapi.ErrNotFound)
	}
	su.roleID = role.ID
	switch {
	case role.Type != "org":
		su.orgID = ""
	case su.orgID == "" && len(e.orgs) > 0:
		su.orgID = e.orgs[0]
	}
	return nil
}

// UpsertUser adds a user or replaces the one with the same ID (derived from the email when
// empty; in an added enterprise, prefixed as every ID of it), e.g. to link an account to SSO
// after a PAT was issued.
func (e *Enterprise) UpsertUser(u SeedUser) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.upsertUserLocked(u)
}

func (e *Enterprise) upsertUserLocked(u SeedUser) {
	if u.ID == "" {
		u.ID = userIDFromEmail(u.Email)
	}
	u.ID = e.scoped(u.ID)
	u.IDPGroups = append([]string(nil), u.IDPGroups...)
	if _, ok := e.users[u.ID]; !ok {
		e.userOrder = append(e.userOrder, u.ID)
	}
	e.users[u.ID] = &u
}

// RotateAdminToken issues a new admin credential and revokes the current one, which stops
// working at once.
func (e *Enterprise) RotateAdminToken() devinapi.Token {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if old := e.keys[e.adminKeyID]; old != nil && old.revokedAt == nil {
		old.revokedAt = &now
	}
	tok := newSecret(tokenPrefix)
	k := e.addKeyLocked(kindAPIKey, e.adminSUID, "admin", nil, tok)
	k.admin = true
	e.adminToken, e.adminKeyID = tok, k.id
	return devinapi.NewToken(tok)
}

func (e *Enterprise) role(id string) (SeedRole, bool) {
	for _, r := range e.roles {
		if r.ID == id {
			return r, true
		}
	}
	return SeedRole{}, false
}

func (e *Enterprise) hasOrg(id string) bool {
	for _, o := range e.orgs {
		if o == id {
			return true
		}
	}
	return false
}
