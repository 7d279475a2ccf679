package credential

import (
	"testing"
	"time"

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
	name := UpstreamName("team/ci", "1234-uid", 7)
	if name != "team/ci [k8s:1234-uid:7]" {
		t.Fatalf("UpstreamName = %q", name)
	}
	if !OwnedBy(name, "1234-uid") || OwnedBy(name, "1234") || OwnedBy("team/ci", "1234-uid") {
		t.Fatal("OwnedBy must match exactly the UID")
	}
	if n, ok := issueNumber(name, "1234-uid"); !ok || n != 7 {
		t.Fatalf("issueNumber = %d, %v", n, ok)
	}
	if _, ok := issueNumber("initial", "1234-uid"); ok {
		t.Fatal("issueNumber of a foreign name")
	}
}
