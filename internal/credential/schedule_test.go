package credential

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	iamv1alpha1 "github.com/cogtokens/token-operator/api/v1alpha1"
)

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestRenewAt(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(issued.Add(d)); return &t }
	cases := map[string]struct {
		spec    iamv1alpha1.CredentialSpec
		expires *metav1.Time
		want    time.Time
	}{
		"default lifetime, a third before the end": {
			expires: at(2160 * time.Hour),
			want:    issued.Add(1440 * time.Hour),
		},
		"renewBefore": {
			spec:    iamv1alpha1.CredentialSpec{ExpiresAfter: dur(24 * time.Hour), RenewBefore: dur(2 * time.Hour)},
			expires: at(24 * time.Hour),
			want:    issued.Add(22 * time.Hour),
		},
		"upstream expiry later than the spec's lifetime (a service user's first key)": {
			spec:    iamv1alpha1.CredentialSpec{ExpiresAfter: dur(30 * time.Hour)},
			expires: at(8760 * time.Hour),
			want:    issued.Add(20 * time.Hour),
		},
		"upstream expiry earlier than the lifetime": {
			spec:    iamv1alpha1.CredentialSpec{ExpiresAfter: dur(90 * time.Hour)},
			expires: at(9 * time.Hour),
			want:    issued.Add(6 * time.Hour),
		},
		"no upstream expiry": {
			spec: iamv1alpha1.CredentialSpec{ExpiresAfter: dur(3 * time.Hour)},
			want: issued.Add(2 * time.Hour),
		},
		"renewBefore just below expiresAfter (stored before the CRD refused it)": {
			spec:    iamv1alpha1.CredentialSpec{ExpiresAfter: dur(2 * time.Hour), RenewBefore: dur(2*time.Hour - time.Second)},
			expires: at(2 * time.Hour),
			want:    issued.Add(iamv1alpha1.MinRenewalInterval),
		},
		"renewBefore longer than a short upstream life": {
			spec:    iamv1alpha1.CredentialSpec{ExpiresAfter: dur(2 * time.Hour), RenewBefore: dur(time.Hour)},
			expires: at(30 * time.Minute),
			want:    issued.Add(20 * time.Minute),
		},
		"lifetime shortened in the spec after the token was issued": {
			spec:    iamv1alpha1.CredentialSpec{ExpiresAfter: dur(3 * time.Hour)},
			expires: at(2160 * time.Hour),
			want:    issued.Add(2 * time.Hour),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tok := &iamv1alpha1.IssuedToken{IssuedAt: metav1.NewTime(issued), ExpiresAt: tc.expires}
			if got := RenewAt(&tc.spec, tok); !got.Equal(tc.want) {
				t.Errorf("RenewAt = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRevokeAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	soon := metav1.NewTime(now.Add(10 * time.Minute))
	cases := map[string]struct {
		spec    iamv1alpha1.CredentialSpec
		expires *metav1.Time
		want    time.Time
	}{
		"default grace":               {want: now.Add(time.Hour)},
		"zero grace":                  {spec: iamv1alpha1.CredentialSpec{RotationGracePeriod: dur(0)}, want: now},
		"expires before grace ends":   {expires: &soon, want: soon.Time},
		"grace shorter than lifetime": {spec: iamv1alpha1.CredentialSpec{RotationGracePeriod: dur(5 * time.Minute)}, expires: &soon, want: now.Add(5 * time.Minute)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tok := &iamv1alpha1.IssuedToken{IssuedAt: metav1.NewTime(now.Add(-time.Hour)), ExpiresAt: tc.expires}
			if got := RevokeAt(&tc.spec, tok, now); !got.Equal(tc.want) {
				t.Errorf("RevokeAt = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNextWake(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		times []time.Time
		want  time.Duration
	}{
		"nothing to wait for": {want: 0},
		"earliest wins":       {times: []time.Time{now.Add(time.Hour), {}, now.Add(time.Minute)}, want: time.Minute},
		"past is soon":        {times: []time.Time{now.Add(-time.Hour)}, want: time.Second},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := nextWake(now, tc.times...); got != tc.want {
				t.Errorf("nextWake = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpstreamNames(t *testing.T) {
	o := Owner{Cluster: "c0123456789ab", UID: "1234-uid"}
	name := o.TokenName("team/ci", 7)
	if name != "team/ci [k8s:c0123456789ab:1234-uid:7]" {
		t.Fatalf("TokenName = %q", name)
	}
	cases := map[string]struct {
		name string
		n    int64
		own  bool
	}{
		"ours":                                   {name: name, n: 7, own: true},
		"ours, made by the previous release":     {name: "team/ci [k8s:1234-uid:3]", n: 3, own: true},
		"another cluster's":                      {name: "team/ci [k8s:cffffffffffff:1234-uid:7]"},
		"another resource's":                     {name: "team/ci [k8s:c0123456789ab:1234:7]"},
		"a marker not at the end":                {name: name + " copy"},
		"a name the user chose":                  {name: "team/ci"},
		"a marker planted in front of the owner": {name: "x [k8s:c0123456789ab:1234-uid:9] [k8s:c0123456789ab:other:1]"},
	}
	for what, tc := range cases {
		t.Run(what, func(t *testing.T) {
			n, ok := o.IssueNumber(tc.name)
			if ok != tc.own || n != tc.n || o.OwnsToken(tc.name) != tc.own {
				t.Fatalf("IssueNumber(%q) = %d, %v; want %d, %v", tc.name, n, ok, tc.n, tc.own)
			}
		})
	}
	if !OwnedBy(name, "1234-uid") || OwnedBy(name, "1234") || OwnedBy("team/ci", "1234-uid") {
		t.Fatal("OwnedBy must match exactly the UID")
	}
}

func TestServiceUserNames(t *testing.T) {
	o := Owner{Cluster: "c0123456789ab", UID: "0b5e1c1e-aaaa-4bbb-8ccc-123456789abc"}
	name := o.ServiceUserName("team-a-bot")
	if name != "team-a-bot [k8s:c0123456789ab:0b5e1c1e-aaaa-4bbb-8ccc-123456789abc]" || !o.OwnsServiceUser(name) {
		t.Fatalf("ServiceUserName = %q", name)
	}
	long := o.ServiceUserName(strings.Repeat("é", 200))
	if len(long) > 256 || !o.OwnsServiceUser(long) || !utf8.ValidString(long) {
		t.Fatalf("a long display name: %d bytes, owned %v", len(long), o.OwnsServiceUser(long))
	}
	for _, other := range []string{
		"team-a-bot", // the previous release's name, or anyone's
		"team-a-bot [k8s:c0123456789ab:other-uid]",             // another resource's
		"team-a-bot [k8s:cffffffffffff:" + string(o.UID) + "]", // another cluster's
	} {
		if o.OwnsServiceUser(other) {
			t.Fatalf("%q is not ours", other)
		}
	}
	if ClusterID("kube-system-uid") == ClusterID("other") || len(ClusterID("x")) != 13 {
		t.Fatalf("ClusterID = %q", ClusterID("x"))
	}
}
