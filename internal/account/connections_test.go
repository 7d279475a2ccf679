package account

import (
	"context"
	"errors"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// TestConnectionsAreBounded: tenants create DevinAccounts, each of which costs a client and a
// watch; past MaxConnections an account gets ErrTooManyAccounts (its condition says so), and
// one that goes frees its place. Before the connections run, Get asks to retry.
func TestConnectionsAreBounded(t *testing.T) {
	cs := &Connections{Config: &rest.Config{Host: "https://127.0.0.1:1"}, Scheme: scheme.Scheme, MaxConnections: 2}
	ep := func(name string) Endpoint {
		return Endpoint{URL: "https://api.devin.ai", Secret: SecretRef{Namespace: "team-a", Name: name, Key: "token"}}
	}
	if _, err := cs.Get("DevinAccount/team-a/early", ep("early")); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("before Start: %v, want ErrNotStarted", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs.begin(ctx) // what Start does before it waits for ctx
	defer cs.stop()
	if _, err := cs.Get("DevinAccount/team-a/a", ep("a")); err != nil {
		t.Fatalf("first account: %v", err)
	}
	if _, err := cs.Get("DevinAccount/team-a/b", ep("b")); err != nil {
		t.Fatalf("second account: %v", err)
	}
	if _, err := cs.Get("DevinAccount/team-a/a", ep("a")); err != nil {
		t.Fatalf("the same account again: %v", err)
	}
	if _, err := cs.Get("DevinAccount/team-a/c", ep("c")); !errors.Is(err, ErrTooManyAccounts) {
		t.Fatalf("third account: %v, want ErrTooManyAccounts", err)
	}
	cs.Forget("DevinAccount/team-a/a")
	if _, err := cs.Get("DevinAccount/team-a/c", ep("c")); err != nil {
		t.Fatalf("third account once the first went: %v", err)
	}
}
