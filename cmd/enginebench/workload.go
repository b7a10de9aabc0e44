package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/engine"
	"github.com/enginebench/enginebench/offline/sharegpt"
	"github.com/enginebench/enginebench/offline/tokenize"
	"github.com/enginebench/enginebench/offline/workload"
	"github.com/enginebench/enginebench/pyhost"
)

// workloadFlags are the flags that define a workload, shared by run and
// workload prepare.
func workloadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "batch-sizes", Value: "1,8,32", Usage: "comma-separated batch sizes to sweep"},
		&cli.StringFlag{Name: "dataset", Value: "random", Usage: "`KIND` of prompts: random (token IDs no two prompts share), shared-prefix (with --prefix-len and --prefix-groups; prefix caching on for every engine), or sharegpt:FILE (a ShareGPT JSON file's first human turns, tokenized once by the model's tokenizer)"},
		&cli.IntFlag{Name: "input-len", Value: 128, Usage: "prompt length in tokens (shared-prefix: the part after the prefix; not with sharegpt)"},
		&cli.IntFlag{Name: "prefix-len", Usage: "shared-prefix: tokens of each group's shared prefix"},
		&cli.IntFlag{Name: "prefix-groups", Usage: "shared-prefix: number of distinct prefixes, interleaved in every batch"},
		&cli.IntFlag{Name: "min-input-len", Value: 1, Usage: "sharegpt: skip prompts of fewer tokens"},
		&cli.IntFlag{Name: "max-input-len", Usage: "sharegpt: skip prompts of more tokens (0: no bound but the model's context)"},
		&cli.StringFlag{Name: "output-len", Value: "128", Usage: "`N` tokens to generate per prompt, or reference (sharegpt: each reply's own token count)"},
		&cli.IntFlag{Name: "reps", Value: 3, Usage: "measured repetitions per batch size"},
		&cli.IntFlag{Name: "warmup", Value: 1, Usage: "warm-up batches per batch size, excluded from figures"},
		&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the prompts and of every engine"},
		&cli.StringFlag{Name: "program", Usage: "an SGLang frontend program `FILE` (see examples/programs/) instead of token-ID prompts: a batch of B is one run_batch call of B programs, each with its own arguments; on sglang and vllm"},
	}
}

// tokenIDFlags are the workload flags a --program run has no use for.
var tokenIDFlags = []string{"dataset", "input-len", "prefix-len", "prefix-groups", "min-input-len", "max-input-len", "output-len"}

// workloadDefining names the flags a --workload file fixes.
var workloadDefining = []string{"batch-sizes", "dataset", "input-len", "prefix-len", "prefix-groups", "min-input-len", "max-input-len", "output-len", "reps", "warmup", "seed", "program"}

// workloadOf is the run's workload spec from the flags, or, with
// --workload FILE, the prepared file's spec and prompts, checked against the
// model's vocabulary and special tokens. A ShareGPT workload is built here,
// its texts tokenized by tok.
func workloadOf(c *cli.Context, model *modelSpec, tok *tokenizerRef) (workload.Spec, *workload.Workload, error) {
	if path := c.String("workload"); path != "" {
		var set []string
		for _, f := range workloadDefining {
			if c.IsSet(f) {
				set = append(set, "--"+f)
			}
		}
		if len(set) > 0 {
			return workload.Spec{}, nil, fmt.Errorf("--workload %s fixes the workload: drop %s", path, strings.Join(set, ", "))
		}
		wl, err := workload.Read(path)
		if err != nil {
			return workload.Spec{}, nil, fmt.Errorf("--workload %s: %w", path, err)
		}
		if wl.Spec.VocabSize != model.vocabSize || !slices.Equal(wl.Spec.Exclude, normalizedIDs(model.special)) {
			return workload.Spec{}, nil, fmt.Errorf("--workload %s was prepared for a vocabulary of %d with special tokens %v; --model %s has %d and %v: prepare it for this model",
				path, wl.Spec.VocabSize, wl.Spec.Exclude, model.path, model.vocabSize, normalizedIDs(model.special))
		}
		return wl.Spec, wl, nil
	}
	spec, path, err := specFromFlags(c, model.vocabSize, model.special)
	if err != nil || !(spec.IsShareGPT() || spec.IsProgram()) {
		return spec, nil, err
	}
	if tok == nil {
		return spec, nil, nil // the engine's python is wrong; that error is reported
	}
	if spec.IsProgram() {
		wl, err := programWorkload(c.Context, spec, path, model, tok)
		if err != nil {
			return spec, nil, err
		}
		return wl.Spec, wl, nil
	}
	wl, err := shareGPTWorkload(c.Context, spec, path, model, tok)
	return spec, wl, err
}

// programWorkload has the program file at path make one argument dict per
// program of the sweep, once, in tok's python (which has SGLang's
// frontend), and builds spec's workload from them.
func programWorkload(ctx context.Context, spec workload.Spec, path string, model *modelSpec, tok *tokenizerRef) (*workload.Workload, error) {
	if model.maxLen <= 0 {
		return nil, fmt.Errorf("--program: the engines get the model's own context length, and %s gives none: use a local model directory whose config.json has max_position_embeddings", model.path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--program %s: %w", path, err)
	}
	sum := sha256.Sum256(src)
	spec.Program = &workload.ProgramFile{File: filepath.Base(path), SHA256: hex.EncodeToString(sum[:])}
	n, err := spec.NumPrompts()
	if err != nil {
		return nil, err
	}
	self, err := tokenize.Self()
	if err != nil {
		return nil, err
	}
	got, err := tokenize.Arguments(ctx, self, tok.python, tok.env, tok.paths, path, n, spec.Seed)
	if err != nil {
		return nil, err
	}
	return workload.FromProgram(spec, got.Source, got.Arguments, got.Features)
}

// tokenizerRef is the python whose transformers tokenizes a dataset's
// texts, and its environment.
type tokenizerRef struct {
	python string
	env    map[string]string
	paths  []string
}

// shareGPTWorkload reads the ShareGPT file at path, tokenizes its prompts
// and replies once with the model's tokenizer, and builds spec's workload.
func shareGPTWorkload(ctx context.Context, spec workload.Spec, path string, model *modelSpec, tok *tokenizerRef) (*workload.Workload, error) {
	f, err := sharegpt.Read(path)
	if err != nil {
		return nil, fmt.Errorf("--dataset sharegpt:%s: %w", path, err)
	}
	spec.Source = &workload.Source{File: filepath.Base(path), SHA256: f.SHA256, Entries: f.Entries}
	prompts := make([]string, len(f.Conversations))
	replies := make([]*string, len(f.Conversations))
	for i, cv := range f.Conversations {
		prompts[i] = cv.Prompt
		if cv.HasReply {
			replies[i] = &cv.Reply
		}
	}
	self, err := tokenize.Self()
	if err != nil {
		return nil, err
	}
	res, err := tokenize.Run(ctx, self, tok.python, tok.env, tok.paths, model.path, prompts, replies)
	if err != nil {
		return nil, fmt.Errorf("--dataset sharegpt:%s: %w", path, err)
	}
	texts := make([]workload.Text, len(prompts))
	for i, cv := range f.Conversations {
		texts[i] = workload.Text{Entry: cv.Entry, Prompt: res.Prompts[i], HasReply: res.ReplyTokens[i] >= 0, ReplyTokens: max(res.ReplyTokens[i], 0)}
	}
	wl, err := workload.FromTexts(spec, texts, f.Skipped, model.maxLen, &res.Tokenizer)
	if err != nil {
		return nil, err
	}
	return wl, nil
}

// specFromFlags builds and validates a workload spec from the flags. For
// --dataset sharegpt:FILE it also returns FILE; the spec's Source is filled
// in when the file is read.
func specFromFlags(c *cli.Context, vocabSize int, special []int) (workload.Spec, string, error) {
	var errs []error
	bs, err := parseInts(c.String("batch-sizes"))
	if err != nil {
		errs = append(errs, fmt.Errorf("--batch-sizes: %w", err))
	}
	spec := workload.Spec{
		Seed: c.Int64("seed"), InputLen: c.Int("input-len"),
		VocabSize: vocabSize, Exclude: special, BatchSizes: bs, Reps: c.Int("reps"), Warmup: c.Int("warmup"),
		SharedPrefix: c.Int("prefix-len"), PrefixGroups: c.Int("prefix-groups"),
	}
	switch out := strings.TrimSpace(c.String("output-len")); out {
	case "reference":
		spec.ReferenceOutput = true
	default:
		n, err := strconv.Atoi(out)
		if err != nil {
			errs = append(errs, fmt.Errorf("--output-len %q: give a number of tokens, or reference (with --dataset sharegpt:FILE)", out))
		}
		spec.OutputLen = n
	}
	// The ShareGPT bounds only count where set, or with ShareGPT: Validate
	// refuses them elsewhere.
	for _, f := range []struct {
		name string
		dst  *int
	}{{"min-input-len", &spec.MinInputLen}, {"max-input-len", &spec.MaxInputLen}} {
		if c.IsSet(f.name) {
			*f.dst = c.Int(f.name)
		}
	}
	if prog := strings.TrimSpace(c.String("program")); c.IsSet("program") {
		return programSpec(c, spec, prog, errs)
	}
	var path string
	switch ds := strings.TrimSpace(c.String("dataset")); {
	case ds == workload.DatasetRandom:
	case ds == workload.DatasetSharedPrefix:
		spec.Dataset = ds
	case ds == workload.DatasetShareGPT || strings.HasPrefix(ds, workload.DatasetShareGPT+":"):
		path = strings.TrimPrefix(strings.TrimPrefix(ds, workload.DatasetShareGPT), ":")
		if path == "" {
			errs = append(errs, fmt.Errorf("--dataset %s: name the file, e.g. --dataset sharegpt:ShareGPT_V3_unfiltered_cleaned_split.json", ds))
		}
		spec.Dataset = workload.DatasetShareGPT
		if !c.IsSet("input-len") {
			spec.InputLen = 0 // the file's lengths; a set --input-len is refused by Validate
		}
		if !c.IsSet("min-input-len") {
			spec.MinInputLen = c.Int("min-input-len")
		}
		// Validate wants a source; the file is read after the flags pass.
		spec.Source = &workload.Source{File: filepath.Base(path), SHA256: "unread"}
	default:
		errs = append(errs, fmt.Errorf("--dataset %q: use random, shared-prefix or sharegpt:FILE", ds))
	}
	if len(errs) == 0 {
		if err := spec.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if spec.IsShareGPT() {
		spec.Source = nil
	}
	return spec, path, errors.Join(errs...)
}

// programSpec is the spec of a --program run: the sweep and the seed, no
// token-ID shape. The program file's hash is filled in when it is read.
func programSpec(c *cli.Context, spec workload.Spec, path string, errs []error) (workload.Spec, string, error) {
	if path == "" {
		errs = append(errs, errors.New("--program: name a program file, e.g. --program examples/programs/chat.py"))
	} else if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		errs = append(errs, fmt.Errorf("--program %s: no such file", path))
	}
	var set []string
	for _, f := range tokenIDFlags {
		if c.IsSet(f) {
			set = append(set, "--"+f)
		}
	}
	if len(set) > 0 {
		errs = append(errs, fmt.Errorf("--program: a program's gens set their own prompts and lengths; drop %s", strings.Join(set, ", ")))
	}
	spec.InputLen, spec.OutputLen, spec.SharedPrefix, spec.PrefixGroups = 0, 0, 0, 0
	spec.MinInputLen, spec.MaxInputLen, spec.ReferenceOutput = 0, 0, false
	spec.Dataset = workload.DatasetProgram
	spec.Program = &workload.ProgramFile{File: filepath.Base(path), SHA256: "unread"}
	if len(errs) == 0 {
		if err := spec.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	spec.Program = nil
	return spec, path, errors.Join(errs...)
}

// normalizedIDs is ids sorted and deduplicated, never nil, as a workload
// stores its excluded tokens.
func normalizedIDs(ids []int) []int {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []int{}
	}
	return out
}

func workloadCommand() *cli.Command {
	return &cli.Command{
		Name:  "workload",
		Usage: "prepare a workload file without running an engine, or inspect one",
		Description: "`enginebench workload prepare --model DIR [workload flags] FILE` draws the workload `run` would and writes it;\n" +
			"`enginebench run --workload FILE` then measures those very token IDs, on this machine or another.\n" +
			"`enginebench workload inspect FILE` checks a file (its hash, its spec) and prints what it holds.",
		Subcommands: []*cli.Command{
			{
				Name:      "prepare",
				Usage:     "write the workload of these flags to FILE",
				ArgsUsage: "FILE",
				Flags: append(workloadFlags(),
					&cli.StringFlag{Name: "model", Usage: "model directory (its vocabulary and special tokens)", Required: true},
					&cli.IntFlag{Name: "vocab-size", Usage: "vocabulary size, when --model is not a local directory"},
					&cli.StringFlag{Name: "python", Usage: "sharegpt: a python or venv with transformers, to tokenize with the model's tokenizer; --program: one with SGLang's frontend, to make the arguments (default $ENGINEBENCH_PYTHON, then python3)"},
				),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageError("workload prepare takes one argument, the FILE to write")
					}
					model, err := loadModel(c.String("model"), "float32", c.Int("vocab-size"))
					if err != nil {
						return usageError("%v", err)
					}
					spec, path, err := specFromFlags(c, model.vocabSize, model.special)
					if err != nil {
						return usageError("%v", err)
					}
					var wl *workload.Workload
					if spec.IsShareGPT() || spec.IsProgram() {
						in, err := pyhost.Locate(c.Context, c.String("python"))
						if err != nil {
							return usageError("--python: %v", err)
						}
						ref := &tokenizerRef{python: in.Executable}
						if model.local {
							ref.env = engine.OfflineEnv
						}
						if spec.IsProgram() {
							wl, err = programWorkload(c.Context, spec, path, model, ref)
						} else {
							wl, err = shareGPTWorkload(c.Context, spec, path, model, ref)
						}
						if err != nil {
							return usageError("%v", err)
						}
					} else if wl, err = workload.Generate(spec); err != nil {
						return usageError("%v", err)
					}
					if err := wl.Write(c.Args().First()); err != nil {
						return err
					}
					return describeWorkload(c, c.Args().First(), wl)
				},
			},
			{
				Name:      "inspect",
				Usage:     "check a workload file and print what it holds",
				ArgsUsage: "FILE",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageError("workload inspect takes one argument, a workload FILE")
					}
					wl, err := workload.Read(c.Args().First())
					if err != nil {
						return usageError("%v", err)
					}
					return describeWorkload(c, c.Args().First(), wl)
				},
			},
		},
	}
}

// describeWorkload prints a workload's hash, spec, cells and prompt lengths.
func describeWorkload(c *cli.Context, path string, wl *workload.Workload) error {
	s := wl.Spec
	w := c.App.Writer
	fmt.Fprintf(w, "%s: workload sha256 %s (format %d)\n", path, wl.SHA256, wl.FormatVersion())
	if s.IsProgram() {
		features := "unknown (its dry run raised)"
		if wl.Features != nil {
			features = strings.Join(wl.Features, ", ")
			if features == "" {
				features = "plain gens only"
			}
		}
		fmt.Fprintf(w, "dataset program: %s (sha256 %s); %d programs, one argument dict each; uses: %s; seed %d\n",
			s.Program.File, s.Program.SHA256, len(wl.Arguments), features, s.Seed)
	} else if s.IsShareGPT() {
		describeShareGPT(w, wl)
	} else {
		kind := workload.DatasetRandom
		if s.SharesPrefixes() {
			kind = fmt.Sprintf("%s (%d groups of a %d-token prefix)", workload.DatasetSharedPrefix, s.PrefixGroups, s.SharedPrefix)
		}
		fmt.Fprintf(w, "dataset %s; %d prompts of %d tokens (every prompt unique in its first %d tokens after any shared prefix); %d output tokens each\n",
			kind, len(wl.Prompts), s.PromptLen(), wl.PrefixLen, s.OutputLen)
		fmt.Fprintf(w, "vocabulary %d, %d special tokens never drawn; seed %d\n", s.VocabSize, len(s.Exclude), s.Seed)
	}
	fmt.Fprintf(w, "sweep: batch sizes %s, %d warm-up + %d measured batches each: %d cells\n", joinInts(s.BatchSizes), s.Warmup, s.Reps, len(wl.Cells))
	return nil
}

// describeShareGPT prints a ShareGPT workload's source, what was skipped,
// the tokenizer, and histograms of the prompt and output lengths.
func describeShareGPT(w io.Writer, wl *workload.Workload) {
	s := wl.Spec
	bounds := fmt.Sprintf("%d..", s.MinInputLen)
	if s.MaxInputLen > 0 {
		bounds += fmt.Sprint(s.MaxInputLen)
	}
	fmt.Fprintf(w, "dataset sharegpt: %s (sha256 %s, %d entries); prompts of %s tokens; seed %d\n", s.Source.File, s.Source.SHA256, s.Source.Entries, bounds, s.Seed)
	if t := wl.Tokenizer; t != nil {
		fmt.Fprintf(w, "tokenized once by %s (transformers %s, %d tokens); vocabulary %d\n", t.Class, t.Transformers, t.VocabSize, s.VocabSize)
	}
	skipped, total := "", 0
	for _, k := range slices.Sorted(maps.Keys(wl.Skipped)) {
		skipped += fmt.Sprintf("\n  %-22s %d", k, wl.Skipped[k])
		total += wl.Skipped[k]
	}
	fmt.Fprintf(w, "skipped %d entries%s\n", total, skipped)
	l := wl.LengthStats()
	prompts := make([]int, len(wl.Prompts))
	outputs := make([]int, len(wl.Prompts))
	for i, p := range wl.Prompts {
		prompts[i], outputs[i] = len(p), wl.OutputLenOf(i)
	}
	fmt.Fprintf(w, "%d prompts, %d-%d tokens (mean %.1f):\n%s", len(wl.Prompts), l.MinPrompt, l.MaxPrompt, l.MeanPrompt, histogram(prompts))
	if s.ReferenceOutput {
		fmt.Fprintf(w, "output tokens, each reply's own count, %d-%d (mean %.1f):\n%s", l.MinOutput, l.MaxOutput, l.MeanOutput, histogram(outputs))
	} else {
		fmt.Fprintf(w, "%d output tokens each\n", s.OutputLen)
	}
}

// histogram counts lengths in power-of-two buckets, one line each.
func histogram(lengths []int) string {
	if len(lengths) == 0 {
		return ""
	}
	counts := map[int]int{}
	for _, n := range lengths {
		b := 1
		for b*2 <= n {
			b *= 2
		}
		counts[b]++
	}
	most := slices.Max(slices.Collect(maps.Values(counts)))
	var sb strings.Builder
	for _, b := range slices.Sorted(maps.Keys(counts)) {
		bar := strings.Repeat("#", max(1, counts[b]*40/most))
		fmt.Fprintf(&sb, "  %6d-%-6d %6d %s\n", b, 2*b-1, counts[b], bar)
	}
	return sb.String()
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ",")
}
