package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/engine"
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/run"
	"github.com/enginebench/enginebench/offline/sysinfo"
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
		Flags: slices.Concat([]cli.Flag{
			&cli.StringFlag{Name: "workload", Usage: "run a workload `FILE` prepared by `enginebench workload prepare` (the very same token IDs) instead of drawing one"},
			&cli.StringSliceFlag{Name: "engine", Usage: "`NAME[=PYTHON]` to run (repeatable; " + strings.Join(engine.Names(), ", ") + "); PYTHON is a python or venv, default $ENGINEBENCH_PYTHON, then python3"},
			&cli.StringFlag{Name: "model", Usage: "model directory (or hub id, with --vocab-size)", Required: true},
			&cli.StringFlag{Name: "dtype", Usage: "dtype every engine uses (default: the model config's)"},
			&cli.IntFlag{Name: "vocab-size", Usage: "vocabulary size, when --model is not a local directory"},
		}, workloadFlags(), []cli.Flag{
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
		}),
		Action: runAction,
	}
}

func runAction(c *cli.Context) error {
	plan, err := parsePlan(c)
	if err != nil {
		return usageError("%v", err)
	}
	work, err := run.SelfWorker()
	if err != nil {
		return err
	}
	outcome, err := run.Execute(c.Context, plan, run.Options{Worker: work, Progress: c.App.ErrWriter})
	if err != nil {
		if run.IsInputError(err) {
			return usageError("%v", err)
		}
		return err
	}
	if outcome.Interrupted && !outcome.Ran {
		return cli.Exit("interrupted before any engine ran", exitInterrupted)
	}
	if err := writeReport(c.App.Writer, plan.Out); err != nil {
		return err
	}
	var failed []string
	for _, f := range outcome.Failed {
		failed = append(failed, f.Engine)
	}
	switch {
	case outcome.Interrupted:
		return cli.Exit(fmt.Sprintf("interrupted; everything measured is in %s", plan.Out), exitInterrupted)
	case len(failed) > 0 || len(outcome.FailedBatches) > 0:
		var parts []string
		if len(failed) > 0 {
			parts = append(parts, "engine(s) failed: "+strings.Join(failed, ", "))
		}
		if n := len(outcome.FailedBatches); n > 0 {
			parts = append(parts, fmt.Sprintf("%d batch(es) failed: %s", n, strings.Join(outcome.FailedBatches, ", ")))
		}
		return cli.Exit(fmt.Sprintf("%s (details above and in %s; --resume measures them again)", strings.Join(parts, "; "), filepath.Join(plan.Out, run.ManifestFile)), exitFailure)
	}
	return nil
}

// parsePlan turns the run flags into one validated plan; every problem
// found is reported at once.
func parsePlan(c *cli.Context) (*run.Plan, error) {
	if c.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: flags go before any argument, and run takes none", c.Args().Slice())
	}
	var errs []error
	p := &run.Plan{
		Resume:         c.Bool("resume"),
		LoadTimeout:    c.Duration("load-timeout"),
		BatchTimeout:   c.Duration("batch-timeout"),
		SampleInterval: c.Duration("sample-interval"),
		RequireGPU:     c.Bool("require-gpu"),
		CommandLine:    os.Args,
		Tool:           results.Tool{Name: "enginebench", Version: versionString(), GoVersion: runtime.Version()},
		Host:           sysinfo.Host(),
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
	if model != nil {
		p.Model = run.Model{Path: model.path, Dtype: model.dtype, Info: model.manifest()}
	}
	var extraEnv map[string]string
	if model != nil && model.local {
		extraEnv = engine.OfflineEnv
	}
	engines, err := parseEngines(c.Context, c.StringSlice("engine"), args, envs, extraEnv)
	if err != nil {
		errs = append(errs, err)
	}
	p.Engines = engines
	p.Baseline = strings.TrimSpace(c.String("baseline"))
	if p.Baseline != "" && len(engines) > 0 {
		if err := checkBaseline(p.Baseline, engines); err != nil {
			errs = append(errs, err)
		}
	}
	if model != nil {
		// A dataset's texts are tokenized by the first engine's python,
		// which has the model's tokenizer (every engine venv has
		// transformers).
		var tok *tokenizerRef
		if len(engines) > 0 && err == nil {
			tok = &tokenizerRef{python: engines[0].Python, env: engines[0].Env}
		}
		if c.IsSet("program") {
			// Only SGLang and vLLM have frontend backends; any of their
			// venvs has SGLang's frontend, which makes the arguments.
			for _, e := range engines {
				if e.Name != "sglang" && e.Name != "vllm" {
					errs = append(errs, fmt.Errorf("--engine %s: SGLang frontend programs (--program) run on sglang and vllm only; drop it", e.Name))
					tok = nil
				}
			}
		}
		spec, wl, err := workloadOf(c, model, tok)
		if err != nil {
			errs = append(errs, err)
		}
		p.Spec, p.Workload = spec, wl
		model.outputLen = p.Spec.OutputLen
		if wl != nil {
			model.outputLen = wl.MaxOutputLen()
		}
		p.Model.Info = model.manifest()
		p.Model.ContextLen = model.maxLen
		switch {
		case model.maxLen <= 0, p.Spec.IsProgram():
		case wl != nil && wl.MaxTotalLen() > model.maxLen:
			errs = append(errs, fmt.Errorf("the workload's longest request, %d tokens with its output, exceeds the model's max_position_embeddings %d", wl.MaxTotalLen(), model.maxLen))
		case wl == nil && !p.Spec.IsShareGPT() && p.Spec.PromptLen()+p.Spec.OutputLen > model.maxLen:
			errs = append(errs, fmt.Errorf("--input-len (+ --prefix-len) + --output-len = %d exceeds the model's max_position_embeddings %d", p.Spec.PromptLen()+p.Spec.OutputLen, model.maxLen))
		}
	}
	p.Sampling = protocol.Sampling{Temperature: c.Float64("temperature"), TopP: c.Float64("top-p"), Seed: p.Spec.Seed}
	if p.Sampling.Temperature < 0 {
		errs = append(errs, fmt.Errorf("--temperature %v: must be >= 0", p.Sampling.Temperature))
	}
	if p.Sampling.TopP <= 0 || p.Sampling.TopP > 1 {
		errs = append(errs, fmt.Errorf("--top-p %v: must be in (0, 1]", p.Sampling.TopP))
	}
	for _, g := range strings.Split(c.String("gpus"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			p.GPUs = append(p.GPUs, g)
		}
	}
	for _, d := range []string{"load-timeout", "batch-timeout", "sample-interval"} {
		if c.Duration(d) <= 0 {
			errs = append(errs, fmt.Errorf("--%s %v: must be positive", d, c.Duration(d)))
		}
	}
	p.Out = c.String("out")
	if p.Out == "" {
		p.Out = filepath.Join("results", "run-"+time.Now().Format("20060102-150405"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// parseEngines turns --engine NAME[=PYTHON] values into engines with a
// located interpreter each: a missing python, or one without libpython,
// fails here, before anything starts.
func parseEngines(ctx context.Context, values []string, args map[string]json.RawMessage, envs map[string]map[string]string, extraEnv map[string]string) ([]run.EngineSpec, error) {
	if len(values) == 0 {
		return nil, fmt.Errorf("no --engine given: name at least one of %s, e.g. --engine transformers=/path/to/venv/bin/python", strings.Join(engine.Names(), ", "))
	}
	var errs []error
	var out []run.EngineSpec
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
		out = append(out, run.EngineSpec{Name: name, Python: in.Executable, UserArgs: args[name], UserEnv: envs[name], Env: e.Environment(extraEnv, envs[name])})
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
func checkBaseline(name string, engines []run.EngineSpec) error {
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
