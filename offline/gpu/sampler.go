package gpu

import (
	"context"
	"time"
)

// Sampler samples GPUs in the background for the runner. The runner's use:
//
//	s.Start(ctx)                       // before the engine loads
//	before := s.Baseline("before load") // immediate reading of every device
//	... load the engine ...
//	after := s.Baseline("after load")
//	for each batch:
//	    s.Mark("batch 3")               // phase boundary; may trigger a reading
//	    t0 := time.Now(); generate(); t1 := time.Now()
//	    stats := s.Stats(t0, t1)        // one Stats per device
//	s.Stop()
//
// Sampling runs on its own goroutine and never waits for the engine, and the
// methods above never wait for NVML longer than one reading. Stats, Samples
// and Marks keep working after Stop, over what was recorded.
type Sampler interface {
	// Start begins periodic sampling until ctx is done or Stop is called.
	Start(ctx context.Context) error
	// Stop ends sampling and releases the driver. It is idempotent.
	Stop()
	// Info describes the driver and the sampled devices. When there are no
	// GPU metrics, Info().NoMetricsReason says why.
	Info() SystemInfo
	// Baseline takes and records an immediate reading of every device,
	// stamps a mark labelled label, and returns the readings.
	Baseline(label string) []Sample
	// Mark stamps a phase boundary and returns its time.
	Mark(label string) time.Time
	// Marks returns the retained marks, oldest first.
	Marks() []Mark
	// Stats returns one Stats per device for [from, to]; see
	// Recorder.Window. Implementations make sure a reading at or after to
	// exists (taking one if needed) so the energy counter is bracketed.
	Stats(from, to time.Time) []Stats
	// Samples returns the raw readings in [from, to], for charts.
	Samples(from, to time.Time) []Sample
}

// None is the Sampler used when there are no GPU metrics. It records marks
// so phases still line up with host metrics, returns no statistics, and
// carries the reason for the report.
type None struct {
	reason string
	rec    *Recorder
}

var _ Sampler = (*None)(nil)

// NewNone returns a Sampler without GPU metrics. reason should read well in
// a report, e.g. "no GPU metrics: NVML library not found (libnvidia-ml.so.1)".
func NewNone(reason string) *None {
	return &None{reason: reason, rec: NewRecorder(nil, 1)}
}

// Reason returns why there are no GPU metrics.
func (n *None) Reason() string { return n.reason }

// Start does nothing and returns nil: a run without GPU metrics still runs.
func (n *None) Start(context.Context) error { return nil }

// Stop does nothing.
func (n *None) Stop() {}

// Info returns a SystemInfo with no devices and NoMetricsReason set.
func (n *None) Info() SystemInfo { return SystemInfo{NoMetricsReason: n.reason} }

// Baseline records a mark and returns no readings.
func (n *None) Baseline(label string) []Sample {
	n.rec.Mark(label)
	return nil
}

// Mark records a phase boundary.
func (n *None) Mark(label string) time.Time { return n.rec.Mark(label) }

// Marks returns the recorded marks.
func (n *None) Marks() []Mark { return n.rec.Marks() }

// Stats returns nil: there are no devices.
func (n *None) Stats(time.Time, time.Time) []Stats { return nil }

// Samples returns nil: there are no devices.
func (n *None) Samples(time.Time, time.Time) []Sample { return nil }
