package stats

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
)

func ptr(x float64) *float64 { return &x }

func TestSummarize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		xs   []float64
		want Summary
	}{
		{"one", []float64{5}, Summary{N: 1, Median: 5, Min: 5, Max: 5, Mean: 5}},
		// Stdev: deviations ±1, sum of squares 2, divided by n-1 = 1: √2.
		{"two", []float64{3, 1}, Summary{N: 2, Median: 2, Min: 1, Max: 3, Mean: 2, Stdev: math.Sqrt2}},
		// n = 3: the resampled median is the minimum (or maximum) with
		// probability 7/27 > 2.5%, so the interval is [min, max].
		{"three", []float64{2, 3, 1}, Summary{N: 3, Median: 2, Min: 1, Max: 3, Mean: 2, Stdev: 1, CILow: ptr(1), CIHigh: ptr(3)}},
		// n = 4: the median is 1 when 3 or 4 of the 4 draws are the
		// minimum, probability 13/256 > 2.5%.
		{"four", []float64{4, 1, 3, 2}, Summary{N: 4, Median: 2.5, Min: 1, Max: 4, Mean: 2.5, Stdev: math.Sqrt(5.0 / 3), CILow: ptr(1), CIHigh: ptr(4)}},
		// The classic example: mean 5, squared deviations sum to 32, so the
		// sample stdev is √(32/7).
		{"eight", []float64{2, 4, 4, 4, 5, 5, 7, 9}, Summary{N: 8, Median: 4.5, Min: 2, Max: 9, Mean: 5, Stdev: math.Sqrt(32.0 / 7), CILow: ptr(4), CIHigh: ptr(7)}},
		// n = 11, values 1..11: P(resampled median <= x(2)) = 0.0072 and
		// P(<= x(3)) = 0.0512 bracket 2.5%; P(<= x(8)) = 0.9488 and
		// P(<= x(9)) = 0.9928 bracket 97.5%. So the interval is [3, 9],
		// with a margin of many standard errors of the 10000-draw estimate.
		{"eleven", []float64{11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, Summary{N: 11, Median: 6, Min: 1, Max: 11, Mean: 6, Stdev: math.Sqrt(11), CILow: ptr(3), CIHigh: ptr(9)}},
		{"constant", []float64{7, 7, 7, 7}, Summary{N: 4, Median: 7, Min: 7, Max: 7, Mean: 7, CILow: ptr(7), CIHigh: ptr(7)}},
		{"negative and zero", []float64{-1, 0, 1}, Summary{N: 3, Median: 0, Min: -1, Max: 1, Mean: 0, Stdev: 1, CILow: ptr(-1), CIHigh: ptr(1)}},
		{"huge values do not overflow", []float64{math.MaxFloat64, math.MaxFloat64}, Summary{N: 2, Median: math.MaxFloat64, Min: math.MaxFloat64, Max: math.MaxFloat64, Mean: math.MaxFloat64}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.xs)
			got, err := Summarize(tt.xs)
			if err != nil {
				t.Fatal(err)
			}
			if !summaryEqual(got, tt.want) {
				t.Errorf("Summarize(%v) =\n%s\nwant\n%s", tt.xs, show(got), show(tt.want))
			}
			if !slices.Equal(in, tt.xs) {
				t.Error("Summarize modified its input")
			}
		})
	}
}

func TestSummarizeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		xs   []float64
		want string
	}{
		{"nil", nil, "no measurements"},
		{"empty", []float64{}, "no measurements"},
		{"NaN", []float64{1, math.NaN()}, "measurement 1 is NaN; measurements must be finite"},
		{"Inf", []float64{math.Inf(-1)}, "measurement 0 is -Inf; measurements must be finite"},
	}
	for _, tt := range tests {
		_, err := Summarize(tt.xs)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := Summarize(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("Summarize(nil) error %v is not ErrEmpty", err)
	}
}

// TestDeterministic checks that the interval depends only on the multiset of
// values, not on their order or on earlier calls.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	xs := []float64{10.2, 9.8, 10.5, 11.1, 9.9, 10.0, 10.7, 10.3, 9.6, 10.4, 10.1, 12.0}
	a, _ := Summarize(xs)
	rev := slices.Clone(xs)
	slices.Reverse(rev)
	b, _ := Summarize(rev)
	if !summaryEqual(a, b) {
		t.Errorf("order changed the summary:\n%s\n%s", show(a), show(b))
	}
	if *a.CILow > a.Median || *a.CIHigh < a.Median || *a.CILow < a.Min || *a.CIHigh > a.Max {
		t.Errorf("interval [%v, %v] does not bracket the median %v within [min, max]", *a.CILow, *a.CIHigh, a.Median)
	}
	// Pinned: a change to the resampling stream or the percentile rule
	// shows up here.
	if *a.CILow != 9.95 || *a.CIHigh != 10.6 {
		t.Errorf("CI = [%v, %v], want the pinned [9.95, 10.6]", *a.CILow, *a.CIHigh)
	}
}

func TestRatioOfMedians(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b []float64
		want Ratio
	}{
		{"constant", []float64{2, 2, 2}, []float64{1, 1, 1}, Ratio{Value: 2, CILow: ptr(2), CIHigh: ptr(2)}},
		// median(a*) ∈ {10, 20, 30}, each end with probability 7/27.
		{"spread numerator", []float64{10, 30, 20}, []float64{5, 5, 5}, Ratio{Value: 4, CILow: ptr(2), CIHigh: ptr(6)}},
		{"too few for an interval", []float64{3, 5}, []float64{2, 2, 2}, Ratio{Value: 2}},
		// A resample of b = {0, 0, 4} has median 0 with probability 20/27.
		{"zero resampled denominator", []float64{1, 2, 3}, []float64{0, 4, 4}, Ratio{Value: 0.5}},
	}
	for _, tt := range tests {
		got, err := RatioOfMedians(tt.a, tt.b)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.Value != tt.want.Value || !ptrEqual(got.CILow, tt.want.CILow) || !ptrEqual(got.CIHigh, tt.want.CIHigh) {
			t.Errorf("%s: RatioOfMedians = %+v [%v, %v], want %+v [%v, %v]", tt.name,
				got.Value, deref(got.CILow), deref(got.CIHigh), tt.want.Value, deref(tt.want.CILow), deref(tt.want.CIHigh))
		}
	}
	for _, tt := range []struct {
		name string
		a, b []float64
		want string
	}{
		{"empty numerator", nil, []float64{1}, "numerator: no measurements"},
		{"NaN denominator", []float64{1}, []float64{math.NaN()}, "denominator: measurement 0 is NaN; measurements must be finite"},
		{"zero median", []float64{1}, []float64{0, 0, 1}, "denominator: median is zero"},
	} {
		_, err := RatioOfMedians(tt.a, tt.b)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestPercentileRanks(t *testing.T) {
	t.Parallel()
	vals := make([]float64, BootstrapResamples)
	for i := range vals {
		vals[i] = float64(BootstrapResamples - i) // 10000 .. 1, sorted by percentileCI
	}
	lo, hi := percentileCI(vals)
	if *lo != 250 || *hi != 9750 {
		t.Errorf("percentiles of 1..10000 = %v, %v; want the 250th and 9750th values", *lo, *hi)
	}
	lo, hi = percentileCI([]float64{42})
	if *lo != 42 || *hi != 42 {
		t.Errorf("percentiles of one value = %v, %v", *lo, *hi)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	s, _ := Summarize([]float64{1, 2})
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"n":2,"median":1.5,"min":1,"max":2,"mean":1.5,"stdev":0.7071067811865476,"ci_low":null,"ci_high":null}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant   %s", b, want)
	}
}

func BenchmarkSummarize(b *testing.B) {
	for _, n := range []int{5, 100} {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(i * i % 17)
		}
		b.Run(itoa(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Summarize(xs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func summaryEqual(a, b Summary) bool {
	return a.N == b.N && a.Median == b.Median && a.Min == b.Min && a.Max == b.Max &&
		approxEqual(a.Mean, b.Mean) && approxEqual(a.Stdev, b.Stdev) && ptrEqual(a.CILow, b.CILow) && ptrEqual(a.CIHigh, b.CIHigh)
}

func approxEqual(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-12*math.Max(math.Abs(a), math.Abs(b))
}

func ptrEqual(a, b *float64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func show(s Summary) string {
	b, _ := json.Marshal(struct {
		Summary
		Lo, Hi any
	}{s, deref(s.CILow), deref(s.CIHigh)})
	return string(b)
}

func TestQuantile(t *testing.T) {
	xs := []float64{4, 1, 3, 2}
	for _, tt := range []struct{ q, want float64 }{{0, 1}, {0.5, 2.5}, {0.9, 3.7}, {1, 4}} {
		if got, err := Quantile(xs, tt.q); err != nil || math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, %v; want %v", tt.q, got, err, tt.want)
		}
	}
	if _, err := Quantile(nil, 0.5); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
	if _, err := Quantile(xs, 1.5); err == nil {
		t.Error("q outside [0, 1] accepted")
	}
}
