package gpu

import (
	"context"
	"encoding/json"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPeakBandwidthKnownGPUs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		clockMHz  uint32
		busBits   uint32
		datasheet float64 // bytes/s
		tolerance float64 // relative
	}{
		// NVML max memory clock and bus width as reported on these parts.
		{"H100 SXM5 80GB", 2619, 5120, 3.35e12, 0.002},
		{"A100 SXM4 40GB", 1215, 5120, 1.555e12, 0.001},
		{"RTX 4090", 10501, 384, 1.008e12, 0.001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PeakBandwidth(tt.clockMHz, tt.busBits)
			if rel := math.Abs(got-tt.datasheet) / tt.datasheet; rel > tt.tolerance {
				t.Fatalf("PeakBandwidth(%d, %d) = %.4g B/s, datasheet %.4g (rel err %.4f)", tt.clockMHz, tt.busBits, got, tt.datasheet, rel)
			}
		})
	}
	// Exact arithmetic: 1000 MHz × 64 bit × 2 / 8 = 16 GB/s.
	if got := PeakBandwidth(1000, 64); got != 16e9 {
		t.Fatalf("PeakBandwidth(1000, 64) = %v, want 16e9", got)
	}
}

func TestTotalPeakBandwidth(t *testing.T) {
	t.Parallel()
	h100 := DeviceInfo{PeakBandwidthBytesPerS: Ptr(3.35e12)}
	unknown := DeviceInfo{}
	tests := []struct {
		name string
		devs []DeviceInfo
		want *float64
	}{
		{"none", nil, nil},
		{"one", []DeviceInfo{h100}, Ptr(3.35e12)},
		{"two", []DeviceInfo{h100, h100}, Ptr(6.7e12)},
		{"one unknown poisons the sum", []DeviceInfo{h100, unknown}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TotalPeakBandwidth(tt.devs)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("TotalPeakBandwidth = %v, want %v", fmtPtr(got), fmtPtr(tt.want))
			}
		})
	}
}

// scripted fills a recorder with device 0 sampled every 100 ms from 0 to
// 1000 ms: used = 1000+10i bytes, util = 10i %, energy = 100i mJ (a steady
// 1 W), power 1000 mW; and device 1 with only power (200 W, 300 W
// alternating) and no energy, memory or utilization.
func scripted(t *testing.T) (*Recorder, func(ms int) time.Time) {
	t.Helper()
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	r := NewRecorder([]int{0, 1}, 0)
	for i := 0; i <= 10; i++ {
		r.Add(Sample{
			At: at(100 * i), Device: 0,
			UsedBytes:         Ptr(uint64(1000 + 10*i)),
			UtilPercent:       Ptr(uint32(10 * i)),
			PowerMilliwatts:   Ptr(uint32(1000)),
			EnergyMillijoules: Ptr(uint64(100 * i)),
			ProcessUsedBytes:  Ptr(uint64(500 + i)),
		})
		r.Add(Sample{At: at(100 * i), Device: 1, PowerMilliwatts: Ptr(uint32(200000 + 100000*(i%2)))})
	}
	return r, at
}

func TestWindowStats(t *testing.T) {
	t.Parallel()
	r, at := scripted(t)
	type want struct {
		samples             int
		peak, mean, peakPrc *uint64
		util, joules, watts *float64
	}
	tests := []struct {
		name     string
		from, to int // ms
		dev0     want
	}{
		{
			name: "interior window interpolates energy at both edges",
			from: 250, to: 750,
			// samples 300..700: used 1030..1070, util 30..70;
			// counter at 250 ms = 250 mJ, at 750 ms = 750 mJ.
			dev0: want{5, Ptr[uint64](1070), Ptr[uint64](1050), Ptr[uint64](507), Ptr(50.0), Ptr(0.5), Ptr(1.0)},
		},
		{
			name: "whole run",
			from: 0, to: 1000,
			dev0: want{11, Ptr[uint64](1100), Ptr[uint64](1050), Ptr[uint64](510), Ptr(50.0), Ptr(1.0), Ptr(1.0)},
		},
		{
			name: "starts before the first sample: nearest inside, never extrapolated",
			from: -500, to: 200,
			dev0: want{3, Ptr[uint64](1020), Ptr[uint64](1010), Ptr[uint64](502), Ptr(10.0), Ptr(0.2), Ptr(1.0)},
		},
		{
			name: "ends after the last sample",
			from: 950, to: 1500,
			dev0: want{1, Ptr[uint64](1100), Ptr[uint64](1100), Ptr[uint64](510), Ptr(100.0), Ptr(0.05), Ptr(1.0)},
		},
		{
			name: "between two samples: no samples, all nil",
			from: 410, to: 490,
			dev0: want{},
		},
		{
			name: "after everything",
			from: 1050, to: 1200,
			dev0: want{},
		},
		{
			name: "reversed window",
			from: 700, to: 300,
			dev0: want{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Window(at(tt.from), at(tt.to))
			if len(got) != 2 || got[0].Device != 0 || got[1].Device != 1 {
				t.Fatalf("Window returned devices %+v, want [0 1]", got)
			}
			g, w := got[0], tt.dev0
			if g.Samples != w.samples {
				t.Errorf("Samples = %d, want %d", g.Samples, w.samples)
			}
			eqU(t, "PeakUsedBytes", g.PeakUsedBytes, w.peak)
			eqU(t, "MeanUsedBytes", g.MeanUsedBytes, w.mean)
			eqU(t, "PeakProcessUsedBytes", g.PeakProcessUsedBytes, w.peakPrc)
			eqF(t, "MeanUtilPercent", g.MeanUtilPercent, w.util)
			eqF(t, "EnergyJoules", g.EnergyJoules, w.joules)
			eqF(t, "MeanPowerWatts", g.MeanPowerWatts, w.watts)
			if g.Truncated {
				t.Errorf("Truncated = true, want false")
			}
		})
	}
}

func TestWindowPowerWithoutEnergyCounter(t *testing.T) {
	t.Parallel()
	r, at := scripted(t)
	// Device 1 has only power samples: 200, 300, 200, ... W.
	tests := []struct {
		from, to int
		watts    *float64
		samples  int
	}{
		{0, 100, Ptr(250.0), 2},
		{0, 200, Ptr(700.0 / 3), 3},
		{410, 490, nil, 0},
	}
	for _, tt := range tests {
		got := r.Window(at(tt.from), at(tt.to))[1]
		if got.Samples != tt.samples {
			t.Errorf("[%d,%d] Samples = %d, want %d", tt.from, tt.to, got.Samples, tt.samples)
		}
		eqF(t, "MeanPowerWatts", got.MeanPowerWatts, tt.watts)
		if got.EnergyJoules != nil || got.PeakUsedBytes != nil || got.MeanUsedBytes != nil || got.MeanUtilPercent != nil || got.PeakProcessUsedBytes != nil {
			t.Errorf("[%d,%d] values the device never reported are not nil: %+v", tt.from, tt.to, got)
		}
	}
}

func TestEnergyCounterReset(t *testing.T) {
	t.Parallel()
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	tests := []struct {
		name     string
		energies []uint64 // at 0, 100, 200, ... ms
		from, to int
		want     *float64
	}{
		{"monotonic", []uint64{1000, 2000, 3000, 4000}, 0, 300, Ptr(3.0)},
		{"reset, end below start", []uint64{1000, 2000, 10, 110}, 0, 300, nil},
		{"reset, end above start", []uint64{1000, 5, 2000, 3000}, 0, 300, nil},
		{"reset inside the bracket of the end edge", []uint64{1000, 2000, 5, 100}, 0, 250, nil},
		{"reset before the window is harmless", []uint64{9000, 5, 105, 205}, 100, 300, Ptr(0.2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecorder([]int{0}, 0)
			for i, e := range tt.energies {
				r.Add(Sample{At: at(100 * i), EnergyMillijoules: Ptr(e)})
			}
			eqF(t, "EnergyJoules", r.Window(at(tt.from), at(tt.to))[0].EnergyJoules, tt.want)
		})
	}
}

func TestRingEvictionIsBoundedAndFlagged(t *testing.T) {
	t.Parallel()
	base := time.Now()
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	r := NewRecorder([]int{0}, 4)
	for i := 0; i < 6; i++ {
		r.Add(Sample{At: at(10 * i), UsedBytes: Ptr(uint64(i))})
	}
	tests := []struct {
		from, to  int
		samples   int
		truncated bool
		peak      uint64
	}{
		{0, 50, 4, true, 5},   // samples at 0 and 10 ms were dropped
		{10, 50, 4, true, 5},  // the one at 10 ms was inside the window
		{15, 50, 4, false, 5}, // everything inside is retained
		{30, 40, 2, false, 4},
	}
	for _, tt := range tests {
		got := r.Window(at(tt.from), at(tt.to))[0]
		if got.Samples != tt.samples || got.Truncated != tt.truncated || got.PeakUsedBytes == nil || *got.PeakUsedBytes != tt.peak {
			t.Errorf("[%d,%d]: samples=%d truncated=%v peak=%s, want %d %v %d",
				tt.from, tt.to, got.Samples, got.Truncated, fmtPtr(got.PeakUsedBytes), tt.samples, tt.truncated, tt.peak)
		}
	}
	if n := len(r.Samples(at(-1000), at(1000))); n != 4 {
		t.Fatalf("retained %d samples, want capacity 4", n)
	}
}

func TestOutOfOrderSamplesAreSorted(t *testing.T) {
	t.Parallel()
	base := time.Now()
	r := NewRecorder(nil, 0)
	for _, ms := range []int{0, 200, 100, 300, 250} {
		r.Add(Sample{At: base.Add(time.Duration(ms) * time.Millisecond), Device: 3, UsedBytes: Ptr(uint64(ms))})
	}
	var got []uint64
	for _, s := range r.Samples(base, base.Add(time.Second)) {
		got = append(got, *s.UsedBytes)
	}
	want := []uint64{0, 100, 200, 250, 300}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if d := r.Devices(); len(d) != 1 || d[0] != 3 {
		t.Fatalf("Devices() = %v, want [3]", d)
	}
	if s, ok := r.Latest(3); !ok || *s.UsedBytes != 300 {
		t.Fatalf("Latest = %+v, %v", s, ok)
	}
	if _, ok := r.Latest(7); ok {
		t.Fatalf("Latest of an unknown device reported ok")
	}
}

func TestMeanUsedBytesIsExactForHugeValues(t *testing.T) {
	t.Parallel()
	base := time.Now()
	r := NewRecorder([]int{0}, 0)
	// Two values whose uint64 sum overflows: the 128-bit sum keeps the mean exact.
	r.Add(Sample{At: base, UsedBytes: Ptr(uint64(math.MaxUint64))})
	r.Add(Sample{At: base.Add(time.Millisecond), UsedBytes: Ptr(uint64(math.MaxUint64 - 2))})
	got := r.Window(base, base.Add(time.Second))[0].MeanUsedBytes
	if got == nil || *got != math.MaxUint64-1 {
		t.Fatalf("MeanUsedBytes = %s, want %d", fmtPtr(got), uint64(math.MaxUint64-1))
	}
}

func TestStatsJSONNullsNotZeros(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Stats{Device: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"device":2,"samples":0,"peak_used_bytes":null,"mean_used_bytes":null,"mean_util_percent":null,"energy_joules":null,"mean_power_watts":null,"peak_process_used_bytes":null}`
	if string(b) != want {
		t.Fatalf("json:\n got %s\nwant %s", b, want)
	}
	b, err = json.Marshal(Sample{Device: 1, UsedBytes: Ptr(uint64(0))})
	if err != nil {
		t.Fatal(err)
	}
	// A measured zero stays a zero; an absent value is null.
	if !strings.Contains(string(b), `"used_bytes":0,"util_percent":null`) {
		t.Fatalf("sample json = %s", b)
	}
}

func TestMarksAreBounded(t *testing.T) {
	t.Parallel()
	r := NewRecorder(nil, 0)
	for i := 0; i < MaxMarks+10; i++ {
		r.Mark("m")
	}
	m := r.Marks()
	if len(m) > MaxMarks || len(m) < MaxMarks/2 {
		t.Fatalf("kept %d marks, want between %d and %d", len(m), MaxMarks/2, MaxMarks)
	}
	for i := 1; i < len(m); i++ {
		if m[i].At.Before(m[i-1].At) {
			t.Fatalf("marks out of order at %d", i)
		}
	}
}

func TestNoneSampler(t *testing.T) {
	t.Parallel()
	const reason = "no GPU metrics: NVML library not found (libnvidia-ml.so.1)"
	var s Sampler = NewNone(reason)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer s.Stop()
	if got := s.Info(); got.NoMetricsReason != reason || len(got.Devices) != 0 {
		t.Fatalf("Info = %+v", got)
	}
	if b := s.Baseline("before load"); b != nil {
		t.Fatalf("Baseline = %v, want nil", b)
	}
	t0 := s.Mark("batch 1")
	if st := s.Stats(t0, time.Now()); st != nil {
		t.Fatalf("Stats = %v, want nil", st)
	}
	if smp := s.Samples(t0, time.Now()); smp != nil {
		t.Fatalf("Samples = %v, want nil", smp)
	}
	if m := s.Marks(); len(m) != 2 || m[0].Label != "before load" || m[1].Label != "batch 1" {
		t.Fatalf("Marks = %+v", m)
	}
}

func TestRecorderConcurrentUse(t *testing.T) {
	t.Parallel()
	r := NewRecorder([]int{0, 1}, 128)
	start := time.Now()
	var wg sync.WaitGroup
	for d := 0; d < 2; d++ {
		wg.Add(1)
		go func(d int) {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				r.Add(Sample{At: time.Now(), Device: d, UsedBytes: Ptr(uint64(i)), EnergyMillijoules: Ptr(uint64(i))})
			}
		}(d)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			for _, st := range r.Window(start, time.Now()) {
				if st.Samples > 128 {
					t.Errorf("window holds %d samples, more than capacity", st.Samples)
					return
				}
			}
			r.Mark("x")
		}
	}()
	wg.Wait()
}

func eqU(t *testing.T, name string, got, want *uint64) {
	t.Helper()
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		t.Errorf("%s = %s, want %s", name, fmtPtr(got), fmtPtr(want))
	}
}

func eqF(t *testing.T, name string, got, want *float64) {
	t.Helper()
	if (got == nil) != (want == nil) || (got != nil && math.Abs(*got-*want) > 1e-9*math.Max(1, math.Abs(*want))) {
		t.Errorf("%s = %s, want %s", name, fmtPtr(got), fmtPtr(want))
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	b, _ := json.Marshal(*p)
	return string(b)
}
