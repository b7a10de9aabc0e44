//go:build cgo

// cgo: nvmlsampler.Open exists only in cgo builds (see its nocgo.go).

package pyhost_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/enginebench/enginebench/offline/gpu/nvmlsampler"
	"github.com/enginebench/enginebench/offline/hostmon"
	"github.com/enginebench/enginebench/pyhost"
)

const (
	// spinIters is the size of one GIL-bound loop (samplerbench.spin), about
	// 20 ms on the reference machine: a fixed count, not a fixed time, so
	// a slower loop shows up as a longer loop.
	spinIters = 250_000
	// loopsPerOp loops run back to back in one Python call, about 4 s.
	loopsPerOp = 200
	// window is how long the sampler is on, or off, at a time.
	window = 100 * time.Millisecond
	// samplerInterval is the interval under test.
	samplerInterval = 10 * time.Millisecond
	// ringCapacity keeps the samplers' rings small: a ring's size does not
	// change the cost of a reading, and opening nvmlsampler's default rings
	// (3 MiB a GPU) for every window would measure the garbage collector.
	ringCapacity = 1024
	// mockGPUs is the dgxh100 preset's device count.
	mockGPUs = 8
	mockGiB  = uint64(1) << 30
)

// BenchmarkSamplerOverhead measures how much a sampler running beside the
// embedded interpreter slows a GIL-bound pure-Python loop:
//
//   - none: no sampler, an A/A control whose slowdown is the noise floor;
//   - go-sampler-10ms: the worker's Go samplers, nvmlsampler over the
//     go-nvml dgxh100 mock (8 GPUs; every reading calls the mock's funcs)
//     and hostmon on this process, both at 10 ms, in goroutines;
//   - python-thread-sampler-10ms: the same work done by a threading.Thread
//     in the interpreter (samplerbench.py).
//
// An op is one Python call running loopsPerOp loops back to back while the
// variant's sampler is switched on and off in 100 ms windows, in random
// order within each on/off pair. Each loop is stamped with
// CLOCK_MONOTONIC, and a loop that falls wholly inside an on (off) window
// counts as with (without) the sampler; loops across a boundary are
// dropped. Why windows this short: on the 2-vCPU reference VM the same
// loop's time varies by about 15% (standard deviation) with nothing else
// running, and the variation is correlated over a few hundred ms (the
// host shares the cores; the loop's CPU time varies as much as its wall
// time). Comparing loops 100 ms apart cancels most of it: the A/A spread
// between runs is about ±1%, where comparing alternate one-second blocks
// left ±3 to ±6%.
//
// The Go samplers are opened fresh for each on-window, so each on-window
// starts with hostmon's full /proc scan: about ten per second of sampling
// instead of the steady one (hostmon's rescan interval is 1 s). The Python
// sampler keeps its state across windows and scans at the steady rate.
// Both differences count against the Go sampler.
//
// Reported: slowdown-% = 100 × (median loop with / median loop without −
// 1), the median being robust to other processes' bursts;
// slowdown-mean-%, the same with means, which also counts costs that hit
// one loop in many; ms/loop-with and ms/loop-without (medians);
// readings/s of the sampler while on (100 means it kept the 10 ms
// interval); preempted-% (Go variants), the extra time per second the
// interpreter's thread spent runnable but off the CPU while on; and
// sampler-cpu-%, the process's extra CPU time while on, in
// percent of one core (for the Go samplers it includes opening them and
// the full scan in every window; a Python thread's work is taken from the
// loop under the GIL, so it shows as slowdown, not as CPU). ns/op is the
// whole call, half on and half off. Run with -benchtime=10x -count=6;
// benchstat shows the spread.
func BenchmarkSamplerOverhead(b *testing.B) {
	h := testHost(b)
	runLoops(b, h, 10) // imports samplerbench and warms the interpreter up
	var tid int
	if err := h.CallJSON(context.Background(), "samplerbench", "native_thread_id", nil, &tid); err != nil {
		b.Fatal(err)
	}
	schedstat := fmt.Sprintf("/proc/self/task/%d/schedstat", tid)
	b.Run("none", func(b *testing.B) {
		runWindows(b, h, func(rng *rand.Rand) toggler { return goToggler(rng, schedstat, noSampler) })
	})
	b.Run("go-sampler-10ms", func(b *testing.B) {
		srv := completeH100s(os.Getpid())
		runWindows(b, h, func(rng *rand.Rand) toggler {
			return goToggler(rng, schedstat, func() (func() samplerReadings, error) { return startGoSamplers(srv) })
		})
	})
	b.Run("python-thread-sampler-10ms", func(b *testing.B) {
		runWindows(b, h, func(rng *rand.Rand) toggler { return pyToggler(h, rng) })
	})
}

// samplerWindow is one on- or off-window, stamped with CLOCK_MONOTONIC.
type samplerWindow struct {
	on       bool
	from, to int64         // ns
	cpu      time.Duration // process CPU time used in the window
	waited   time.Duration // time the interpreter's thread was runnable but not running
	readings int           // readings taken (for the Go samplers, the fewer of GPU and host)
}

// samplerReadings counts what the Go samplers took while on.
type samplerReadings struct{ gpu, host int }

// toggler switches a sampler on and off, in windows, until stop is called;
// stop returns the windows.
type toggler struct {
	start func() error
	stop  func() ([]samplerWindow, error)
	// waits says whether the windows carry the interpreter thread's
	// run-queue wait.
	waits bool
}

// runWindows runs the ops for one variant; newToggler makes the toggler of
// one op.
func runWindows(b *testing.B, h *pyhost.Host, newToggler func(*rand.Rand) toggler) {
	rng := rand.New(rand.NewPCG(1, 2)) // fixed: the same on/off order every run
	var with, without []float64
	var onTime, offTime, onCPU, offCPU, onWait, offWait time.Duration
	readings := 0
	waits := false
	for b.Loop() {
		tg := newToggler(rng)
		if err := tg.start(); err != nil {
			b.Fatal(err)
		}
		loops := runLoops(b, h, loopsPerOp)
		ws, err := tg.stop()
		if err != nil {
			b.Fatal(err)
		}
		waits = tg.waits
		w, wo := classify(loops, ws)
		with, without = append(with, w...), append(without, wo...)
		for _, win := range ws {
			d := time.Duration(win.to - win.from)
			if win.on {
				onTime, onCPU, onWait, readings = onTime+d, onCPU+win.cpu, onWait+win.waited, readings+win.readings
			} else {
				offTime, offCPU, offWait = offTime+d, offCPU+win.cpu, offWait+win.waited
			}
		}
	}
	if len(with) < 10 || len(without) < 10 {
		b.Fatalf("only %d loops with and %d without the sampler", len(with), len(without))
	}
	mw, mwo := medianOf(with), medianOf(without)
	b.ReportMetric(mw*1e3, "ms/loop-with")
	b.ReportMetric(mwo*1e3, "ms/loop-without")
	b.ReportMetric(100*(mw/mwo-1), "slowdown-%")
	b.ReportMetric(100*(meanOf(with)/meanOf(without)-1), "slowdown-mean-%")
	b.ReportMetric(100*(onCPU.Seconds()/onTime.Seconds()-offCPU.Seconds()/offTime.Seconds()), "sampler-cpu-%")
	if waits {
		b.ReportMetric(100*(onWait.Seconds()/onTime.Seconds()-offWait.Seconds()/offTime.Seconds()), "preempted-%")
	}
	if readings > 0 {
		b.ReportMetric(float64(readings)/onTime.Seconds(), "readings/s")
	}
}

// classify splits the loops' times (seconds) into those wholly inside an
// on-window and those wholly inside an off-window.
func classify(loops [][2]int64, ws []samplerWindow) (with, without []float64) {
	for _, l := range loops {
		i, _ := slices.BinarySearchFunc(ws, l[0], func(w samplerWindow, t int64) int {
			switch {
			case w.to < t:
				return -1
			case w.from > t:
				return 1
			}
			return 0
		})
		if i == len(ws) || ws[i].from > l[0] || ws[i].to < l[1] {
			continue // outside every window, or across a boundary
		}
		d := float64(l[1]-l[0]) / 1e9
		if ws[i].on {
			with = append(with, d)
		} else {
			without = append(without, d)
		}
	}
	return with, without
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return (s[len(s)/2] + s[(len(s)-1)/2]) / 2
}

func meanOf(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// runLoops runs k loops in one Python call and returns each loop's
// [start, end] in CLOCK_MONOTONIC ns.
func runLoops(b *testing.B, h *pyhost.Host, k int) [][2]int64 {
	var loops [][2]int64
	arg := map[string]int{"n": spinIters, "k": k}
	if err := h.CallJSON(context.Background(), "samplerbench", "spin_loops", arg, &loops); err != nil {
		b.Fatal(err)
	}
	if len(loops) != k {
		b.Fatalf("spin_loops returned %d loops, want %d", len(loops), k)
	}
	return loops
}

// monotonicNow reads CLOCK_MONOTONIC, the clock Python's time.monotonic_ns
// reads; Go's time.Now hides its monotonic reading.
func monotonicNow() int64 {
	var ts syscall.Timespec
	const clockMonotonic = 1
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		panic(e)
	}
	return ts.Nano()
}

// processCPUTime is the user + system time of the whole process so far.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runQueueWait reads the run_delay field of a thread's schedstat (see
// the kernel's Documentation/scheduler/sched-stats.rst): the total time
// the thread has been runnable but waiting for a CPU.
func runQueueWait(schedstat string) time.Duration {
	b, err := os.ReadFile(schedstat)
	if err != nil {
		panic(err)
	}
	var run, wait, timeslices int64
	if _, err := fmt.Sscan(string(b), &run, &wait, &timeslices); err != nil {
		panic(fmt.Errorf("%s: %w", schedstat, err))
	}
	return time.Duration(wait)
}

// goToggler switches samplers started by start on and off from a
// goroutine, which runs while the Python call holds the interpreter. Each
// window also records how long the interpreter's thread (schedstat is its
// /proc/self/task/<tid>/schedstat) waited for a CPU: the only way a
// goroutine, which never takes the GIL, can slow a Python loop is by
// taking its CPU (or its caches).
func goToggler(rng *rand.Rand, schedstat string, start func() (func() samplerReadings, error)) toggler {
	seed := rng.Uint64()
	done := make(chan struct{})
	result := make(chan error, 1)
	var ws []samplerWindow
	return toggler{
		start: func() error {
			go func() {
				rng := rand.New(rand.NewPCG(seed, 0))
				for {
					order := [2]bool{true, false}
					if rng.IntN(2) == 0 {
						order = [2]bool{false, true}
					}
					for _, on := range order {
						w := samplerWindow{on: on, from: monotonicNow()}
						c0, q0 := processCPUTime(), runQueueWait(schedstat)
						var stop func() samplerReadings
						if on {
							var err error
							if stop, err = start(); err != nil {
								result <- err
								return
							}
						}
						stopped := false
						select {
						case <-time.After(window):
						case <-done:
							stopped = true
						}
						if on {
							r := stop()
							w.readings = min(r.gpu, r.host) // the slower of the two

						}
						w.to, w.cpu, w.waited = monotonicNow(), processCPUTime()-c0, runQueueWait(schedstat)-q0
						ws = append(ws, w)
						if stopped {
							result <- nil
							return
						}
					}
				}
			}()
			return nil
		},
		stop: func() ([]samplerWindow, error) {
			close(done)
			err := <-result // the goroutine has finished with ws
			return ws, err
		},
		waits: true,
	}
}

// noSampler is the none variant: windows with nothing in them.
func noSampler() (func() samplerReadings, error) {
	return func() samplerReadings { return samplerReadings{} }, nil
}

// startGoSamplers starts what the worker starts (pyhost/worker): hostmon
// on this process and nvmlsampler, over srv, watching hostmon's PIDs, both
// at samplerInterval.
func startGoSamplers(srv *server.Server) (func() samplerReadings, error) {
	hm, err := hostmon.New(os.Getpid(), hostmon.Options{Interval: samplerInterval, Capacity: ringCapacity})
	if err != nil {
		return nil, err
	}
	gs, err := nvmlsampler.Open(srv, nvmlsampler.Options{
		Interval:  samplerInterval,
		Capacity:  ringCapacity,
		WatchPIDs: hm.PIDs,
		LookupEnv: func(string) (string, bool) { return "", false }, // not the machine's CUDA_VISIBLE_DEVICES
	})
	if err != nil {
		return nil, err
	}
	if _, ok := gs.(*nvmlsampler.Sampler); !ok {
		return nil, fmt.Errorf("nvmlsampler.Open gave %T: %s", gs, gs.Info().NoMetricsReason)
	}
	ctx, cancel := context.WithCancel(context.Background())
	from := time.Now()
	if err := errors.Join(hm.Start(ctx), gs.Start(ctx)); err != nil {
		cancel()
		return nil, err
	}
	return func() samplerReadings {
		to := time.Now()
		gs.Stop()
		hm.Stop()
		cancel()
		return samplerReadings{gpu: gs.Stats(from, to)[0].Samples, host: hm.Stats(from, to).Samples}
	}, nil
}

// completeH100s returns the dgxh100 preset with the funcs nvmlsampler calls
// filled in (a nil mock func panics), answering what samplerbench.py's
// _MockDevice answers: steady values, and two processes of which one is
// watched, so the per-process filter runs too.
func completeH100s(watched int) *server.Server {
	srv := dgxh100.New()
	for i, d := range srv.Devices {
		md := d.(*server.Device)
		used := uint64(i+1) * mockGiB
		md.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
			return nvml.Memory_v2{Total: 80 * mockGiB, Free: 80*mockGiB - used, Used: used}, nvml.SUCCESS
		}
		md.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{Gpu: 50}, nvml.SUCCESS }
		md.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 300000, nvml.SUCCESS }
		md.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 1_000_000, nvml.SUCCESS }
		procs := []nvml.ProcessInfo{{Pid: uint32(watched), UsedGpuMemory: 2 * mockGiB}, {Pid: 1, UsedGpuMemory: mockGiB}}
		md.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return procs, nvml.SUCCESS }
		md.GetMemoryBusWidthFunc = func() (uint32, nvml.Return) { return 5120, nvml.SUCCESS }
		md.GetMaxClockInfoFunc = func(nvml.ClockType) (uint32, nvml.Return) { return 2619, nvml.SUCCESS }
	}
	if len(srv.Devices) != mockGPUs {
		panic("dgxh100 preset no longer has 8 GPUs")
	}
	return srv
}

// pyToggler starts samplerbench's sampler thread, which switches itself on
// and off in windows (Go cannot call into Python while the loop holds the
// interpreter), with hostmon's and nvmlsampler's settings.
func pyToggler(h *pyhost.Host, rng *rand.Rand) toggler {
	arg := map[string]any{
		"interval_s": samplerInterval.Seconds(),
		"devices":    mockGPUs,
		"rescan_s":   hostmon.DefaultRescanInterval.Seconds(),
		"capacity":   ringCapacity,
		"window_s":   window.Seconds(),
		"seed":       rng.Uint64() >> 11, // exact in a JSON number
	}
	return toggler{
		start: func() error {
			return h.CallJSON(context.Background(), "samplerbench", "start_sampler", arg, nil)
		},
		stop: func() ([]samplerWindow, error) {
			var raw [][5]int64 // on, from, to, cpu, readings
			if err := h.CallJSON(context.Background(), "samplerbench", "stop_sampler", nil, &raw); err != nil {
				return nil, err
			}
			ws := make([]samplerWindow, len(raw))
			for i, r := range raw {
				ws[i] = samplerWindow{on: r[0] == 1, from: r[1], to: r[2], cpu: time.Duration(r[3]), readings: int(r[4])}
			}
			return ws, nil
		},
	}
}
