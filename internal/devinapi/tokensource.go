package devinapi

import (
	"context"
	"sync/atomic"
)

// StaticToken returns a TokenSource that always supplies tok.
func StaticToken(tok Token) TokenSource { return staticToken{tok: tok} }

type staticToken struct{ tok Token }

// Token returns the fixed token.
func (s staticToken) Token(context.Context) (Token, error) { return s.tok, nil }

// SwappableToken is a TokenSource whose token can be replaced at any time, e.g. when the
// Secret holding the operator's credential changes. Requests started after Set returns use
// the new token. It is safe for concurrent use; the zero value supplies an empty token.
type SwappableToken struct {
	tok atomic.Pointer[Token]
}

var _ TokenSource = (*SwappableToken)(nil)

// NewSwappableToken returns a SwappableToken that supplies tok until Set is called.
func NewSwappableToken(tok Token) *SwappableToken {
	s := &SwappableToken{}
	s.Set(tok)
	return s
}

// Set replaces the token supplied from now on.
func (s *SwappableToken) Set(tok Token) { s.tok.Store(&tok) }

// Token returns the current token; it never fails. An empty token makes the client's
// requests fail with ErrUnauthorized without being sent.
func (s *SwappableToken) Token(context.Context) (Token, error) {
	if p := s.tok.Load(); p != nil {
		return *p, nil
	}
	return Token{}, nil
}
