package devinapitest

import (
	"net/http"
	"time"
)

type createKeyBody struct {
	Name      *string `json:"name"`
	ExpiresAt *int64  `json:"expires_at"`
}

type rotateKeyBody struct {
	NewKeyExpiresAt *int64 `json:"new_key_expires_at"`
	RevokeCurrent   bool   `json:"revoke_current"`
}

type issuedKeyWire struct {
	APIKeyID   string `json:"api_key_id"`
	APIKeyName string `json:"api_key_name"`
	ExpiresAt  *int64 `json:"expires_at"`
	Token      string `json:"token"`
}

type apiKeyWire struct {
	APIKeyID   string `json:"api_key_id"`
	APIKeyName string `json:"api_key_name"`
	CreatedAt  int64  `json:"created_at"`
	ExpiresAt  *int64 `json:"expires_at"`
	IsActive   bool   `json:"is_active"`
	LastUsedAt *int64 `json:"last_used_at"`
	RevokedAt  *int64 `json:"revoked_at"`
}

func (e *Enterprise) keyWire(k *keyRec, now time.Time) apiKeyWire {
	return apiKeyWire{APIKeyID: k.id, APIKeyName: k.name, CreatedAt: k.createdAt.Unix(),
		ExpiresAt: unixPtr(e.effectiveExpiry(k)), IsActive: e.keyStatus(k, now) == "active",
		LastUsedAt: unixPtr(k.lastUsedAt), RevokedAt: unixPtr(k.revokedAt)}
}

func issued(k *keyRec, tok string) issuedKeyWire {
	return issuedKeyWire{APIKeyID: k.id, APIKeyName: k.name, ExpiresAt: unixPtr(k.expiresAt), Token: tok}
}

// createKey validates a create body and issues a key of kind for owner.
func (e *Enterprise) createKey(req *apiRequest, kind, owner string) result {
	var body createKeyBody
	if p := decodeBody(req.body, &body); p != nil {
		return fail(p)
	}
	errs := checkName("name", body.Name)
	exp, expErrs := checkFuture("expires_at", body.ExpiresAt, req.now)
	if errs = append(errs, expErrs...); len(errs) > 0 {
		return fail(invalid(errs...))
	}
	k, tok := e.issueKeyLocked(kind, owner, *body.Name, exp)
	return result{status: http.StatusOK, body: issued(k, tok), event: &Event{TokenID: k.id, OwnerID: owner}}
}

// listKeys serves the keys of kind owned by owner, filtered by the "status" query, whose
// default is "all" as the API documents it. The list documents no cursor: it answers every
// key in one page of the paginated envelope and ignores "first" and "after", as FastAPI
// ignores undocumented query parameters.
func (e *Enterprise) listKeys(req *apiRequest, kind, owner string) result {
	status := req.r.URL.Query().Get("status")
	switch status {
	case "":
		status = "all"
	case "active", "revoked", "expired", "all":
	default:
		return fail(invalid(queryError("status", "must be active, revoked, expired or all")))
	}
	p := pageWire{Items: []any{}}
	for _, id := range e.keyOrder {
		k := e.keys[id]
		if k.kind != kind || k.ownerID != owner {
			continue
		}
		if status == "all" || e.keyStatus(k, req.now) == status {
			p.Items = append(p.Items, e.keyWire(k, req.now))
		}
	}
	return ok(p)
}

// ownedKey finds a key of kind owned by owner.
func (e *Enterprise) ownedKey(id, kind, owner string) (*keyRec, *problem) {
	k := e.keys[id]
	if k == nil || k.kind != kind || k.ownerID != owner {
		return nil, notFound("key")
	}
	return k, nil
}

// revokeKey revokes a key of kind owned by owner and answers its details: 404 when unknown,
// 409 when already revoked.
func (e *Enterprise) revokeKey(req *apiRequest, kind, owner string) result {
	k, p := e.ownedKey(req.r.PathValue("api_key_id"), kind, owner)
	if p != nil {
		return fail(p)
	}
	if k.revokedAt != nil {
		return fail(&problem{status: http.StatusConflict, typ: "conflict", detail: "the key is already revoked"})
	}
	now := req.now
	k.revokedAt = &now
	return result{status: http.StatusOK, body: e.keyWire(k, now), event: &Event{TokenID: k.id, OwnerID: owner}}
}

func (e *Enterprise) createAPIKey(req *apiRequest) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	if !su.active(req.now) {
		return fail(&problem{status: http.StatusConflict, typ: "conflict", detail: "the service user has expired"})
	}
	return e.createKey(req, kindAPIKey, su.id)
}

func (e *Enterprise) listAPIKeys(req *apiRequest) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	return e.listKeys(req, kindAPIKey, su.id)
}

func (e *Enterprise) revokeAPIKey(req *apiRequest) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	return e.revokeKey(req, kindAPIKey, su.id)
}

// rotateAPIKey issues a replacement with the same name; 400 when the key is not active.
func (e *Enterprise) rotateAPIKey(req *apiRequest) result {
	su, p := e.serviceUser(req.r.PathValue("service_user_id"))
	if p != nil {
		return fail(p)
	}
	old, p := e.ownedKey(req.r.PathValue("api_key_id"), kindAPIKey, su.id)
	if p != nil {
		return fail(p)
	}
	if e.keyStatus(old, req.now) != "active" {
		return fail(&problem{status: http.StatusBadRequest, typ: "key-not-active", detail: "only an active key can be rotated"})
	}
	var body rotateKeyBody
	if p := decodeBody(req.body, &body); p != nil {
		return fail(p)
	}
	exp, errs := checkFuture("new_key_expires_at", body.NewKeyExpiresAt, req.now)
	if len(errs) > 0 {
		return fail(invalid(errs...))
	}
	k, tok := e.issueKeyLocked(kindAPIKey, su.id, old.name, exp)
	if body.RevokeCurrent {
		now := req.now
		old.revokedAt = &now
	}
	return result{status: http.StatusOK, body: issued(k, tok), event: &Event{TokenID: k.id, OwnerID: su.id}}
}

// patOwner finds a user who may have PATs: 404 unknown, 403 SSO-linked or without the beta.
func (e *Enterprise) patOwner(id string) (*SeedUser, *problem) {
	u := e.users[id]
	switch {
	case u == nil:
		return nil, notFound("user")
	case u.SAMLID != "" || len(u.IDPGroups) > 0:
		return nil, &problem{status: http.StatusForbidden, typ: "sso-account",
			detail: "personal access tokens are not available for accounts linked to enterprise SSO"}
	case !u.PATEnabled:
		return nil, &problem{status: http.StatusForbidden, typ: "feature-not-enabled",
			detail: "personal access tokens are not enabled for this account"}
	}
	return u, nil
}

func (e *Enterprise) createPAT(req *apiRequest) result {
	u, p := e.patOwner(req.r.PathValue("user_id"))
	if p != nil {
		return fail(p)
	}
	return e.createKey(req, kindPAT, u.ID)
}

func (e *Enterprise) listPATs(req *apiRequest) result {
	id := req.r.PathValue("user_id")
	if e.users[id] == nil {
		return fail(notFound("user"))
	}
	return e.listKeys(req, kindPAT, id)
}

func (e *Enterprise) revokePAT(req *apiRequest) result {
	id := req.r.PathValue("user_id")
	if e.users[id] == nil {
		return fail(notFound("user"))
	}
	return e.revokeKey(req, kindPAT, id)
}
