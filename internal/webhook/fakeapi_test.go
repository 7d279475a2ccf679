package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/directory"
)

// fakeAPI answers lookups with its function fields; nil fields use the fake directory.
type fakeAPI struct {
	getUser         func(ctx context.Context, id string) (*devinapi.User, error)
	findUserByEmail func(ctx context.Context, email string) (*devinapi.User, error)
	listRoles       func(ctx context.Context) ([]devinapi.Role, error)
}

var _ directory.API = &fakeAPI{}

// errLeaky is an error whose text carries a token, as a careless client's might: no
// admission answer may ever repeat it.
var errLeaky = errors.New("upstream said: Authorization: Bearer cog_leakedsecret")

var (
	samlID     = "bob@idp.example.com"
	fakeUsers  = []devinapi.User{{ID: "user-alice", Email: "alice@example.com"}, {ID: "user-bob", Email: "bob@example.com", SAMLID: &samlID}}
	fakeRoles  = []devinapi.Role{{ID: "r1", Name: "Admin", Type: "org"}, {ID: "r2", Name: "Member", Type: "org"}, {ID: "r3", Name: "Enterprise Admin", Type: "enterprise"}}
	errNoMatch = fmt.Errorf("fake: %w", devinapi.ErrNotFound)
)

func (f *fakeAPI) GetUser(ctx context.Context, id string) (*devinapi.User, error) {
	if f.getUser != nil {
		return f.getUser(ctx, id)
	}
	for _, u := range fakeUsers {
		if u.ID == id {
			return &u, nil
		}
	}
	return nil, errNoMatch
}

func (f *fakeAPI) FindUserByEmail(ctx context.Context, email string) (*devinapi.User, error) {
	if f.findUserByEmail != nil {
		return f.findUserByEmail(ctx, email)
	}
	for _, u := range fakeUsers {
		if strings.EqualFold(u.Email, email) {
			return &u, nil
		}
	}
	return nil, errNoMatch
}

func (f *fakeAPI) ListRoles(ctx context.Context) ([]devinapi.Role, error) {
	if f.listRoles != nil {
		return f.listRoles(ctx)
	}
	return fakeRoles, nil
}

func failingAPI(err error) *fakeAPI {
	return &fakeAPI{
		getUser:         func(context.Context, string) (*devinapi.User, error) { return nil, err },
		findUserByEmail: func(context.Context, string) (*devinapi.User, error) { return nil, err },
		listRoles:       func(context.Context) ([]devinapi.Role, error) { return nil, err },
	}
}
