package devinapitest_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogtokens/token-operator/internal/devinapi"
	"github.com/cogtokens/token-operator/internal/testing/devinapitest"
)

func TestHook(t *testing.T) {
	s := newFake(t)
	c := s.Client()
	ctx := testCtx(t)
	var mu sync.Mutex
	var events []devinapitest.Event
	var liveAtHook []int
	s.SetHook(func(ev devinapitest.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
		// The hook runs before the answer, with the change already visible.
		liveAtHook = append(liveAtHook, len(s.LiveTokens()))
	})

	p, err := c.ProvisionServiceUser(ctx, devinapi.ProvisionServiceUserRequest{Scope: devinapi.ScopeEnterprise, Name: "bot", RoleID: devinapitest.RoleEnterpriseMember, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	suID := p.ServiceUser.ID
	key, err := c.CreateServiceUserAPIKey(ctx, suID, devinapi.CreateKeyRequest{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := c.RotateServiceUserAPIKey(ctx, suID, key.ID, devinapi.RotateKeyRequest{RevokeCurrent: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeServiceUserAPIKey(ctx, suID, rot.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateServiceUserRole(ctx, devinapi.ScopeEnterprise, "", suID, devinapitest.RoleEnterpriseAdmin); err != nil {
		t.Fatal(err)
	}
	pat, err := c.CreatePAT(ctx, "user-alice", devinapi.CreateKeyRequest{Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RevokePAT(ctx, "user-alice", pat.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteServiceUser(ctx, suID); err != nil {
		t.Fatal(err)
	}
	// Reads and failures change nothing and call no hook.
	if _, err := c.ListRoles(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokePAT(ctx, "user-alice", pat.ID); !errors.Is(err, devinapi.ErrConflict) {
		t.Fatal(err)
	}

	const keys = "/v3beta1/enterprise/service-users/{service_user_id}/api-keys"
	const pats = "/v3beta1/enterprise/members/users/{user_id}/personal-access-tokens"
	want := []devinapitest.Event{
		{Route: "POST /v3beta1/enterprise/service-users", Method: "POST", Status: 200, OwnerID: suID},
		{Route: "POST " + keys, Method: "POST", Status: 200, TokenID: key.ID, OwnerID: suID},
		{Route: "POST " + keys + "/{api_key_id}/rotate", Method: "POST", Status: 200, TokenID: rot.ID, OwnerID: suID},
		{Route: "DELETE " + keys + "/{api_key_id}", Method: "DELETE", Status: 200, TokenID: rot.ID, OwnerID: suID},
		{Route: "PATCH /v3/enterprise/members/service-users/{service_user_id}", Method: "PATCH", Status: 200, OwnerID: suID},
		{Route: "POST " + pats, Method: "POST", Status: 200, TokenID: pat.ID, OwnerID: "user-alice"},
		{Route: "DELETE " + pats + "/{api_key_id}", Method: "DELETE", Status: 200, TokenID: pat.ID, OwnerID: "user-alice"},
		{Route: "DELETE /v3/enterprise/members/service-users/{service_user_id}", Method: "DELETE", Status: 200, OwnerID: suID},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) > 0 && events[0].TokenID == "" {
		t.Errorf("provisioning event without the first key's ID")
	}
	if diff := cmp.Diff(want, events, cmpopts.IgnoreFields(devinapitest.Event{}, "TokenID")); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	for i := 1; i < len(events); i++ {
		if want[i].TokenID != events[i].TokenID {
			t.Errorf("event %d token %q, want %q", i, events[i].TokenID, want[i].TokenID)
		}
	}
	if diff := cmp.Diff([]int{1, 2, 2, 1, 1, 2, 1, 0}, liveAtHook); diff != "" {
		t.Errorf("live tokens seen by the hook (-want +got):\n%s", diff)
	}
}

func TestHookBeforeALostAnswer(t *testing.T) {
	s := newFake(t)
	s.SetFaults(devinapitest.Faults{LoseCreateResponses: 1})
	var got []devinapitest.Event
	s.SetHook(func(ev devinapitest.Event) { got = append(got, ev) })
	a := admin(t, s, http.MethodPost, "/v3beta1/enterprise/members/users/user-alice/personal-access-tokens", map[string]any{"name": "p"})
	if a.status != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", a.status)
	}
	a.problem(t)
	if len(got) != 1 || got[0].Status != http.StatusOK || got[0].TokenID == "" {
		t.Errorf("events %+v", got)
	}
	s.SetHook(nil)
	admin(t, s, http.MethodPost, "/v3beta1/enterprise/members/users/user-alice/personal-access-tokens", map[string]any{"name": "p"})
	if len(got) != 1 {
		t.Errorf("a removed hook was called")
	}
}
