package devinapi_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cogtokens/token-operator/internal/devinapi"
)

func TestSwappableTokenAtRunTime(t *testing.T) {
	s := newFake(t)
	ctx := testCtx(t)
	creds := devinapi.NewSwappableToken(s.AdminToken())
	c := s.Client(func(o *devinapi.Options) { o.Credentials = creds })
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := s.RotateAdminToken()
	_, err := c.Self(ctx)
	only(t, err, devinapi.ErrUnauthorized)
	creds.Set(fresh)
	self, err := c.Self(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if self.ServiceUserID == "" || self.Kind != devinapi.PrincipalServiceUser {
		t.Errorf("self = %+v", self)
	}

	// An empty token fails without a request.
	calls := s.TotalCalls()
	creds.Set(devinapi.Token{})
	_, err = c.Self(ctx)
	only(t, err, devinapi.ErrUnauthorized)
	_, err = c.SelfWithToken(ctx, devinapi.Token{})
	only(t, err, devinapi.ErrUnauthorized)
	var zero devinapi.SwappableToken
	if tok, err := zero.Token(ctx); err != nil || !tok.IsZero() {
		t.Errorf("zero SwappableToken = %v, %v", tok, err)
	}
	if s.TotalCalls() != calls {
		t.Errorf("a call without a credential reached the server")
	}
}

type failingSource struct{}

func (failingSource) Token(context.Context) (devinapi.Token, error) {
	return devinapi.Token{}, errors.New("secret not found")
}

func TestTokenSourceFailure(t *testing.T) {
	s := newFake(t)
	c := s.Client(func(o *devinapi.Options) { o.Credentials = failingSource{} })
	_, err := c.Self(testCtx(t))
	if err == nil || s.TotalCalls() != 0 {
		t.Fatalf("Self = %v after %d calls; want a failure without a call", err, s.TotalCalls())
	}
	only(t, err)
}

func TestTokenNeverPrints(t *testing.T) {
	tok := devinapi.NewToken("cog_secretvalue")
	text, _ := tok.MarshalText()
	for _, s := range []string{fmt.Sprint(tok), fmt.Sprintf("%v %s %q %#v %x", tok, tok, tok, tok, tok), tok.String(), tok.GoString(), string(text)} {
		if strings.Contains(s, "secretvalue") {
			t.Errorf("token printed as %q", s)
		}
	}
	if devinapi.NewToken("").String() != "<empty>" || tok.Reveal() != "cog_secretvalue" {
		t.Errorf("unexpected String or Reveal")
	}
	src := devinapi.StaticToken(tok)
	if got, err := src.Token(context.Background()); err != nil || got.Reveal() != tok.Reveal() {
		t.Errorf("StaticToken = %v, %v", got, err)
	}
}
