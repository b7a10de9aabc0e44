package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/engine"
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/runner"
	"github.com/enginebench/enginebench/offline/sysinfo"
	"github.com/enginebench/enginebench/offline/workload"
	"github.com/enginebench/enginebench/pyhost"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run the same token-ID workload through several engines and compare them",
		UsageText: "enginebench run --engine vllm=/venvs/vllm/bin/python --engine sglang=/venvs/sglang/bin/python --model DIR [flags]",
		Description: "Each engine runs in a worker process of its own, one after another, over the batch-size sweep:\n" +
			"warm-up batches, then --reps measured repetitions per batch size, each with fresh prompts.\n" +
			"Results are appended to OUT/results.jsonl as each batch ends; OUT/manifest.json records how to\n" +
			"reproduce the run; the comparison table goes to stdout and OUT/report.txt.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "engine", Usage: "`NAME[=PYTHON]` to run (repeatable; " + strings.Join(engine.Names(), ", ") + "); PYTHON is a python or venv, default $ENGINEBENCH_PYTHON, then python3"},
			&cli.StringFlag{Name: "model", Usage: "model directory (or hub id, with --vocab-size)", Required: true},
			&cli.StringFlag{Name: "dtype", Usage: "dtype every engine uses (default: the model config's)"},
			&cli.IntFlag{Name: "vocab-size", Usage: "vocabulary size, when --model is not a local directory"},
			&cli.StringFlag{Name: "batch-sizes", Value: "1,8,32", Usage: "comma-separated batch sizes to sweep"},
			&cli.IntFlag{Name: "input-len", Value: 128, Usage: "prompt length in tokens"},
			&cli.IntFlag{Name: "output-len", Value: 128, Usage: "tokens to generate per prompt"},
			&cli.IntFlag{Name: "reps", Value: 3, Usage: "measured repetitions per batch size"},
			&cli.IntFlag{Name: "warmup", Value: 1, Usage: "warm-up batches per batch size, excluded from figures"},
			&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the prompts and of every engine"},
			&cli.Float64Flag{Name: "temperature", Value: 0, Usage: "sampling temperature (0: greedy)"},
			&cli.Float64Flag{Name: "top-p", Value: 1, Usage: "nucleus sampling top-p"},
			&cli.StringFlag{Name: "out", Usage: "output directory (default results/run-<time>)"},
			&cli.StringSliceFlag{Name: "engine-arg", Usage: "`'NAME: key=value, ...'` engine keyword arguments as Python literals (repeatable)"},
			&cli.StringSliceFlag{Name: "engine-env", Usage: "`'NAME: KEY=VALUE'` environment for an engine's worker (repeatable)"},
			&cli.DurationFlag{Name: "load-timeout", Value: 30 * time.Minute, Usage: "kill an engine that takes longer to load"},
			&cli.DurationFlag{Name: "batch-timeout", Value: 30 * time.Minute, Usage: "kill an engine whose batch takes longer"},
			&cli.BoolFlag{Name: "resume", Usage: "skip cells already measured in --out (same workload hash)"},
			&cli.DurationFlag{Name: "sample-interval", Value: 50 * time.Millisecond, Usage: "GPU and host sampling interval"},
			&cli.StringFlag{Name: "gpus", Usage: "GPUs to sample: NVML indexes or UUIDs, e.g. 0,1 (default: all, or CUDA_VISIBLE_DEVICES)"},
			&cli.BoolFlag{Name: "require-gpu", Usage: "fail when there are no GPU metrics"},
			&cli.StringFlag{Name: "baseline", Usage: "engine `NAME` the ratio table divides by (default: the first --engine)"},
		},
		Action: runAction,
	}
}

// runConfig is everything the run flags say, validated.
type runConfig struct {
	engines  []runner.Engine
	model    *modelSpec
	spec     workload.Spec
	sampling protocol.Sampling
	out      string
	resume   bool
	gpus     []string
	baseline string
}

func runAction(c *cli.Context) error {
	ctx := c.Context
	rc, err := parseRunFlags(c)
	if err != nil {
		return usageError("%v", err)
	}
	if err := prepareOutDir(rc.out, rc.resume); err != nil {
		return usageError("%v", err)
	}
	wl, err := workload.Generate(rc.spec)
	if err != nil {
		return usageError("%v", err)
	}
	wlPath := filepath.Join(rc.out, runner.WorkloadFile)
	if err := checkResumable(rc, wl); err != nil {
		return usageError("%v", err)
	}
	if err := wl.Write(wlPath); err != nil {
		return err
	}
	work, err := runner.SelfWorker()
	if err != nil {
		return err
	}
	cfg := &runner.Config{
		Engines:        rc.engines,
		Model:          rc.model.path,
		Dtype:          rc.model.dtype,
		Workload:       wl,
		WorkloadPath:   wlPath,
		Sampling:       rc.sampling,
		OutDir:         rc.out,
		Resume:         rc.resume,
		LoadTimeout:    c.Duration("load-timeout"),
		BatchTimeout:   c.Duration("batch-timeout"),
		SampleInterval: c.Duration("sample-interval"),
		GPUs:           rc.gpus,
		RequireGPU:     c.Bool("require-gpu"),
		Worker:         work,
		Manifest:       newManifest(c, rc, wl),
		Progress:       c.App.ErrWriter,
	}
	fmt.Fprintf(c.App.ErrWriter, "enginebench: workload %s (%d prompts of %d tokens), output in %s\n", wl.SHA256[:16], len(wl.Prompts), rc.spec.InputLen, rc.out)
	fmt.Fprintln(c.App.ErrWriter, "enginebench: checking every engine before loading any model")
	if err := runner.Preflight(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			return cli.Exit("interrupted", exitInterrupted)
		}
		return usageError("%v", err)
	}
	outcome, err := runner.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := writeReport(c.App.Writer, rc.out); err != nil {
		return err
	}
	switch {
	case outcome.Interrupted:
		return cli.Exit(fmt.Sprintf("interrupted; everything measured is in %s", rc.out), exitInterrupted)
	case len(outcome.Failed) > 0:
		names := make([]string, len(outcome.Failed))
		for i, f := range outcome.Failed {
			names[i] = f.Engine
		}
		return cli.Exit(fmt.Sprintf("engine(s) failed: %s (details above and in %s)", strings.Join(names, ", "), filepath.Join(rc.out, runner.ManifestFile)), exitFailure)
	}
	return nil
}

func parseRunFlags(c *cli.Context) (*runConfig, error) {
	if c.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: flags go before any argument, and run takes none", c.Args().Slice())
	}
	var errs []error
	rc := &runConfig{resume: c.Bool("resume")}
	bs, err := parseInts(c.String("batch-sizes"))
	if err != nil {
		errs = append(errs, fmt.Errorf("--batch-sizes: %w", err))
	}
	args, err := parseEngineArgs(c.StringSlice("engine-arg"))
	if err != nil {
		errs = append(errs, err)
	}
	envs, err := parseEngineEnv(c.StringSlice("engine-env"))
	if err != nil {
		errs = append(errs, err)
	}
	model, err := loadModel(c.String("model"), c.String("dtype"), c.Int("vocab-size"))
	if err != nil {
		errs = append(errs, err)
	}
	rc.model = model
	var extraEnv map[string]string
	if model != nil && model.local {
		extraEnv = engine.OfflineEnv
	}
	engines, err := parseEngines(c.Context, c.StringSlice("engine"), args, envs, extraEnv)
	if err != nil {
		errs = append(errs, err)
	}
	rc.engines = engines
	rc.baseline = strings.TrimSpace(c.String("baseline"))
	if rc.baseline != "" && len(engines) > 0 {
		if err := checkBaseline(rc.baseline, engines); err != nil {
			errs = append(errs, err)
		}
	}
	if model != nil {
		rc.spec = workload.Spec{
			Seed:       c.Int64("seed"),
			InputLen:   c.Int("input-len"),
			OutputLen:  c.Int("output-len"),
			VocabSize:  model.vocabSize,
			Exclude:    model.special,
			BatchSizes: bs,
			Reps:       c.Int("reps"),
			Warmup:     c.Int("warmup"),
		}
		model.outputLen = rc.spec.OutputLen
		if err := rc.spec.Validate(); err != nil {
			errs = append(errs, err)
		}
		if model.maxLen > 0 && rc.spec.InputLen+rc.spec.OutputLen > model.maxLen {
			errs = append(errs, fmt.Errorf("--input-len + --output-len = %d exceeds the model's max_position_embeddings %d", rc.spec.InputLen+rc.spec.OutputLen, model.maxLen))
		}
	}
	rc.sampling = protocol.Sampling{Temperature: c.Float64("temperature"), TopP: c.Float64("top-p"), Seed: c.Int64("seed")}
	if rc.sampling.Temperature < 0 {
		errs = append(errs, fmt.Errorf("--temperature %v: must be >= 0", rc.sampling.Temperature))
	}
	if rc.sampling.TopP <= 0 || rc.sampling.TopP > 1 {
		errs = append(errs, fmt.Errorf("--top-p %v: must be in (0, 1]", rc.sampling.TopP))
	}
	for _, g := range strings.Split(c.String("gpus"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			rc.gpus = append(rc.gpus, g)
		}
	}
	for _, d := range []string{"load-timeout", "batch-timeout", "sample-interval"} {
		if c.Duration(d) <= 0 {
			errs = append(errs, fmt.Errorf("--%s %v: must be positive", d, c.Duration(d)))
		}
	}
	rc.out = c.String("out")
	if rc.out == "" {
		rc.out = filepath.Join("results", "run-"+time.Now().Format("20060102-150405"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return rc, nil
}

// parseEngines turns --engine NAME[=PYTHON] values into engines with a
// located interpreter each: a missing python, or one without libpython,
// fails here, before anything starts.
func parseEngines(ctx context.Context, values []string, args map[string]json.RawMessage, envs map[string]map[string]string, extraEnv map[string]string) ([]runner.Engine, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("no --engine given: name at least one of %s, e.g. --engine transformers=/path/to/venv/bin/python", strings.Join(engine.Names(), ", "))
	}
	var errs []error
	var out []runner.Engine
	seen := map[string]bool{}
	for _, v := range values {
		name, python, _ := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		e, err := engine.Lookup(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("--engine %s: %w", v, err))
			continue
		}
		if seen[name] {
			errs = append(errs, fmt.Errorf("--engine %s: engine %s given twice", v, name))
			continue
		}
		seen[name] = true
		in, err := pyhost.Locate(ctx, strings.TrimSpace(python))
		if err != nil {
			errs = append(errs, fmt.Errorf("--engine %s: %w", v, err))
			continue
		}
		out = append(out, runner.Engine{Name: name, Python: in.Executable, UserArgs: args[name], Env: e.Environment(extraEnv, envs[name])})
	}
	for name := range args {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("--engine-arg for %s, which is not among the --engine values", name))
		}
	}
	for name := range envs {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("--engine-env for %s, which is not among the --engine values", name))
		}
	}
	return out, errors.Join(errs...)
}

// checkBaseline refuses a --baseline that names none of the run's engines.
func checkBaseline(name string, engines []runner.Engine) error {
	names := make([]string, len(engines))
	for i, e := range engines {
		if e.Name == name {
			return nil
		}
		names[i] = e.Name
	}
	return fmt.Errorf("--baseline %s: not among the --engine values (%s); name one of them", name, strings.Join(names, ", "))
}

// parseEngineEnv parses 'NAME: KEY=VALUE' values.
func parseEngineEnv(values []string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	var errs []error
	for _, v := range values {
		name, kv, ok := strings.Cut(v, ":")
		key, val, ok2 := strings.Cut(strings.TrimSpace(kv), "=")
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		if !ok || !ok2 || key == "" {
			errs = append(errs, fmt.Errorf("--engine-env %q: want 'NAME: KEY=VALUE', e.g. 'vllm: VLLM_CPU_KVCACHE_SPACE=1'", v))
			continue
		}
		if _, err := engine.Lookup(name); err != nil {
			errs = append(errs, fmt.Errorf("--engine-env %q: %w", v, err))
			continue
		}
		if out[name] == nil {
			out[name] = map[string]string{}
		}
		out[name][key] = val
	}
	return out, errors.Join(errs...)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q holds no numbers", s)
	}
	return out, nil
}

// prepareOutDir creates the output directory. An existing results file is
// never appended to by accident: that takes --resume.
func prepareOutDir(out string, resume bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if _, err := os.Stat(filepath.Join(out, runner.ResultsFile)); err == nil && !resume {
		return fmt.Errorf("--out %s already holds results: pass --resume to continue that run, or choose another --out", out)
	}
	return nil
}

// checkResumable refuses to resume into results of another workload.
func checkResumable(rc *runConfig, wl *workload.Workload) error {
	if !rc.resume {
		return nil
	}
	m, err := results.ReadManifest(filepath.Join(rc.out, runner.ManifestFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	if m.Workload.SHA256 != "" && m.Workload.SHA256 != wl.SHA256 {
		return fmt.Errorf("--resume: %s holds a run of workload %s, these flags give %s: use the same model, lengths, batch sizes, reps, warm-up and seed, or another --out", rc.out, m.Workload.SHA256[:16], wl.SHA256[:16])
	}
	return nil
}

func newManifest(c *cli.Context, rc *runConfig, wl *workload.Workload) *results.Manifest {
	m := &results.Manifest{
		Tool:        results.Tool{Name: "enginebench", Version: versionString(), GoVersion: runtime.Version()},
		CommandLine: os.Args,
		StartedAt:   time.Now().UTC(),
		Host:        sysinfo.Host(),
		Model:       rc.model.manifest(),
		Workload: results.Workload{
			SHA256: wl.SHA256, Seed: rc.spec.Seed, InputLen: rc.spec.InputLen, OutputLen: rc.spec.OutputLen,
			BatchSizes: rc.spec.BatchSizes, Reps: rc.spec.Reps, Warmup: rc.spec.Warmup, Prompts: len(wl.Prompts),
			VocabSize: rc.spec.VocabSize, ExcludedTokens: wl.Spec.Exclude,
		},
		Sampling: results.Sampling{Temperature: rc.sampling.Temperature, TopP: rc.sampling.TopP, Seed: rc.sampling.Seed, IgnoreEOS: true},
		Baseline: rc.baseline,
	}
	if m.Workload.ExcludedTokens == nil {
		m.Workload.ExcludedTokens = []int{}
	}
	var earlier *results.Manifest
	if rc.resume {
		earlier, _ = results.ReadManifest(filepath.Join(rc.out, runner.ManifestFile))
	}
	for _, e := range rc.engines {
		entry := results.Engine{Name: e.Name, Python: e.Python, UserArgs: e.UserArgs, LogFile: runner.LogFile(e.Name)}
		// A resumed run keeps what the earlier run learnt of an engine (its
		// versions, configuration, load time) until the engine runs again.
		if earlier != nil {
			for _, old := range earlier.Engines {
				if old.Name == e.Name && old.Python == e.Python {
					entry = old
					entry.Error = ""
					entry.Notes = append(entry.Notes, "resumed from an earlier run")
				}
			}
			m.StartedAt = earlier.StartedAt
			m.GPU = earlier.GPU
		}
		entry.Status = results.EngineQueued
		m.Engines = append(m.Engines, entry)
	}
	return m
}
