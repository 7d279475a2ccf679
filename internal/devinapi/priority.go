package devinapi

import (
	"context"
	"math"

	"golang.org/x/time/rate"
)

// Admission requests (the webhook's lookups) have a share of the rate limit of their own:
// an admission request that waits behind a rotation storm's queue makes the webhook time
// out, and the API server then refuses the create (the webhook fails closed). The client
// splits Options.QPS and Burst in two buckets: background requests use theirs only; an
// admission request takes from its own, or borrows idle background capacity, so that the
// total never exceeds Options.QPS.

// DefaultAdmissionShare is the share of the rate limit kept for admission requests.
const DefaultAdmissionShare = 0.3

type admissionKey struct{}

// ForAdmission marks ctx's requests as admission requests (see Options.AdmissionShare).
func ForAdmission(ctx context.Context) context.Context {
	return context.WithValue(ctx, admissionKey{}, true)
}

func isAdmission(ctx context.Context) bool {
	v, _ := ctx.Value(admissionKey{}).(bool)
	return v
}

// limiters are the two buckets of the rate limit.
type limiters struct {
	admission, background *rate.Limiter
}

func newLimiters(qps float64, burst int, share float64) *limiters {
	if qps <= 0 {
		return nil
	}
	if share <= 0 || share >= 1 {
		share = DefaultAdmissionShare
	}
	burst = max(burst, 1)
	aBurst := max(1, int(math.Round(float64(burst)*share)))
	bBurst := max(1, burst-aBurst)
	return &limiters{
		admission:  rate.NewLimiter(rate.Limit(qps*share), aBurst),
		background: rate.NewLimiter(rate.Limit(qps*(1-share)), bBurst),
	}
}

// wait waits for the bucket of ctx's kind of request.
func (l *limiters) wait(ctx context.Context) error {
	if !isAdmission(ctx) {
		return l.background.Wait(ctx)
	}
	if l.admission.Allow() || l.background.Allow() {
		return nil
	}
	return l.admission.Wait(ctx)
}
