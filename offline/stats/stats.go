// Package stats summarizes repeated measurements: median with min, max,
// mean and standard deviation, and a bootstrap confidence interval of the
// median.
//
// # Bootstrap
//
// The interval is a percentile bootstrap of the median: draw
// BootstrapResamples resamples of n values with replacement from the n
// measurements, take the median of each, sort those medians, and report the
// ceil(0.025·B)-th and ceil(0.975·B)-th smallest (nearest-rank percentiles;
// with B = 10000, the 250th and the 9750th). It is deterministic: the
// resampling stream is a PCG seeded with the fixed BootstrapSeed and the
// values are sorted first, so the same multiset of measurements always gives
// the same interval, in any order and with any Go version (bounded draws use
// the raw PCG output with Lemire's multiply-shift reduction, not rand.Rand).
//
// With fewer than MinCI measurements there is no interval (nil). Readers
// should know that for small n the percentile bootstrap is coarse and
// optimistic: with 3 to 5 measurements the interval is exactly [min, max]
// (e.g. for n = 3 the resampled median equals the minimum with probability
// 7/27), whose true coverage of the population median is only 1 - 2/2^n
// (75% for n = 3, 94% for n = 5). Ten or more repetitions give intervals
// worth quoting as 95%.
package stats

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

const (
	// BootstrapResamples is the number of bootstrap resamples (B).
	BootstrapResamples = 10000
	// BootstrapSeed seeds the resampling PCG (as NewPCG(BootstrapSeed,
	// BootstrapSeed)); it is fixed so intervals are reproducible.
	BootstrapSeed = 0x5eed_0f_b007_57a9
	// Confidence is the confidence level of the intervals (the percentiles
	// used are fixed at 2.5 and 97.5).
	Confidence = 0.95
	// MinCI is the smallest number of measurements given an interval.
	MinCI = 3
)

// ErrEmpty is returned by Summarize and RatioOfMedians for an empty sample.
// A caller that shows "no data" for it can test with errors.Is.
var ErrEmpty = errors.New("no measurements")

// A Summary describes repeated measurements of one quantity.
type Summary struct {
	// N is the number of measurements.
	N int `json:"n"`
	// Median is the middle measurement, or the mean of the two middle ones
	// when N is even.
	Median float64 `json:"median"`
	// Min and Max are the extreme measurements.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Mean is the arithmetic mean.
	Mean float64 `json:"mean"`
	// Stdev is the sample standard deviation (divisor N-1); 0 when N == 1.
	Stdev float64 `json:"stdev"`
	// CILow and CIHigh bound the 95% bootstrap confidence interval of the
	// median (see the package documentation); nil when N < MinCI.
	CILow  *float64 `json:"ci_low"`
	CIHigh *float64 `json:"ci_high"`
}

// Summarize summarizes xs, which it does not modify. It returns ErrEmpty for
// an empty slice and an error naming the first NaN or infinite value, which
// no measurement can legitimately be.
func Summarize(xs []float64) (Summary, error) {
	sorted, err := sortedCopy(xs)
	if err != nil {
		return Summary{}, err
	}
	n := len(sorted)
	s := Summary{N: n, Median: median(sorted), Min: sorted[0], Max: sorted[n-1]}
	// Running mean (mean += (x-mean)/i): unlike sum/n it cannot overflow.
	for i, x := range sorted {
		s.Mean += (x - s.Mean) / float64(i+1)
	}
	if n > 1 {
		// Two passes: sum of squared deviations from the mean, which is
		// accurate where the one-pass E[x²]-E[x]² formula cancels badly.
		ss := 0.0
		for _, x := range sorted {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Stdev = math.Sqrt(ss / float64(n-1))
	}
	if n >= MinCI {
		r := newResampler()
		meds := make([]float64, BootstrapResamples)
		for i := range meds {
			meds[i] = r.median(sorted)
		}
		s.CILow, s.CIHigh = percentileCI(meds)
	}
	return s, nil
}

// Median returns the median of xs, which it does not modify, with the same
// errors as Summarize and none of its bootstrap work.
func Median(xs []float64) (float64, error) {
	sorted, err := sortedCopy(xs)
	if err != nil {
		return 0, err
	}
	return median(sorted), nil
}

// A Ratio compares two samples: median(a) / median(b), e.g. the speed-up of
// one engine over another.
type Ratio struct {
	// Value is median(a) / median(b).
	Value float64 `json:"value"`
	// CILow and CIHigh bound a 95% percentile-bootstrap interval of the
	// ratio (a and b resampled independently, B resamples); nil when either
	// sample has fewer than MinCI values, or when a resample of b has a zero
	// median.
	CILow  *float64 `json:"ci_low"`
	CIHigh *float64 `json:"ci_high"`
}

// RatioOfMedians returns median(a)/median(b) with a bootstrap interval. It
// fails on an empty sample (ErrEmpty), a NaN or infinite value, or a zero
// median(b).
func RatioOfMedians(a, b []float64) (Ratio, error) {
	sa, err := sortedCopy(a)
	if err != nil {
		return Ratio{}, fmt.Errorf("numerator: %w", err)
	}
	sb, err := sortedCopy(b)
	if err != nil {
		return Ratio{}, fmt.Errorf("denominator: %w", err)
	}
	mb := median(sb)
	if mb == 0 {
		return Ratio{}, errors.New("denominator: median is zero")
	}
	r := Ratio{Value: median(sa) / mb}
	if len(sa) < MinCI || len(sb) < MinCI {
		return r, nil
	}
	rs := newResampler()
	ratios := make([]float64, BootstrapResamples)
	for i := range ratios {
		num := rs.median(sa)
		den := rs.median(sb)
		if den == 0 {
			return r, nil // the interval is undefined
		}
		ratios[i] = num / den
	}
	r.CILow, r.CIHigh = percentileCI(ratios)
	return r, nil
}

// sortedCopy checks xs and returns it sorted ascending.
func sortedCopy(xs []float64) ([]float64, error) {
	if len(xs) == 0 {
		return nil, ErrEmpty
	}
	for i, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("measurement %d is %v; measurements must be finite", i, x)
		}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s, nil
}

// median of a sorted, non-empty slice.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	// a/2 + b/2 rather than (a+b)/2, which could overflow to Inf.
	return sorted[n/2-1]/2 + sorted[n/2]/2
}

// percentileCI sorts vals and returns its nearest-rank 2.5th and 97.5th
// percentiles: the ceil(0.025·len)-th and ceil(0.975·len)-th smallest values.
// The ranks are computed in integers: in floating point, (1-0.95)/2·10000 is
// 250.00000000000023, whose ceiling would be off by one.
func percentileCI(vals []float64) (lo, hi *float64) {
	slices.Sort(vals)
	n := len(vals)
	rank := func(perMille int) int { return max((n*perMille+999)/1000, 1) }
	l := vals[rank(25)-1]
	h := vals[rank(975)-1]
	return &l, &h
}

// resampler draws bootstrap resamples from a fixed PCG stream.
type resampler struct {
	src    *rand.PCG
	counts []int
}

func newResampler() *resampler {
	return &resampler{src: rand.NewPCG(BootstrapSeed, BootstrapSeed)}
}

// bounded returns a uniform value in [0, n), n > 0 (Lemire's multiply-shift
// with rejection), from the raw PCG output only.
func (r *resampler) bounded(n uint64) uint64 {
	hi, lo := bits.Mul64(r.src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), n)
		}
	}
	return hi
}

// median draws one resample of len(sorted) values and returns its median.
// Because sorted is sorted, counting how often each index is drawn and
// walking the counts yields the resample's order statistics in O(n), with
// no sort per resample.
func (r *resampler) median(sorted []float64) float64 {
	n := len(sorted)
	if cap(r.counts) < n {
		r.counts = make([]int, n)
	}
	counts := r.counts[:n]
	clear(counts)
	for range n {
		counts[r.bounded(uint64(n))]++
	}
	// kth returns the k-th smallest value of the resample (1-based).
	kth := func(k int) float64 {
		cum := 0
		for i, c := range counts {
			cum += c
			if cum >= k {
				return sorted[i]
			}
		}
		return sorted[n-1] // unreachable: the counts sum to n
	}
	if n%2 == 1 {
		return kth(n/2 + 1)
	}
	return kth(n/2)/2 + kth(n/2+1)/2
}

// Quantile returns the q-quantile (0 <= q <= 1) of xs by linear
// interpolation between order statistics (Hyndman and Fan's type 7, as
// numpy's default), with the errors of Median.
func Quantile(xs []float64, q float64) (float64, error) {
	sorted, err := sortedCopy(xs)
	if err != nil {
		return 0, err
	}
	if q < 0 || q > 1 || math.IsNaN(q) {
		return 0, fmt.Errorf("stats: quantile %v outside [0, 1]", q)
	}
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1], nil
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo]), nil
}
