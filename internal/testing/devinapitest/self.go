package devinapitest

// serviceUserSelfWire is the ServiceUserSelf answer of GET /v3/self: it does not name the key.
type serviceUserSelfWire struct {
	PrincipalType   string  `json:"principal_type"`
	ServiceUserID   string  `json:"service_user_id"`
	ServiceUserName string  `json:"service_user_name"`
	OrgID           *string `json:"org_id"`
}

// patUserSelfWire is the PatUserSelf answer of GET /v3/self.
type patUserSelfWire struct {
	PrincipalType string  `json:"principal_type"`
	APIKeyID      string  `json:"api_key_id"`
	APIKeyName    string  `json:"api_key_name"`
	UserID        string  `json:"user_id"`
	UserName      string  `json:"user_name"`
	OrgID         *string `json:"org_id"`
}

// self tells who the calling credential is, in the published shape of its principal type.
func (e *Enterprise) self(req *apiRequest) result {
	k := req.principal
	if k.kind == kindPAT {
		w := patUserSelfWire{PrincipalType: "pat_user", APIKeyID: k.id, APIKeyName: k.name, UserID: k.ownerID}
		if u := e.users[k.ownerID]; u != nil {
			w.UserName = u.Name
		}
		if len(e.orgs) > 0 {
			org := e.orgs[0]
			w.OrgID = &org
		}
		return ok(w)
	}
	w := serviceUserSelfWire{PrincipalType: "service_user", ServiceUserID: k.ownerID}
	if su := e.sus[k.ownerID]; su != nil {
		w.ServiceUserName = su.name
		if su.orgID != "" {
			org := su.orgID
			w.OrgID = &org
		}
	}
	return ok(w)
}
