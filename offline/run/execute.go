package run

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// Execute runs the plan. It returns an *InputError for what the user must
// fix (found before any model loads) and another error only when the run
// cannot go on at all (the output directory fails); engine and batch
// failures are in the Outcome.
func Execute(ctx context.Context, p *Plan, opt Options) (*Outcome, error) {
	x := &execution{plan: p, opt: opt}
	wl := p.Workload
	if wl == nil {
		var err error
		if wl, err = workload.Generate(p.Spec); err != nil {
			return nil, &InputError{err}
		}
	}
	x.wl = wl
	dir, err := OpenDir(p.Out, p.Resume)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	x.dir = dir
	for _, n := range dir.Notes {
		x.progress("enginebench: %s", n)
	}
	x.manifest = newManifest(p, wl)
	var earlier *results.Manifest
	measured := map[string]bool{}
	x.done = map[results.Key]bool{}
	if p.Resume {
		if earlier, err = dir.ReadManifest(); err != nil {
			return nil, &InputError{fmt.Errorf("--resume: %w", err)}
		}
		rows, err := dir.Rows()
		if err != nil {
			return nil, &InputError{fmt.Errorf("--resume: %w", err)}
		}
		for _, r := range rows {
			measured[r.Engine] = true
			if r.WorkloadSHA256 == wl.SHA256 && r.Error == "" {
				x.done[r.Key()] = true
			}
		}
		if earlier != nil {
			if x.manifest, err = resumeManifest(p.Out, x.manifest, earlier, measured); err != nil {
				return nil, &InputError{err}
			}
		}
	}
	if err := wl.Write(dir.File(WorkloadFile)); err != nil {
		return nil, err
	}
	if wl.Spec.IsProgram() {
		x.progress("enginebench: workload %s (%d programs of %s), output in %s", wl.SHA256[:16], len(wl.Arguments), wl.Spec.Program.File, p.Out)
	} else if wl.VariesInLength() {
		l := wl.LengthStats()
		x.progress("enginebench: workload %s (%d prompts of %d-%d tokens, mean %.0f), output in %s", wl.SHA256[:16], len(wl.Prompts), l.MinPrompt, l.MaxPrompt, l.MeanPrompt, p.Out)
	} else {
		x.progress("enginebench: workload %s (%d prompts of %d tokens), output in %s", wl.SHA256[:16], len(wl.Prompts), p.Spec.PromptLen(), p.Out)
	}
	x.progress("enginebench: checking every engine before loading any model")
	checked, err := x.preflight(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return &Outcome{Interrupted: true}, nil
		}
		return nil, &InputError{err}
	}
	if earlier != nil {
		if diffs := versionsDiff(earlier, checked, measured); len(diffs) > 0 {
			return nil, &InputError{fmt.Errorf("--resume: %s was measured with other engine versions; resuming would mix them in one table:\n  %s\nrun the earlier venvs, or choose another --out", p.Out, strings.Join(diffs, "\n  "))}
		}
	}
	return x.run(ctx)
}

// execution is one Execute in progress.
type execution struct {
	plan     *Plan
	opt      Options
	wl       *workload.Workload
	dir      *Dir
	manifest *results.Manifest
	// done holds the cells the directory already has clean rows of.
	done map[results.Key]bool
	// progressMu serialises progress lines: the pre-flight checks run at once.
	progressMu sync.Mutex
}

func (x *execution) progress(format string, a ...any) {
	x.progressMu.Lock()
	defer x.progressMu.Unlock()
	if x.opt.Progress != nil {
		fmt.Fprintf(x.opt.Progress, format+"\n", a...)
	}
}

func (x *execution) writeManifest() error {
	return results.WriteManifest(x.dir.File(ManifestFile), x.manifest)
}

func (x *execution) loadRequest(e EngineSpec, checkOnly bool) *protocol.LoadRequest {
	p := x.plan
	req := &protocol.LoadRequest{
		Engine:         e.Name,
		Python:         e.Python,
		CheckOnly:      checkOnly,
		Model:          p.Model.Path,
		Dtype:          p.Model.Dtype,
		Seed:           p.Spec.Seed,
		MaxModelLen:    x.wl.MaxTotalLen(),
		MaxBatchSize:   p.maxBatchSize(),
		InputLen:       x.wl.MaxPromptLen(),
		PrefixCaching:  p.Spec.SharesPrefixes(),
		OutputLen:      x.wl.MaxOutputLen(),
		Sampling:       p.Sampling,
		UserArgs:       e.UserArgs,
		WorkloadPath:   x.dir.File(WorkloadFile),
		WorkloadSHA256: x.wl.SHA256,
		PythonPaths:    p.PythonPaths,
		Env:            e.Env,
		SampleInterval: p.SampleInterval,
		GPUs:           p.GPUs,
		RequireGPU:     p.RequireGPU,
	}
	if x.wl.Spec.IsProgram() {
		// A program's prompts and gens are its own: the engine gets the
		// model's whole context.
		req.Program, req.ProgramFeatures = true, x.wl.Features
		req.MaxModelLen, req.InputLen, req.OutputLen = p.Model.ContextLen, 0, 0
	}
	return req
}

// preflight starts every engine's worker in check mode, all at once: each
// imports its engine and checks the arguments against the installed
// engine's own signature, loading no model. It returns what each engine
// reported, or every problem found, joined.
func (x *execution) preflight(ctx context.Context) (map[string]*protocol.EngineInfo, error) {
	var wg sync.WaitGroup
	engines := x.plan.Engines
	infos := make([]*protocol.EngineInfo, len(engines))
	errs := make([]error, len(engines))
	for i, e := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			infos[i], errs[i] = x.check(ctx, e)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := map[string]*protocol.EngineInfo{}
	for i, e := range engines {
		out[e.Name] = infos[i]
	}
	return out, nil
}

func (x *execution) check(ctx context.Context, e EngineSpec) (*protocol.EngineInfo, error) {
	p, err := startProc(x.opt.Worker, e.Name, x.dir.File(LogFile(e.Name)))
	if err != nil {
		return nil, err
	}
	defer p.shutdown(5 * time.Second)
	if err := p.send(protocol.Request{Type: protocol.TypeLoad, Load: x.loadRequest(e, true)}); err != nil {
		return nil, err
	}
	ev, err := p.await(ctx, x.plan.LoadTimeout)
	if err != nil {
		return nil, err
	}
	if ev.Type != protocol.TypeChecked || ev.Checked == nil {
		return nil, fmt.Errorf("engine %s: worker answered %q to a check", e.Name, ev.Type)
	}
	x.progress("[%s] ok: %s", e.Name, versionLine(ev.Checked))
	return ev.Checked, nil
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

// run runs every engine of the plan in turn.
func (x *execution) run(ctx context.Context) (*Outcome, error) {
	w, err := results.Append(x.dir.File(ResultsFile))
	if err != nil {
		return nil, err
	}
	defer w.Close()
	out := &Outcome{Ran: true}
	for _, e := range x.plan.Engines {
		m := x.manifestEngine(e.Name)
		m.Status = results.EngineRunning
		if err := x.writeManifest(); err != nil {
			return out, err
		}
		cells := pending(x.wl.Cells, e.Name, x.done)
		if len(cells) == 0 {
			x.progress("[%s] every cell already measured; skipped (--resume)", e.Name)
			m.Status = results.EngineDone
			m.Notes = append(m.Notes, "all cells measured by an earlier run (--resume)")
			continue
		}
		werr, err := x.runEngine(ctx, e, m, cells, w)
		if err != nil {
			return out, err
		}
		for _, fb := range m.FailedBatches {
			out.FailedBatches = append(out.FailedBatches, fmt.Sprintf("%s %s", e.Name, cellName(fb.BatchSize, fb.Rep, fb.Warmup)))
		}
		switch {
		case werr != nil:
			m.Status, m.Error = results.EngineFailed, werr.Error()
			out.Failed = append(out.Failed, werr)
			x.progress("%s", werr.Error())
		default:
			m.Status = results.EngineDone
		}
		if ctx.Err() != nil {
			out.Interrupted = true
			m.Status = results.EngineFailed
			if m.Error == "" {
				m.Error = "interrupted"
			}
			return out, x.writeManifest()
		}
		if err := x.writeManifest(); err != nil {
			return out, err
		}
	}
	return out, x.writeManifest()
}

// pending is the cells of engine still to measure, in run order. A batch
// size with measured cells to run gets its warm-up cells again, even those
// measured before: a resumed engine starts in a fresh process, and its
// first batch would otherwise be measured cold.
func pending(cells []workload.Cell, engine string, done map[results.Key]bool) []workload.Cell {
	key := func(c workload.Cell) results.Key {
		return results.Key{Engine: engine, BatchSize: c.BatchSize, Rep: c.Rep, Warmup: c.Warmup}
	}
	needed := map[int]bool{}
	for _, c := range cells {
		if !c.Warmup && !done[key(c)] {
			needed[c.BatchSize] = true
		}
	}
	var out []workload.Cell
	for _, c := range cells {
		if needed[c.BatchSize] && (c.Warmup || !done[key(c)]) {
			out = append(out, c)
		}
	}
	return out
}

// maxCached is the most a prefix cache could serve in cell cl; nil when the
// workload shares no prefixes.
func (x *execution) maxCached(cl workload.Cell) *int {
	if !x.wl.Spec.SharesPrefixes() {
		return nil
	}
	i := slices.Index(x.wl.Cells, cl)
	if i < 0 {
		return nil
	}
	n := x.wl.MaxCachedTokens()[i]
	return &n
}

func (x *execution) manifestEngine(name string) *results.Engine {
	for i := range x.manifest.Engines {
		if x.manifest.Engines[i].Name == name {
			return &x.manifest.Engines[i]
		}
	}
	panic("run: engine " + name + " is not in the manifest")
}

// runEngine runs one engine's cells in a fresh worker. A failure of the
// engine is returned as a *WorkerError; an error is returned only when the
// results cannot be written.
func (x *execution) runEngine(ctx context.Context, e EngineSpec, m *results.Engine, cells []workload.Cell, w *results.Writer) (*WorkerError, error) {
	p, err := startProc(x.opt.Worker, e.Name, x.dir.File(LogFile(e.Name)))
	if err != nil {
		return &WorkerError{Engine: e.Name, What: err.Error()}, nil
	}
	grace := x.plan.grace()
	defer p.shutdown(grace)
	m.WorkerPID = p.cmd.Process.Pid
	x.progress("[%s] loading %s", e.Name, x.plan.Model.Path)
	if err := p.send(protocol.Request{Type: protocol.TypeLoad, Load: x.loadRequest(e, false)}); err != nil {
		return asWorkerError(err, e.Name), nil
	}
	ev, err := p.await(ctx, x.plan.LoadTimeout)
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
	x.recordLoad(m, ev.Loaded)
	if err := x.writeManifest(); err != nil {
		return nil, err
	}
	x.progress("[%s] loaded in %.1fs (%s)", e.Name, ev.Loaded.LoadS, versionLine(&ev.Loaded.Info))
	for _, cl := range cells {
		if ctx.Err() != nil {
			return nil, nil
		}
		if err := p.send(protocol.Request{Type: protocol.TypeBatch, Batch: &protocol.BatchRequest{Cell: cl}}); err != nil {
			return x.failedCell(w, e, cl, asWorkerError(err, e.Name))
		}
		ev, err := p.await(ctx, x.plan.BatchTimeout)
		if err != nil && ctx.Err() != nil {
			// Ctrl-C: let the worker interrupt the call and report the batch.
			p.interrupt()
			ev, err = p.await(context.Background(), grace)
			if err != nil {
				p.kill()
				return x.failedCell(w, e, cl, &WorkerError{Engine: e.Name, What: "interrupted; the worker did not stop in time and was killed"})
			}
		}
		if err != nil {
			return x.failedCell(w, e, cl, asWorkerError(err, e.Name))
		}
		if ev.Type != protocol.TypeResult || ev.Result == nil {
			return &WorkerError{Engine: e.Name, What: fmt.Sprintf("worker answered %q to a batch", ev.Type)}, nil
		}
		row := rowOf(e.Name, x.wl, ev.Result, cl, x.maxCached(cl))
		if err := w.Write(row); err != nil {
			return nil, err
		}
		if row.Error != "" && ctx.Err() == nil {
			m.FailedBatches = append(m.FailedBatches, results.FailedBatch{BatchSize: row.BatchSize, Rep: row.Rep, Warmup: row.Warmup, Error: firstLine(row.Error)})
		}
		x.progress("[%s] %s", e.Name, describeRow(row))
	}
	if err := p.send(protocol.Request{Type: protocol.TypeClose}); err == nil {
		if _, err := p.await(context.Background(), grace); err != nil {
			m.Notes = append(m.Notes, "closing the engine: "+err.Error())
		}
	}
	return nil, nil
}

// failedCell records the cell the worker failed on as a row with the error,
// so nothing about the run is hidden, and returns the failure.
func (x *execution) failedCell(w *results.Writer, e EngineSpec, cl workload.Cell, we *WorkerError) (*WorkerError, error) {
	row := rowOf(e.Name, x.wl, &protocol.BatchResult{Cell: cl, StartedAt: time.Now().UTC(), Error: we.What}, cl, x.maxCached(cl))
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

func (x *execution) recordLoad(m *results.Engine, l *protocol.LoadedEvent) {
	info := l.Info
	m.PythonVersion = info.PythonVersion
	m.Versions = info.Versions
	m.ConstructorArgs = info.ConstructorArgs
	m.EffectiveConfig = info.EffectiveConfig
	m.Reservation = info.Reservation
	m.KVCacheTokens = info.KVCacheTokens
	m.TensorParallel = info.TensorParallel
	m.CacheBlockTokens = info.CacheBlockTokens
	load := l.LoadS
	m.LoadS = &load
	m.Notes = append(m.Notes, info.Notes...)
	m.GPUBeforeLoad, m.GPUAfterLoad = l.GPUBefore, l.GPUAfter
	if len(l.GPU.Devices) > 0 || l.GPU.NoMetricsReason != "" {
		x.manifest.GPU = mergeGPU(x.manifest.GPU, l.GPU)
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

func cellName(bs, rep int, warmup bool) string {
	kind := "rep"
	if warmup {
		kind = "warm-up"
	}
	return fmt.Sprintf("bs=%d %s %d", bs, kind, rep)
}

func describeRow(r *results.Row) string {
	s := cellName(r.BatchSize, r.Rep, r.Warmup) + ": "
	if r.Error != "" {
		return s + "FAILED: " + firstLine(r.Error)
	}
	s += fmt.Sprintf("%.3fs, %.1f output tok/s", r.WallS, r.OutputTokensPerS())
	if p := r.Programs; p != nil {
		s += fmt.Sprintf(", %.2f programs/s", r.ProgramsPerS())
		if p.Valid != nil {
			s += fmt.Sprintf(", %d of %d valid", *p.Valid, p.Programs)
		}
	}
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
