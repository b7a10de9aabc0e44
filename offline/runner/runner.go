// Package runner is the parent side of a run: it starts one worker process
// per engine, one after another, feeds each the same workload cell by cell,
// appends every result to results.jsonl as it arrives, and keeps the
// manifest current. A worker that crashes, hangs or fails is reported with
// its exit status and log tail; the other engines' results are kept and the
// run goes on.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// Engine is one engine to run.
type Engine struct {
	Name   string
	Python string
	// UserArgs are the --engine-arg keyword arguments, a JSON object.
	UserArgs json.RawMessage
	Env      map[string]string
}

// Config is a whole run.
type Config struct {
	Engines  []Engine
	Model    string
	Dtype    string
	Workload *workload.Workload
	// WorkloadPath is where the workload file was written.
	WorkloadPath string
	Sampling     protocol.Sampling
	OutDir       string
	// Resume skips cells that already have a clean row in results.jsonl.
	Resume bool
	// Timeouts: a worker silent for longer is killed and reported hung.
	LoadTimeout  time.Duration
	BatchTimeout time.Duration
	// InterruptGrace is how long an interrupted worker gets to stop.
	InterruptGrace time.Duration
	SampleInterval time.Duration
	GPUs           []string
	RequireGPU     bool
	PythonPaths    []string
	Worker         WorkerCommand
	// Manifest is the run's manifest, filled in by the caller with what it
	// knows; the runner adds each engine as it runs and rewrites it.
	Manifest *results.Manifest
	// Progress receives one line per event a user watching wants to see.
	Progress io.Writer
}

// Paths inside the output directory.
const (
	ResultsFile  = "results.jsonl"
	ManifestFile = "manifest.json"
	WorkloadFile = "workload.json"
	ReportFile   = "report.txt"
)

// LogFile is the log of one engine's worker.
func LogFile(engine string) string { return engine + ".log" }

// Outcome summarizes a run.
type Outcome struct {
	// Failed lists the engines that failed, with why.
	Failed []*WorkerError
	// Interrupted is true when the run was stopped by its context.
	Interrupted bool
}

func (c *Config) loadRequest(e Engine, checkOnly bool) *protocol.LoadRequest {
	spec := c.Workload.Spec
	maxBS := 0
	for _, b := range spec.BatchSizes {
		maxBS = max(maxBS, b)
	}
	return &protocol.LoadRequest{
		Engine:         e.Name,
		Python:         e.Python,
		CheckOnly:      checkOnly,
		Model:          c.Model,
		Dtype:          c.Dtype,
		Seed:           spec.Seed,
		MaxModelLen:    spec.InputLen + spec.OutputLen,
		MaxBatchSize:   maxBS,
		InputLen:       spec.InputLen,
		OutputLen:      spec.OutputLen,
		Sampling:       c.Sampling,
		UserArgs:       e.UserArgs,
		WorkloadPath:   c.WorkloadPath,
		WorkloadSHA256: c.Workload.SHA256,
		PythonPaths:    c.PythonPaths,
		Env:            e.Env,
		SampleInterval: c.SampleInterval,
		GPUs:           c.GPUs,
		RequireGPU:     c.RequireGPU,
	}
}

func (c *Config) progress(format string, a ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", a...)
	}
}

// Preflight starts every engine's worker in check mode, all at once: each
// imports its engine and checks the arguments against the installed
// engine's own signature, loading no model. It returns every problem found,
// joined.
func Preflight(ctx context.Context, c *Config) error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Engines))
	for i, e := range c.Engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.check(ctx, e)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Config) check(ctx context.Context, e Engine) error {
	p, err := startProc(c.Worker, e.Name, filepath.Join(c.OutDir, LogFile(e.Name)))
	if err != nil {
		return err
	}
	defer p.shutdown(5 * time.Second)
	if err := p.send(protocol.Request{Type: protocol.TypeLoad, Load: c.loadRequest(e, true)}); err != nil {
		return err
	}
	ev, err := p.await(ctx, c.LoadTimeout)
	if err != nil {
		return err
	}
	if ev.Type != protocol.TypeChecked {
		return fmt.Errorf("engine %s: worker answered %q to a check", e.Name, ev.Type)
	}
	c.progress("[%s] ok: %s", e.Name, versionLine(ev.Checked))
	return nil
}

func versionLine(info *protocol.EngineInfo) string {
	if info == nil {
		return ""
	}
	keys := make([]string, 0, len(info.Versions))
	for k := range info.Versions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{"python " + info.PythonVersion}
	for _, k := range keys {
		parts = append(parts, k+" "+info.Versions[k])
	}
	return strings.Join(parts, ", ")
}

// Run runs every engine in turn. It returns an error only when it cannot go
// on at all (the output directory fails); engine failures are in Outcome.
func Run(ctx context.Context, c *Config) (*Outcome, error) {
	done := map[results.Key]bool{}
	if c.Resume {
		rows, _, err := results.Read(filepath.Join(c.OutDir, ResultsFile))
		if err != nil && !isNotExist(err) {
			return nil, err
		}
		for _, r := range rows {
			if r.WorkloadSHA256 == c.Workload.SHA256 && r.Error == "" {
				done[r.Key()] = true
			}
		}
	}
	w, err := results.Append(filepath.Join(c.OutDir, ResultsFile))
	if err != nil {
		return nil, err
	}
	defer w.Close()
	out := &Outcome{}
	for i, e := range c.Engines {
		m := c.manifestEngine(i)
		m.Status = results.EngineRunning
		if err := c.writeManifest(); err != nil {
			return out, err
		}
		cells := pending(c.Workload.Cells, e.Name, done)
		if len(cells) == 0 {
			c.progress("[%s] every cell already measured; skipped (--resume)", e.Name)
			m.Status = results.EngineDone
			m.Notes = append(m.Notes, "all cells measured by an earlier run (--resume)")
			continue
		}
		werr, err := c.runEngine(ctx, e, m, cells, w)
		if err != nil {
			return out, err
		}
		switch {
		case werr != nil:
			m.Status, m.Error = results.EngineFailed, werr.Error()
			out.Failed = append(out.Failed, werr)
			c.progress("%s", werr.Error())
		default:
			m.Status = results.EngineDone
		}
		if ctx.Err() != nil {
			out.Interrupted = true
			m.Status = results.EngineFailed
			if m.Error == "" {
				m.Error = "interrupted"
			}
			if err := c.writeManifest(); err != nil {
				return out, err
			}
			return out, nil
		}
		if err := c.writeManifest(); err != nil {
			return out, err
		}
	}
	return out, c.writeManifest()
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

func pending(cells []workload.Cell, engine string, done map[results.Key]bool) []workload.Cell {
	var out []workload.Cell
	for _, cl := range cells {
		if !done[results.Key{Engine: engine, BatchSize: cl.BatchSize, Rep: cl.Rep, Warmup: cl.Warmup}] {
			out = append(out, cl)
		}
	}
	return out
}

func (c *Config) manifestEngine(i int) *results.Engine {
	return &c.Manifest.Engines[i]
}

func (c *Config) writeManifest() error {
	return results.WriteManifest(filepath.Join(c.OutDir, ManifestFile), c.Manifest)
}

// runEngine runs one engine's cells in a fresh worker. A failure of the
// engine is returned as a *WorkerError; an error is returned only when the
// results cannot be written.
func (c *Config) runEngine(ctx context.Context, e Engine, m *results.Engine, cells []workload.Cell, w *results.Writer) (*WorkerError, error) {
	p, err := startProc(c.Worker, e.Name, filepath.Join(c.OutDir, LogFile(e.Name)))
	if err != nil {
		return &WorkerError{Engine: e.Name, What: err.Error()}, nil
	}
	defer p.shutdown(c.grace())
	m.WorkerPID = p.cmd.Process.Pid
	c.progress("[%s] loading %s", e.Name, c.Model)
	if err := p.send(protocol.Request{Type: protocol.TypeLoad, Load: c.loadRequest(e, false)}); err != nil {
		return asWorkerError(err, e.Name), nil
	}
	ev, err := p.await(ctx, c.LoadTimeout)
	if err != nil {
		if ctx.Err() != nil {
			p.interrupt()
			return &WorkerError{Engine: e.Name, What: "interrupted while loading"}, nil
		}
		return asWorkerError(err, e.Name), nil
	}
	if ev.Type != protocol.TypeLoaded || ev.Loaded == nil {
		return &WorkerError{Engine: e.Name, What: fmt.Sprintf("worker answered %q to load", ev.Type)}, nil
	}
	c.recordLoad(m, ev.Loaded)
	if err := c.writeManifest(); err != nil {
		return nil, err
	}
	c.progress("[%s] loaded in %.1fs (%s)", e.Name, ev.Loaded.LoadS, versionLine(&ev.Loaded.Info))
	for _, cl := range cells {
		if ctx.Err() != nil {
			return nil, nil
		}
		if err := p.send(protocol.Request{Type: protocol.TypeBatch, Batch: &protocol.BatchRequest{Cell: cl}}); err != nil {
			return c.failedCell(w, e, cl, asWorkerError(err, e.Name))
		}
		ev, err := p.await(ctx, c.BatchTimeout)
		if err != nil && ctx.Err() != nil {
			// Ctrl-C: let the worker interrupt the call and report the batch.
			p.interrupt()
			ev, err = p.await(context.Background(), c.grace())
			if err != nil {
				p.kill()
				return c.failedCell(w, e, cl, &WorkerError{Engine: e.Name, What: "interrupted; the worker did not stop in time and was killed"})
			}
		}
		if err != nil {
			return c.failedCell(w, e, cl, asWorkerError(err, e.Name))
		}
		if ev.Type != protocol.TypeResult || ev.Result == nil {
			return &WorkerError{Engine: e.Name, What: fmt.Sprintf("worker answered %q to a batch", ev.Type)}, nil
		}
		if err := w.Write(ev.Result); err != nil {
			return nil, err
		}
		c.progress("[%s] %s", e.Name, describeRow(ev.Result))
	}
	if err := p.send(protocol.Request{Type: protocol.TypeClose}); err == nil {
		if _, err := p.await(context.Background(), c.grace()); err != nil {
			m.Notes = append(m.Notes, "closing the engine: "+err.Error())
		}
	}
	return nil, nil
}

func (c *Config) grace() time.Duration {
	if c.InterruptGrace > 0 {
		return c.InterruptGrace
	}
	return 30 * time.Second
}

// failedCell records the cell the worker failed on as a row with the error,
// so nothing about the run is hidden, and returns the failure.
func (c *Config) failedCell(w *results.Writer, e Engine, cl workload.Cell, we *WorkerError) (*WorkerError, error) {
	row := &results.Row{
		Engine: e.Name, BatchSize: cl.BatchSize, Rep: cl.Rep, Warmup: cl.Warmup, FirstPrompt: cl.First,
		StartedAt: time.Now().UTC(), WorkloadSHA256: c.Workload.SHA256, Error: we.What,
	}
	row.Tally(c.Workload.Spec.InputLen, c.Workload.Spec.OutputLen)
	if err := w.Write(row); err != nil {
		return nil, err
	}
	return we, nil
}

func asWorkerError(err error, engine string) *WorkerError {
	var we *WorkerError
	if errors.As(err, &we) {
		return we
	}
	return &WorkerError{Engine: engine, What: err.Error()}
}

func (c *Config) recordLoad(m *results.Engine, l *protocol.LoadedEvent) {
	info := l.Info
	m.PythonVersion = info.PythonVersion
	m.Versions = info.Versions
	m.ConstructorArgs = info.ConstructorArgs
	m.EffectiveConfig = info.EffectiveConfig
	m.Reservation = info.Reservation
	m.KVCacheTokens = info.KVCacheTokens
	load := l.LoadS
	m.LoadS = &load
	m.Notes = append(m.Notes, info.Notes...)
	m.GPUBeforeLoad, m.GPUAfterLoad = l.GPUBefore, l.GPUAfter
	if len(l.GPU.Devices) > 0 || l.GPU.NoMetricsReason != "" {
		c.Manifest.GPU = mergeGPU(c.Manifest.GPU, l.GPU)
	}
}

// mergeGPU keeps the first worker's description of the GPUs; every worker
// sees the same machine.
func mergeGPU(have, got gpu.SystemInfo) gpu.SystemInfo {
	if len(have.Devices) > 0 {
		return have
	}
	return got
}

func describeRow(r *results.Row) string {
	kind := "rep"
	if r.Warmup {
		kind = "warm-up"
	}
	s := fmt.Sprintf("bs=%d %s %d: ", r.BatchSize, kind, r.Rep)
	if r.Error != "" {
		return s + "FAILED: " + firstLine(r.Error)
	}
	s += fmt.Sprintf("%.3fs, %.1f output tok/s", r.WallS, r.OutputTokensPerS())
	if len(r.Flags) > 0 {
		s += " [" + strings.Join(r.Flags, ", ") + "]"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
