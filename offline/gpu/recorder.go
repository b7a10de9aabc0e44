package gpu

import (
	"math/bits"
	"sync"
	"time"

	"github.com/enginebench/enginebench/offline/sampling"
)

// DefaultCapacity is the default number of samples a Recorder keeps per
// device: about 55 minutes at a 50 ms interval, about 3 MiB per device.
const DefaultCapacity = 1 << 16

// MaxMarks is how many phase marks a Recorder keeps; older ones are dropped.
const MaxMarks = 4096

// Flags for the optional values of a record.
const (
	hasUsed uint8 = 1 << iota
	hasUtil
	hasPower
	hasEnergy
	hasProc
)

// record is the compact, pointer-free form of a Sample kept in the ring.
// Times are nanoseconds since the recorder's epoch, computed with
// time.Time.Sub, which uses the monotonic clock when both times carry it, so
// a wall-clock step (NTP) cannot reorder samples.
type record struct {
	at     int64
	used   uint64
	energy uint64
	proc   uint64
	util   uint32
	power  uint32
	has    uint8
}

// StampNanos implements sampling.Stamped.
func (r record) StampNanos() int64 { return r.at }

// series is the time-ordered ring of one device's records.
type series struct {
	*sampling.Ring[record]
	anyEnergy bool // some record ever carried energy
}

func (s *series) get(i int) *record { return s.Get(i) }

func (s *series) push(r record) {
	s.Push(r)
	if r.has&hasEnergy != 0 {
		s.anyEnergy = true
	}
}

func (s *series) search(t int64, after bool) int { return s.Search(t, after) }

// Recorder keeps GPU samples in bounded per-device rings, plus phase marks,
// and computes per-window statistics. It is safe for concurrent use; every
// method holds its lock only for the in-memory work, never across I/O or
// NVML calls.
type Recorder struct {
	mu       sync.Mutex
	epoch    time.Time
	capacity int
	order    []int
	series   map[int]*series
	marks    []Mark
}

// NewRecorder returns a Recorder for devices (NVML indexes, in the order
// Window reports them) keeping at most capacity samples per device
// (DefaultCapacity when capacity <= 0).
func NewRecorder(devices []int, capacity int) *Recorder {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	r := &Recorder{epoch: time.Now(), capacity: capacity, series: map[int]*series{}}
	for _, d := range devices {
		r.seriesFor(d)
	}
	return r
}

// seriesFor returns the ring of device d, creating it on first use. The
// caller holds r.mu (or owns r exclusively).
func (r *Recorder) seriesFor(d int) *series {
	s, ok := r.series[d]
	if !ok {
		s = &series{Ring: sampling.NewRing[record](r.capacity)}
		r.series[d] = s
		r.order = append(r.order, d)
	}
	return s
}

func (r *Recorder) off(t time.Time) int64 { return int64(t.Sub(r.epoch)) }

// Add records s. A device not given to NewRecorder is added at the end of
// the report order.
func (r *Recorder) Add(s Sample) {
	rec := record{at: r.off(s.At)}
	if s.UsedBytes != nil {
		rec.used, rec.has = *s.UsedBytes, rec.has|hasUsed
	}
	if s.UtilPercent != nil {
		rec.util, rec.has = *s.UtilPercent, rec.has|hasUtil
	}
	if s.PowerMilliwatts != nil {
		rec.power, rec.has = *s.PowerMilliwatts, rec.has|hasPower
	}
	if s.EnergyMillijoules != nil {
		rec.energy, rec.has = *s.EnergyMillijoules, rec.has|hasEnergy
	}
	if s.ProcessUsedBytes != nil {
		rec.proc, rec.has = *s.ProcessUsedBytes, rec.has|hasProc
	}
	r.mu.Lock()
	r.seriesFor(s.Device).push(rec)
	r.mu.Unlock()
}

// Mark stamps a phase boundary labelled label at time.Now and returns that
// time.
func (r *Recorder) Mark(label string) time.Time {
	now := time.Now()
	r.MarkAt(label, now)
	return now
}

// MarkAt records a phase boundary at a given time. Only the newest MaxMarks
// marks are kept.
func (r *Recorder) MarkAt(label string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.marks) == MaxMarks {
		// Drop the oldest half at once so the copy cost is amortized.
		r.marks = append(r.marks[:0], r.marks[MaxMarks/2:]...)
	}
	r.marks = append(r.marks, Mark{Label: label, At: at})
}

// Marks returns a copy of the retained marks, oldest first.
func (r *Recorder) Marks() []Mark {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Mark(nil), r.marks...)
}

// Devices returns the device indexes in report order.
func (r *Recorder) Devices() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.order...)
}

func (r *Recorder) sample(d int, rec *record) Sample {
	s := Sample{At: r.epoch.Add(time.Duration(rec.at)), Device: d}
	if rec.has&hasUsed != 0 {
		s.UsedBytes = Ptr(rec.used)
	}
	if rec.has&hasUtil != 0 {
		s.UtilPercent = Ptr(rec.util)
	}
	if rec.has&hasPower != 0 {
		s.PowerMilliwatts = Ptr(rec.power)
	}
	if rec.has&hasEnergy != 0 {
		s.EnergyMillijoules = Ptr(rec.energy)
	}
	if rec.has&hasProc != 0 {
		s.ProcessUsedBytes = Ptr(rec.proc)
	}
	return s
}

// Latest returns the newest sample of device d.
func (r *Recorder) Latest(d int) (Sample, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.series[d]
	if !ok || s.Len() == 0 {
		return Sample{}, false
	}
	return r.sample(d, s.get(s.Len()-1)), true
}

// Samples returns the retained samples with from <= At <= to for every
// device, device by device in report order, each device's in time order.
// It is meant for time-series charts.
func (r *Recorder) Samples(from, to time.Time) []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, t := r.off(from), r.off(to)
	var out []Sample
	for _, d := range r.order {
		s := r.series[d]
		for i, hi := s.search(f, false), s.search(t, true); i < hi; i++ {
			out = append(out, r.sample(d, s.get(i)))
		}
	}
	return out
}

// Window returns one Stats per device (in report order) for the closed
// interval [from, to].
//
// Peak and mean memory, mean utilization and peak process memory are taken
// over the samples inside the window. If the window holds no sample, every
// statistic is nil and Samples is 0: nothing is extrapolated into a window
// that was never observed.
//
// Energy is read from the cumulative counter at each edge of the window. At
// an edge the counter is interpolated linearly between the two samples that
// bracket it (the last at or before the edge and the first at or after it).
// Using those bracketing samples directly would over-count by up to one
// sampling interval at each edge, and the counter, being cumulative, is
// well defined between samples. When an edge has no sample beyond it (the
// window starts before the first sample or ends after the last), the
// nearest sample inside the window is used instead, so the energy covers a
// shorter span than the window, never a longer one. A counter that goes
// backwards (driver reload) gives nil. MeanPowerWatts is then the energy
// divided by the span it covers; without an energy counter it is the mean of
// the sampled power.
func (r *Recorder) Window(from, to time.Time) []Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, t := r.off(from), r.off(to)
	out := make([]Stats, 0, len(r.order))
	for _, d := range r.order {
		out = append(out, r.series[d].window(d, f, t))
	}
	return out
}

// window computes Stats for [f, t] (recorder offsets).
func (s *series) window(d int, f, t int64) Stats {
	st := Stats{Device: d, Truncated: s.EvictedSince(f)}
	if t < f {
		return st
	}
	lo, hi := s.search(f, false), s.search(t, true)
	st.Samples = hi - lo
	if st.Samples == 0 {
		return st
	}
	var (
		nUsed, nUtil, nPower   uint64
		usedHi, usedLo         uint64 // 128-bit sum: exact for any count
		peakUsed, peakProc     uint64
		utilSum, powerSum      float64
		havePeakProc, haveUsed bool
	)
	for i := lo; i < hi; i++ {
		rec := s.get(i)
		if rec.has&hasUsed != 0 {
			var c uint64
			usedLo, c = bits.Add64(usedLo, rec.used, 0)
			usedHi += c
			nUsed++
			if !haveUsed || rec.used > peakUsed {
				peakUsed, haveUsed = rec.used, true
			}
		}
		if rec.has&hasUtil != 0 {
			utilSum += float64(rec.util)
			nUtil++
		}
		if rec.has&hasPower != 0 {
			powerSum += float64(rec.power)
			nPower++
		}
		if rec.has&hasProc != 0 && (!havePeakProc || rec.proc > peakProc) {
			peakProc, havePeakProc = rec.proc, true
		}
	}
	if haveUsed {
		st.PeakUsedBytes = &peakUsed
		// Round half up: add n/2 (with carry) before the 128/64 division.
		var c uint64
		usedLo, c = bits.Add64(usedLo, nUsed/2, 0)
		usedHi += c
		mean, _ := bits.Div64(usedHi, usedLo, nUsed)
		st.MeanUsedBytes = &mean
	}
	if nUtil > 0 {
		st.MeanUtilPercent = Ptr(utilSum / float64(nUtil))
	}
	if havePeakProc {
		st.PeakProcessUsedBytes = &peakProc
	}
	if e, span, ok := s.energy(f, t); ok {
		st.EnergyJoules = Ptr(e)
		st.MeanPowerWatts = Ptr(e / span.Seconds())
	} else if nPower > 0 {
		st.MeanPowerWatts = Ptr(powerSum / float64(nPower) / 1000)
	}
	return st
}

// energy returns the joules used in [f, t] and the span they cover.
func (s *series) energy(f, t int64) (float64, time.Duration, bool) {
	if !s.anyEnergy {
		return 0, 0, false
	}
	e0, t0, i0, ok0 := s.counterAt(f, true, t)
	e1, t1, i1, ok1 := s.counterAt(t, false, f)
	if !ok0 || !ok1 || t1 <= t0 {
		return 0, 0, false
	}
	// A counter that went backwards anywhere in between (driver reload)
	// makes the difference meaningless, even if the end value happens to be
	// larger than the start value.
	var last uint64
	seen := false
	for i := i0; i <= i1; i++ {
		rec := s.get(i)
		if rec.has&hasEnergy == 0 {
			continue
		}
		if seen && rec.energy < last {
			return 0, 0, false
		}
		last, seen = rec.energy, true
	}
	return (e1 - e0) / 1000, time.Duration(t1 - t0), true
}

// counterAt returns the energy counter (mJ) at edge, interpolated between
// the bracketing energy-carrying records. If edge is not bracketed, it falls
// back to the nearest record inside the window (towards limit); isStart says
// which direction "inside" is. It returns the time the value refers to and
// the index of the outermost record it used.
func (s *series) counterAt(edge int64, isStart bool, limit int64) (float64, int64, int, bool) {
	prev, next := -1, -1
	for i := s.search(edge, true) - 1; i >= 0; i-- { // last at <= edge
		if s.get(i).has&hasEnergy != 0 {
			prev = i
			break
		}
	}
	for i := s.search(edge, false); i < s.Len(); i++ { // first at >= edge
		if s.get(i).has&hasEnergy != 0 {
			next = i
			break
		}
	}
	switch {
	case prev >= 0 && next >= 0:
		p, n := s.get(prev), s.get(next)
		outer := prev
		if !isStart {
			outer = next
		}
		if n.at == p.at || n.energy < p.energy {
			// Same record, or a reset the caller's scan will reject.
			return float64(p.energy), edge, outer, true
		}
		frac := float64(edge-p.at) / float64(n.at-p.at)
		return float64(p.energy) + frac*float64(n.energy-p.energy), edge, outer, true
	case isStart && next >= 0 && s.get(next).at <= limit:
		return float64(s.get(next).energy), s.get(next).at, next, true
	case !isStart && prev >= 0 && s.get(prev).at >= limit:
		return float64(s.get(prev).energy), s.get(prev).at, prev, true
	}
	return 0, 0, 0, false
}
