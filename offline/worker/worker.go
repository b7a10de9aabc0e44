// Package worker is the engine side of enginebench: the hidden `worker`
// subcommand runs one engine in-process in the embedded interpreter and
// answers the parent's requests (package offline/protocol).
//
// The worker times each generate call in Go with a monotonic clock; the
// Python adapter times the same call with perf_counter; both go into the
// result, so the host's overhead is visible. GPU and host samplers run in Go
// goroutines that never take the GIL, so measuring never slows the engine.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/hostmon"
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/pyhost"
)

// HostMonitor samples the host resources of the worker's process tree.
type HostMonitor interface {
	// Start begins sampling until ctx is done or Stop is called.
	Start(ctx context.Context) error
	// Stop ends sampling.
	Stop()
	// Stats summarizes [from, to].
	Stats(from, to time.Time) hostmon.Stats
	// PIDs is the process tree as last sampled.
	PIDs() []int
	// SampleNow takes a reading at once.
	SampleNow() (hostmon.Sample, error)
}

// Options are the worker's samplers, injected so the worker is testable and
// free of NVML details.
type Options struct {
	// NewGPUSampler returns the GPU sampler for a load request; watch gives
	// the worker's process tree. Nil means no GPU metrics.
	NewGPUSampler func(req *protocol.LoadRequest, watch gpu.WatchPIDs) (gpu.Sampler, error)
	// NewHostMonitor returns the host sampler for this process tree; nil
	// means no host metrics.
	NewHostMonitor func(pid int, interval time.Duration) (HostMonitor, error)
	// NewAdapter starts the engine side of a load request and returns its
	// adapter and the function that releases what it started. Nil means the
	// embedded interpreter with the engine's Python adapter (StartPython).
	NewAdapter func(ctx context.Context, load *protocol.LoadRequest) (Adapter, func(context.Context) error, error)
}

// StartPython starts the embedded interpreter of the load request's python
// and returns the engine's Python adapter in it.
func StartPython(ctx context.Context, load *protocol.LoadRequest) (Adapter, func(context.Context) error, error) {
	h, err := pyhost.Start(ctx, pyhost.Config{
		Python: load.Python,
		Env:    load.Env,
		Paths:  load.PythonPaths,
		Argv:   []string{"enginebench-worker", load.Engine},
	})
	if err != nil {
		return nil, nil, &protocol.FailedEvent{Kind: protocol.FailConfig, Message: err.Error()}
	}
	release := func(ctx context.Context) error {
		if err := h.Close(ctx); err != nil && !errors.Is(err, pyhost.ErrClosed) {
			return err
		}
		return nil
	}
	return NewPyAdapter(h, load.Engine), release, nil
}

// Serve answers the parent's requests on conn until it asks to close, the
// pipe closes, or ctx ends. Errors that end the conversation are returned
// after being reported to the parent where possible.
func Serve(ctx context.Context, conn *protocol.Conn, opts Options) error {
	var req protocol.Request
	if err := conn.Recv(&req); err != nil {
		return fmt.Errorf("waiting for the load request: %w", err)
	}
	if req.Type != protocol.TypeLoad || req.Load == nil {
		return fmt.Errorf("first request is %q, want %q", req.Type, protocol.TypeLoad)
	}
	w := &worker{conn: conn, opts: opts, load: req.Load}
	defer w.stopSamplers()
	if err := w.start(ctx); err != nil {
		return w.fail(err)
	}
	if w.load.CheckOnly {
		return w.check(ctx)
	}
	if err := w.loadEngine(ctx); err != nil {
		return w.fail(err)
	}
	for {
		var r protocol.Request
		if err := conn.Recv(&r); err != nil {
			// The parent is gone: shut the engine down and leave.
			w.closeEngine(context.Background())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch r.Type {
		case protocol.TypeBatch:
			if r.Batch == nil {
				return fmt.Errorf("batch request without a cell")
			}
			res := w.runBatch(ctx, r.Batch.Cell)
			if err := conn.Send(protocol.Event{Type: protocol.TypeResult, Result: res}); err != nil {
				return err
			}
		case protocol.TypeClose:
			// Even after an interrupt the engine is shut down properly.
			err := w.closeEngine(context.Background())
			if serr := conn.Send(protocol.Event{Type: protocol.TypeClosed}); serr != nil {
				return serr
			}
			return err
		default:
			return fmt.Errorf("unknown request %q", r.Type)
		}
	}
}

type worker struct {
	conn         *protocol.Conn
	opts         Options
	load         *protocol.LoadRequest
	adapter      Adapter
	release      func(context.Context) error
	gpu          gpu.Sampler
	hostMon      HostMonitor
	loaded       bool
	stopSampling context.CancelFunc
}

// start begins sampling and starts the adapter; it loads no model.
func (w *worker) start(ctx context.Context) error {
	sctx, cancel := context.WithCancel(context.Background())
	w.stopSampling = cancel
	interval := w.load.SampleInterval
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	if w.opts.NewHostMonitor != nil {
		hm, err := w.opts.NewHostMonitor(os.Getpid(), interval)
		if err != nil {
			return fmt.Errorf("starting the host sampler: %w", err)
		}
		w.hostMon = hm
		if err := w.hostMon.Start(sctx); err != nil {
			return fmt.Errorf("starting the host sampler: %w", err)
		}
	}
	// A pre-flight check opens NVML only to enforce --require-gpu before any
	// model loads.
	if w.opts.NewGPUSampler != nil && (!w.load.CheckOnly || w.load.RequireGPU) {
		var watch gpu.WatchPIDs
		if w.hostMon != nil {
			watch = w.hostMon.PIDs
		} else {
			pid := os.Getpid()
			watch = func() []int { return []int{pid} }
		}
		s, err := w.opts.NewGPUSampler(w.load, watch)
		if err != nil {
			return &protocol.FailedEvent{Kind: protocol.FailConfig, Message: err.Error()}
		}
		w.gpu = s
		if err := w.gpu.Start(sctx); err != nil {
			return fmt.Errorf("starting the GPU sampler: %w", err)
		}
	}
	newAdapter := w.opts.NewAdapter
	if newAdapter == nil {
		newAdapter = StartPython
	}
	a, release, err := newAdapter(ctx, w.load)
	if err != nil {
		return err
	}
	w.adapter, w.release = a, release
	return nil
}

func (w *worker) stopSamplers() {
	if w.gpu != nil {
		w.gpu.Stop()
	}
	if w.hostMon != nil {
		w.hostMon.Stop()
	}
	if w.stopSampling != nil {
		w.stopSampling()
	}
}

func (w *worker) check(ctx context.Context) error {
	info, err := w.adapter.Check(ctx, ConfigOf(w.load))
	if err != nil {
		return w.fail(err)
	}
	if err := w.conn.Send(protocol.Event{Type: protocol.TypeChecked, Checked: info}); err != nil {
		return err
	}
	return w.closeEngine(ctx)
}

// loadEngine has the adapter read the workload, then constructs the engine.
// The workload goes first: its hash is checked on the adapter's side, from
// the very lists the engine will get, before any model loads.
func (w *worker) loadEngine(ctx context.Context) error {
	held, err := w.adapter.SetWorkload(ctx, WorkloadRef{
		Path: w.load.WorkloadPath, SHA256: w.load.WorkloadSHA256, InputLen: w.load.InputLen, OutputLen: w.load.OutputLen,
	})
	if err != nil {
		return err
	}
	if held.SHA256 != w.load.WorkloadSHA256 {
		return fmt.Errorf("the %s adapter holds %d prompts with hash %s, the parent wrote %s", w.load.Engine, held.Count, held.SHA256, w.load.WorkloadSHA256)
	}
	ev := &protocol.LoadedEvent{}
	if w.gpu != nil {
		ev.GPU = w.gpu.Info()
		ev.GPUBefore = w.gpu.Baseline("before load")
	}
	start := time.Now()
	info, err := w.adapter.Load(ctx, ConfigOf(w.load))
	if err != nil {
		return err
	}
	ev.LoadS = time.Since(start).Seconds()
	ev.Info = *info
	if w.gpu != nil {
		ev.GPUAfter = w.gpu.Baseline("after load")
	}
	w.loaded = true
	return w.conn.Send(protocol.Event{Type: protocol.TypeLoaded, Loaded: ev})
}

// runBatch runs one cell. The timed region is exactly the adapter's
// RunBatch; what the engine returned is collected afterwards. The parent
// builds the result row.
func (w *worker) runBatch(ctx context.Context, c protocol.Cell) *protocol.BatchResult {
	res := &protocol.BatchResult{Cell: c}
	if w.gpu != nil {
		w.gpu.Mark(fmt.Sprintf("batch bs=%d rep=%d warmup=%v", c.BatchSize, c.Rep, c.Warmup))
	}
	// Host readings right outside the timed region bracket it, so even a
	// batch shorter than the sampling interval gets its memory and CPU time;
	// the host figures cover the batch and these two readings.
	var hostFrom time.Time
	if w.hostMon != nil {
		if s, err := w.hostMon.SampleNow(); err == nil {
			hostFrom = s.At
		}
	}
	t, err := w.adapter.RunBatch(ctx, c.First, c.BatchSize)
	res.StartedAt = t.Start.UTC()
	res.WallS = t.End.Sub(t.Start).Seconds()
	if w.gpu != nil {
		res.GPU = w.gpu.Stats(t.Start, t.End)
	}
	if w.hostMon != nil {
		hostTo := t.End
		if s, err := w.hostMon.SampleNow(); err == nil {
			hostTo = s.At
		}
		if hostFrom.IsZero() {
			hostFrom = t.Start
		}
		hs := w.hostMon.Stats(hostFrom, hostTo)
		res.Host = &hs
	}
	if err != nil {
		res.Error = describe(err)
		return res
	}
	engineS := t.EngineS
	res.EngineS = &engineS
	col, err := w.adapter.Collect(ctx, results.KeepsOutputIDs(c.Rep, c.Warmup))
	if err != nil {
		res.Error = describe(err)
	}
	res.Requests, res.Programs = col.Requests, col.Programs
	return res
}

// closeEngine shuts the engine down, if loaded, then releases the adapter.
func (w *worker) closeEngine(ctx context.Context) error {
	if w.adapter == nil {
		return nil
	}
	var err error
	if w.loaded {
		w.loaded = false
		err = w.adapter.Close(ctx)
	}
	if w.release != nil {
		release := w.release
		w.release = nil
		if rerr := release(ctx); err == nil {
			err = rerr
		}
	}
	return err
}

// fail reports a failed start, check or load to the parent, then returns
// the error.
func (w *worker) fail(err error) error {
	fe := &protocol.FailedEvent{Kind: protocol.FailEngine, Message: err.Error()}
	var pe *pyhost.PyError
	var given *protocol.FailedEvent
	switch {
	case errors.As(err, &given):
		fe = given
	case errors.As(err, &pe):
		fe.Traceback = pe.Traceback
		fe.Message = pe.Type + ": " + pe.Message
		if pe.Type == pyhost.PackageName+".engines.base.ConfigError" {
			fe.Kind = protocol.FailConfig
			fe.Message = pe.Message
		}
		if errors.Is(err, pyhost.ErrInterrupted) {
			fe.Kind = protocol.FailInterrupted
		}
	}
	if serr := w.conn.Send(protocol.Event{Type: protocol.TypeFailed, Failed: fe}); serr != nil {
		return errors.Join(err, serr)
	}
	if w.adapter != nil && fe.Kind != protocol.FailInterrupted {
		w.closeEngine(context.Background())
	}
	return err
}

// describe renders an error for a result row: a Python exception as its type
// and message plus the last lines of its traceback.
func describe(err error) string {
	var pe *pyhost.PyError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s\n%s", pe.Type, pe.Message, pe.TracebackTail(12))
	}
	return err.Error()
}
