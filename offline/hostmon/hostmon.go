// Package hostmon measures the host-side resources of a process tree: a
// root PID (the engine worker) and all its descendants (vLLM's EngineCore,
// SGLang's scheduler and detokenizer, compile workers, ...).
//
// # What is measured
//
//   - RSS: the sum of the resident set sizes of the tree's processes, from
//     /proc/<pid>/stat. Pages shared between processes (libraries, CUDA's
//     mappings, shared-memory tensors) count once per process, so the sum
//     over-states the tree's real footprint; PSS (/proc/<pid>/smaps_rollup)
//     would not, but the kernel walks every mapping to produce it, which is
//     slow for CUDA processes with huge address spaces, so it is not used.
//     The kernel's RSS counters may also lag by a few pages per CPU.
//   - CPU time: user + system time of every live member, plus the
//     cutime/cstime each member has collected from children it reaped, so
//     a helper process that exits and is reaped inside the tree keeps
//     counting. The total only drops when a member leaves the tree without
//     being reaped by it (an orphan adopted by init); a window across such
//     a drop reports nil CPU time. Resolution is one clock tick (10 ms).
//
// # Why /proc and not gopsutil
//
// A full scan reads the /proc directory and one /proc/<pid>/stat per
// process on the machine, which gives every process's parent, CPU times and
// RSS at once; the tree is built in memory. Between full scans (every
// Options.RescanInterval, or at once when a member exits) only the members'
// stat files are read. gopsutil's Children() instead reads every
// /proc/<pid>/stat on the machine once per tree member, then MemoryInfo and
// Times read statm and stat again per member, and it would add modules to
// go.mod (tklauser/go-sysconf, numcpus). Measured on the 2-core VM this was
// written on (~85 processes, 4-process tree; BenchmarkSampleTree):
//
//	known members only (steady state)   0.035 ms/sample   14 allocs
//	full /proc scan                      1.0  ms/sample  406 allocs
//	gopsutil Children+MemoryInfo+Times    24   ms/sample  27,905 allocs
//	(PSS: one /proc/self/smaps_rollup     0.12 ms, per process)
//
// Reads use raw syscalls into one reused buffer.
//
// # Memory use
//
// Samples are kept in a bounded ring (Options.Capacity, default 36,000:
// one hour at the default 100 ms interval, 32 bytes each, about 1.1 MiB).
// Windows reaching past the retained history are flagged Truncated.
package hostmon

import (
	"context"
	"errors"
	"fmt"
	"github.com/enginebench/enginebench/offline/sampling"
	"sync"
	"time"
)

// DefaultInterval is the default sampling interval.
const DefaultInterval = 100 * time.Millisecond

// DefaultCapacity is the default number of samples kept.
const DefaultCapacity = 36000

// Sample is one reading of the whole tree.
type Sample struct {
	// At is when the reading started.
	At time.Time `json:"at"`
	// Processes is the number of processes in the tree.
	Processes int `json:"processes"`
	// RSSBytes is the summed resident set size.
	RSSBytes uint64 `json:"rss_bytes"`
	// CPUSeconds is the cumulative CPU time (user + system, including
	// reaped children) of the tree's live members.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// Stats summarizes the tree over one window. Pointer fields are nil when
// the window holds no sample (or, for CPU, no usable counter span).
type Stats struct {
	// Samples is the number of samples inside [from, to].
	Samples int `json:"samples"`
	// PeakRSSBytes is the largest sampled RSS sum.
	PeakRSSBytes *uint64 `json:"peak_rss_bytes"`
	// MeanRSSBytes is the mean of the sampled RSS sums.
	MeanRSSBytes *uint64 `json:"mean_rss_bytes"`
	// PeakProcesses is the largest sampled process count.
	PeakProcesses *int `json:"peak_processes"`
	// CPUSeconds is the CPU time used in the window, from the cumulative
	// counter interpolated at the window edges, as gpu.Recorder does for
	// energy: never extrapolated beyond the samples.
	CPUSeconds *float64 `json:"cpu_seconds"`
	// MeanCPUCores is CPUSeconds divided by the span it covers: the average
	// number of busy cores.
	MeanCPUCores *float64 `json:"mean_cpu_cores"`
	// Truncated is true when samples inside the window were dropped from
	// the bounded history.
	Truncated bool `json:"truncated,omitempty"`
}

// Options configure a Monitor.
type Options struct {
	// Interval between samples; DefaultInterval when zero.
	Interval time.Duration
	// Capacity is the number of samples kept; DefaultCapacity when zero.
	Capacity int
	// RescanInterval is how often all of /proc is scanned to find new
	// descendants; DefaultRescanInterval when zero. In between, only the
	// known members' stat files are read, which is far cheaper on a busy
	// machine (see BenchmarkSampleTree). A process that joins the tree is
	// found within RescanInterval (its CPU time so far is then counted at
	// once); a member that exits, is re-parented or whose PID is reused
	// triggers an immediate full scan.
	RescanInterval time.Duration
	// Proc is the procfs mount point; "/proc" when empty.
	Proc string
}

// DefaultRescanInterval is the default Options.RescanInterval.
const DefaultRescanInterval = time.Second

// record is the compact stored form of a Sample.
type record struct {
	at    int64 // ns since the monitor's epoch (monotonic)
	rss   uint64
	ticks uint64
	procs int64
}

// StampNanos implements sampling.Stamped.
func (r record) StampNanos() int64 { return r.at }

// Monitor samples one process tree in the background.
type Monitor struct {
	root  int
	start uint64 // root's start time, to detect PID reuse
	opts  Options
	epoch time.Time

	// scanMu serializes scans (the scanner's buffer is shared) and guards
	// members and lastFull; it is held only for one scan.
	scanMu   sync.Mutex
	sc       *scanner
	members  []procStat // tree found by the last full scan
	lastFull time.Time

	mu   sync.Mutex // guards everything below
	ring *sampling.Ring[record]
	pids []int
	err  error

	loop sampling.Loop
}

// New returns a Monitor for the tree rooted at root. It checks that root
// exists; it does not start sampling.
func New(root int, opts Options) (*Monitor, error) {
	if opts.Interval < 0 || opts.Capacity < 0 || opts.RescanInterval < 0 {
		return nil, fmt.Errorf("hostmon: negative interval, capacity or rescan interval")
	}
	if opts.RescanInterval == 0 {
		opts.RescanInterval = DefaultRescanInterval
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Capacity == 0 {
		opts.Capacity = DefaultCapacity
	}
	if opts.Proc == "" {
		opts.Proc = "/proc"
	}
	sc := newScanner(opts.Proc)
	st, err := sc.readStat(root)
	if err != nil {
		return nil, fmt.Errorf("hostmon: pid %d: %w: %w", root, ErrNoProcess, err)
	}
	return &Monitor{root: root, start: st.start, opts: opts, epoch: time.Now(), sc: sc, ring: sampling.NewRing[record](opts.Capacity)}, nil
}

// SampleNow takes one reading of the tree, records it and returns it. After
// the root has exited it returns an error matching ErrNoProcess.
func (m *Monitor) SampleNow() (Sample, error) {
	m.scanMu.Lock()
	at := time.Now()
	sts, err := m.scan(at)
	m.scanMu.Unlock()
	if err != nil {
		err = fmt.Errorf("hostmon: %w", err)
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		return Sample{}, err
	}
	var rss, ticks uint64
	pids := make([]int, len(sts))
	for i, st := range sts {
		rss += st.rss
		ticks += st.ticks
		pids[i] = st.pid
	}
	rec := record{at: int64(at.Sub(m.epoch)), rss: rss * m.sc.pageSize, ticks: ticks, procs: int64(len(sts))}
	m.mu.Lock()
	m.push(rec)
	m.pids = pids
	m.mu.Unlock()
	return m.sample(rec), nil
}

// scan returns the stats of the tree's members: the known members only,
// while that is valid and the last full scan is recent, else a full scan.
// The caller holds scanMu.
func (m *Monitor) scan(now time.Time) ([]procStat, error) {
	if m.members != nil && now.Sub(m.lastFull) < m.opts.RescanInterval {
		if sts, ok := m.readMembers(); ok {
			return sts, nil
		}
	}
	sts, err := m.sc.treeStats(m.root)
	if err != nil {
		return nil, err
	}
	if sts[0].start != m.start {
		return nil, fmt.Errorf("pid %d was reused by another process: %w", m.root, ErrNoProcess)
	}
	m.members, m.lastFull = sts, now
	return sts, nil
}

// readMembers rereads the known members. It reports false when the tree
// may have changed shape: a member vanished, was re-parented, or its PID
// now belongs to another process.
func (m *Monitor) readMembers() ([]procStat, bool) {
	out := make([]procStat, 0, len(m.members))
	for _, known := range m.members {
		st, err := m.sc.readStat(known.pid)
		if err != nil || st.start != known.start || st.ppid != known.ppid {
			return nil, false
		}
		out = append(out, st)
	}
	return out, true
}

func (m *Monitor) sample(r record) Sample {
	return Sample{
		At:         m.epoch.Add(time.Duration(r.at)),
		Processes:  int(r.procs),
		RSSBytes:   r.rss,
		CPUSeconds: float64(r.ticks) / float64(m.sc.clkTck),
	}
}

func (m *Monitor) get(i int) *record { return m.ring.Get(i) }

func (m *Monitor) push(r record) { m.ring.Push(r) }

// PIDs returns the tree found by the latest sample (root first), or just
// the root before the first sample. It does no I/O, so it suits
// gpu.WatchPIDs.
func (m *Monitor) PIDs() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pids == nil {
		return []int{m.root}
	}
	return append([]int(nil), m.pids...)
}

// Err returns the error that ended sampling (typically the root exiting),
// or nil.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Start samples now and then every Interval until ctx is done, Stop is
// called, or the root process exits.
func (m *Monitor) Start(ctx context.Context) error {
	return m.loop.Start(ctx, m.opts.Interval, nil, func() bool {
		_, err := m.SampleNow()
		return !errors.Is(err, ErrNoProcess) // nothing left to watch; Err says why
	})
}

// Stop ends sampling and waits for the sampling goroutine. Recorded data
// stays readable. It is idempotent.
func (m *Monitor) Stop() { m.loop.Stop() }

func (m *Monitor) search(t int64, after bool) int { return m.ring.Search(t, after) }

// Samples returns the retained samples in [from, to].
func (m *Monitor) Samples(from, to time.Time) []Sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Sample
	f, t := int64(from.Sub(m.epoch)), int64(to.Sub(m.epoch))
	for i, hi := m.search(f, false), m.search(t, true); i < hi; i++ {
		out = append(out, m.sample(*m.get(i)))
	}
	return out
}

// Stats summarizes [from, to]. If there is no sample at or after to yet and
// the monitor is not stopped, it takes one first, so the CPU counter is
// bracketed at the end of the window.
func (m *Monitor) Stats(from, to time.Time) Stats {
	m.mu.Lock()
	need := !m.loop.Stopped() && (m.ring.Len() == 0 || m.get(m.ring.Len()-1).at < int64(to.Sub(m.epoch)))
	m.mu.Unlock()
	if need {
		m.SampleNow() // on error the window is computed from what exists
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.window(int64(from.Sub(m.epoch)), int64(to.Sub(m.epoch)))
}

// window computes Stats; the caller holds m.mu.
func (m *Monitor) window(f, t int64) Stats {
	st := Stats{Truncated: m.ring.EvictedSince(f)}
	if t < f {
		return st
	}
	lo, hi := m.search(f, false), m.search(t, true)
	st.Samples = hi - lo
	if st.Samples == 0 {
		return st
	}
	var peak, sum uint64
	peakProcs := 0
	for i := lo; i < hi; i++ {
		r := m.get(i)
		peak = max(peak, r.rss)
		sum += r.rss // < 2^64: 36,000 samples of < 2^48 bytes each
		peakProcs = max(peakProcs, int(r.procs))
	}
	mean := (sum + uint64(st.Samples)/2) / uint64(st.Samples)
	st.PeakRSSBytes, st.MeanRSSBytes, st.PeakProcesses = &peak, &mean, &peakProcs

	c0, t0, i0, ok0 := m.counterAt(f, true, t)
	c1, t1, i1, ok1 := m.counterAt(t, false, f)
	if !ok0 || !ok1 || t1 <= t0 {
		return st
	}
	for i := i0 + 1; i <= i1; i++ {
		if m.get(i).ticks < m.get(i-1).ticks {
			return st // a member left unreaped: the counter dropped
		}
	}
	cpu := (c1 - c0) / float64(m.sc.clkTck)
	cores := cpu / time.Duration(t1-t0).Seconds()
	st.CPUSeconds, st.MeanCPUCores = &cpu, &cores
	return st
}

// counterAt returns the tick counter at edge, interpolated between the
// samples bracketing it, or the nearest sample inside the window (towards
// limit) when the edge is not bracketed; with the time it refers to and the
// outermost index used.
func (m *Monitor) counterAt(edge int64, isStart bool, limit int64) (float64, int64, int, bool) {
	next := m.search(edge, false) // first at >= edge
	prev := m.search(edge, true) - 1
	switch {
	case prev >= 0 && next < m.ring.Len():
		p, n := m.get(prev), m.get(next)
		outer := prev
		if !isStart {
			outer = next
		}
		if p.at == n.at || n.ticks < p.ticks {
			return float64(p.ticks), edge, outer, true // a drop is rejected by the caller's scan
		}
		frac := float64(edge-p.at) / float64(n.at-p.at)
		return float64(p.ticks) + frac*float64(n.ticks-p.ticks), edge, outer, true
	case isStart && next < m.ring.Len() && m.get(next).at <= limit:
		return float64(m.get(next).ticks), m.get(next).at, next, true
	case !isStart && prev >= 0 && m.get(prev).at >= limit:
		return float64(m.get(prev).ticks), m.get(prev).at, prev, true
	}
	return 0, 0, 0, false
}
