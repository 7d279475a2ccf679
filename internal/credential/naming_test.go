package credential

import (
	"strings"
	"testing"
)

// The parsers read back what TokenName and ServiceUserName write, agree with the Owner's
// checks, and refuse what is not a marker at the end of the name.
func TestParseMarkers(t *testing.T) {
	o := Owner{Cluster: "c0123456789ab", UID: "0b5e1c1e-aaaa-4bbb-8ccc-123456789abc"}
	for name, want := range map[string]Marker{
		o.TokenName("team/ci", 7):             {Cluster: o.Cluster, UID: o.UID, N: 7},
		"team/ci [k8s:1234-uid:3]":            {UID: "1234-uid", N: 3},
		"x [k8s:c1:other:1] [k8s:c2:uid-2:4]": {Cluster: "c2", UID: "uid-2", N: 4},
		"ci [k8s:prod:eu:uid-3:2]":            {Cluster: "prod:eu", UID: "uid-3", N: 2},
	} {
		display, m, ok := ParseTokenMarker(name)
		if !ok || m != want || display+name[len(display):] != name || strings.HasSuffix(display, " ") {
			t.Errorf("ParseTokenMarker(%q) = %q, %+v, %v; want %+v", name, display, m, ok, want)
		}
		if n, owned := (Owner{Cluster: m.Cluster, UID: m.UID}).IssueNumber(name); want.Cluster != "" && (!owned || n != m.N) {
			t.Errorf("%q: the owner it names does not own it (%d, %v)", name, n, owned)
		}
	}
	if d, _, _ := ParseTokenMarker(o.TokenName("team/ci", 7)); d != "team/ci" {
		t.Errorf("display part %q", d)
	}
	for _, name := range []string{"team/ci", "team/ci [k8s:c:uid:0]", "team/ci [k8s:c:uid:x]", "team/ci [k8s:c:uid:7] copy",
		"team/ci [k8s:uid]", "[k8s:c:uid:7]", "team/ci [k8s::uid:7]", "team/ci [k8s:c::7]", "a [k8s:c:uid:7]]"} {
		if _, m, ok := ParseTokenMarker(name); ok {
			t.Errorf("ParseTokenMarker(%q) = %+v: not a token marker", name, m)
		}
	}

	su := o.ServiceUserName("team-a-bot")
	display, m, ok := ParseServiceUserMarker(su)
	if !ok || display != "team-a-bot" || m != (Marker{Cluster: o.Cluster, UID: o.UID}) {
		t.Errorf("ParseServiceUserMarker(%q) = %q, %+v, %v", su, display, m, ok)
	}
	long := o.ServiceUserName(strings.Repeat("é", 200))
	if _, m, ok := ParseServiceUserMarker(long); !ok || m.UID != o.UID || !(Owner{Cluster: m.Cluster, UID: m.UID}).OwnsServiceUser(long) {
		t.Errorf("a shortened name: %+v, %v", m, ok)
	}
	for _, name := range []string{"team-a-bot", "team-a-bot [k8s:uid]", "team-a-bot [k8s::uid]", "team-a-bot [k8s:c:]",
		"team-a-bot [k8s:c:uid] copy"} {
		if _, m, ok := ParseServiceUserMarker(name); ok {
			t.Errorf("ParseServiceUserMarker(%q) = %+v: not a service user marker", name, m)
		}
	}
}
