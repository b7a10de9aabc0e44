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
	"github.com/enginebench/enginebench/offline/workload"
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
}

// AdapterModule returns the Python module of an engine's adapter.
func AdapterModule(engine string) string {
	return pyhost.PackageName + ".engines." + engine
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
			row := w.runBatch(ctx, r.Batch.Cell)
			if err := conn.Send(protocol.Event{Type: protocol.TypeResult, Result: row}); err != nil {
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
	host         *pyhost.Host
	module       string
	wl           *workload.Workload
	gpu          gpu.Sampler
	hostMon      HostMonitor
	loaded       bool
	stopSampling context.CancelFunc
}

// start begins sampling and starts the interpreter; it loads no model.
func (w *worker) start(ctx context.Context) error {
	w.module = AdapterModule(w.load.Engine)
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
	h, err := pyhost.Start(ctx, pyhost.Config{
		Python: w.load.Python,
		Env:    w.load.Env,
		Paths:  w.load.PythonPaths,
		Argv:   []string{"enginebench-worker", w.load.Engine},
	})
	if err != nil {
		return &protocol.FailedEvent{Kind: protocol.FailConfig, Message: err.Error()}
	}
	w.host = h
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

// adapterConfig is what every adapter function receives as its config.
func (w *worker) adapterConfig() map[string]any {
	l := w.load
	return map[string]any{
		"model":          l.Model,
		"dtype":          l.Dtype,
		"seed":           l.Seed,
		"max_model_len":  l.MaxModelLen,
		"max_batch_size": l.MaxBatchSize,
		"input_len":      l.InputLen,
		"output_len":     l.OutputLen,
		"sampling":       l.Sampling,
		"user_args":      l.UserArgs,
	}
}

func (w *worker) check(ctx context.Context) error {
	var info protocol.EngineInfo
	if err := w.host.CallJSON(ctx, w.module, "check", w.adapterConfig(), &info); err != nil {
		return w.fail(err)
	}
	if err := w.conn.Send(protocol.Event{Type: protocol.TypeChecked, Checked: &info}); err != nil {
		return err
	}
	return w.host.Close(ctx)
}

// loadEngine hands the workload to the adapter, then constructs the engine.
// The workload goes first: its hash is checked on the Python side, from the
// very lists the engine will get, before any model loads.
func (w *worker) loadEngine(ctx context.Context) error {
	wl, err := workload.Read(w.load.WorkloadPath)
	if err != nil {
		return err
	}
	if wl.SHA256 != w.load.WorkloadSHA256 {
		return fmt.Errorf("workload %s has hash %s, the parent expected %s", w.load.WorkloadPath, wl.SHA256, w.load.WorkloadSHA256)
	}
	w.wl = wl
	var set struct {
		Count  int    `json:"count"`
		SHA256 string `json:"sha256"`
	}
	in := map[string]any{"prompts": wl.Prompts, "input_len": w.load.InputLen, "output_len": w.load.OutputLen}
	if err := w.host.CallJSON(ctx, w.module, "set_workload", in, &set); err != nil {
		return err
	}
	if set.SHA256 != wl.SHA256 || set.Count != len(wl.Prompts) {
		return fmt.Errorf("the %s adapter holds %d prompts with hash %s, want %d with %s", w.load.Engine, set.Count, set.SHA256, len(wl.Prompts), wl.SHA256)
	}
	ev := &protocol.LoadedEvent{}
	if w.gpu != nil {
		ev.GPU = w.gpu.Info()
		ev.GPUBefore = w.gpu.Baseline("before load")
	}
	start := time.Now()
	if err := w.host.CallJSON(ctx, w.module, "load", w.adapterConfig(), &ev.Info); err != nil {
		return err
	}
	ev.LoadS = time.Since(start).Seconds()
	if w.gpu != nil {
		ev.GPUAfter = w.gpu.Baseline("after load")
	}
	w.loaded = true
	return w.conn.Send(protocol.Event{Type: protocol.TypeLoaded, Loaded: ev})
}

type collected struct {
	Requests []results.Request `json:"requests"`
}

// runBatch runs one cell. The timed region is exactly the run_batch call:
// its argument is two integers and its result one float; the per-request
// details are collected afterwards.
func (w *worker) runBatch(ctx context.Context, c protocol.Cell) *results.Row {
	row := &results.Row{
		Engine:         w.load.Engine,
		BatchSize:      c.BatchSize,
		Rep:            c.Rep,
		Warmup:         c.Warmup,
		FirstPrompt:    c.First,
		WorkloadSHA256: w.wl.SHA256,
	}
	arg := map[string]int{"first": c.First, "count": c.BatchSize}
	label := fmt.Sprintf("batch bs=%d rep=%d warmup=%v", c.BatchSize, c.Rep, c.Warmup)
	if w.gpu != nil {
		w.gpu.Mark(label)
	}
	var out struct {
		EngineS float64 `json:"engine_s"`
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
	start := time.Now()
	span, err := w.host.CallTimed(ctx, w.module, "run_batch", arg, &out)
	end := time.Now()
	if !span.Start.IsZero() {
		// Timed on the interpreter's thread: the hand-offs to and from it
		// are the tool's latency (waking an idle core's thread costs up to
		// hundreds of microseconds on a VM), not the engine's.
		start, end = span.Start, span.End
	}
	row.StartedAt = start.UTC()
	row.WallS = end.Sub(start).Seconds()
	if w.gpu != nil {
		row.GPU = w.gpu.Stats(start, end)
	}
	if w.hostMon != nil {
		hostTo := end
		if s, err := w.hostMon.SampleNow(); err == nil {
			hostTo = s.At
		}
		if hostFrom.IsZero() {
			hostFrom = start
		}
		hs := w.hostMon.Stats(hostFrom, hostTo)
		row.Host = &hs
	}
	if err != nil {
		row.Error = describe(err)
		row.Tally(w.load.InputLen, w.load.OutputLen)
		return row
	}
	row.EngineS = &out.EngineS
	overhead := row.WallS - out.EngineS
	row.HostOverheadS = &overhead
	var col collected
	keep := map[string]bool{"keep_ids": results.KeepsOutputIDs(c.Rep, c.Warmup)}
	if err := w.host.CallJSON(ctx, w.module, "collect", keep, &col); err != nil {
		row.Error = "collecting the batch's outputs: " + describe(err)
	}
	row.Detail = col.Requests
	row.Tally(w.load.InputLen, w.load.OutputLen)
	return row
}

func (w *worker) closeEngine(ctx context.Context) error {
	if w.host == nil {
		return nil
	}
	var err error
	if w.loaded {
		w.loaded = false
		err = w.host.CallJSON(ctx, w.module, "close", nil, nil)
	}
	if cerr := w.host.Close(ctx); err == nil && cerr != nil && !errors.Is(cerr, pyhost.ErrClosed) {
		err = cerr
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
	if w.host != nil && fe.Kind != protocol.FailInterrupted {
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
