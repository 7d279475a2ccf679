// Statistics of the figures: quantiles of a Prometheus histogram, percentiles and means of
// measured durations.

package main

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// histogram is a Prometheus histogram as the bench reads it: the cumulative count of
// observations at or below each upper bound (le), summed over every series of the family.
type histogram map[float64]float64

// histogramOf sums the _bucket series of the family name (e.g.
// controller_runtime_reconcile_time_seconds) by upper bound.
func histogramOf(samples []Sample, name string) histogram {
	h := histogram{}
	for _, s := range samples {
		if s.Name != name+"_bucket" {
			continue
		}
		le, err := strconv.ParseFloat(s.Labels["le"], 64)
		if err != nil {
			continue
		}
		h[le] += s.Value
	}
	return h
}

// sub returns h - o, bound by bound: the observations between two scrapes.
func (h histogram) sub(o histogram) histogram {
	out := histogram{}
	for le, v := range h {
		out[le] = v - o[le]
	}
	return out
}

// count is the number of observations (the +Inf bucket).
func (h histogram) count() float64 { return h[math.Inf(1)] }

// quantile estimates the q-th quantile (0 < q <= 1) in seconds as Prometheus's
// histogram_quantile does: linear interpolation within the bucket that holds the rank, the
// lowest bucket starting at 0; an answer in the +Inf bucket is the highest finite bound.
// Zero for no observations.
func (h histogram) quantile(q float64) float64 {
	total := h.count()
	if total <= 0 {
		return 0
	}
	les := make([]float64, 0, len(h))
	for le := range h {
		les = append(les, le)
	}
	sort.Float64s(les)
	rank := q * total
	prevLe, prevCount := 0.0, 0.0
	for _, le := range les {
		c := h[le]
		if c >= rank {
			if math.IsInf(le, 1) {
				return prevLe
			}
			if c == prevCount {
				return le
			}
			return prevLe + (le-prevLe)*(rank-prevCount)/(c-prevCount)
		}
		prevLe, prevCount = le, c
	}
	return prevLe
}

// quantileDuration is quantile as a duration.
func (h histogram) quantileDuration(q float64) time.Duration {
	return time.Duration(h.quantile(q) * float64(time.Second))
}

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the nearest-rank method:
// the smallest value such that at least p% of the values are at or below it. Zero for none.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(s) {
		rank = len(s)
	}
	return s[rank-1]
}

// Mean is the arithmetic mean of ds, zero for none.
func Mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t / time.Duration(len(ds))
}
