package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/enginebench/enginebench/offline/workload"
)

// workloadFlags are the flags that define a workload, shared by run and
// workload prepare.
func workloadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "batch-sizes", Value: "1,8,32", Usage: "comma-separated batch sizes to sweep"},
		&cli.StringFlag{Name: "dataset", Value: "random", Usage: "`KIND` of prompts: random (token IDs no two prompts share), or shared-prefix (with --prefix-len and --prefix-groups; prefix caching on for every engine)"},
		&cli.IntFlag{Name: "input-len", Value: 128, Usage: "prompt length in tokens (shared-prefix: the part after the prefix)"},
		&cli.IntFlag{Name: "prefix-len", Usage: "shared-prefix: tokens of each group's shared prefix"},
		&cli.IntFlag{Name: "prefix-groups", Usage: "shared-prefix: number of distinct prefixes, interleaved in every batch"},
		&cli.IntFlag{Name: "output-len", Value: 128, Usage: "tokens to generate per prompt"},
		&cli.IntFlag{Name: "reps", Value: 3, Usage: "measured repetitions per batch size"},
		&cli.IntFlag{Name: "warmup", Value: 1, Usage: "warm-up batches per batch size, excluded from figures"},
		&cli.Int64Flag{Name: "seed", Value: 0, Usage: "seed of the prompts and of every engine"},
	}
}

// workloadDefining names the flags a --workload file fixes.
var workloadDefining = []string{"batch-sizes", "dataset", "input-len", "prefix-len", "prefix-groups", "output-len", "reps", "warmup", "seed"}

// workloadOf is the run's workload spec from the flags, or, with
// --workload FILE, the prepared file's spec and prompts, checked against the
// model's vocabulary and special tokens.
func workloadOf(c *cli.Context, model *modelSpec) (workload.Spec, *workload.Workload, error) {
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
	spec, err := specFromFlags(c, model.vocabSize, model.special)
	return spec, nil, err
}

// specFromFlags builds and validates a workload spec from the flags.
func specFromFlags(c *cli.Context, vocabSize int, special []int) (workload.Spec, error) {
	var errs []error
	bs, err := parseInts(c.String("batch-sizes"))
	if err != nil {
		errs = append(errs, fmt.Errorf("--batch-sizes: %w", err))
	}
	spec := workload.Spec{
		Seed: c.Int64("seed"), InputLen: c.Int("input-len"), OutputLen: c.Int("output-len"),
		VocabSize: vocabSize, Exclude: special, BatchSizes: bs, Reps: c.Int("reps"), Warmup: c.Int("warmup"),
	}
	switch ds := strings.TrimSpace(c.String("dataset")); {
	case ds == workload.DatasetRandom:
		spec.SharedPrefix, spec.PrefixGroups = c.Int("prefix-len"), c.Int("prefix-groups")
	case ds == workload.DatasetSharedPrefix:
		spec.Dataset, spec.SharedPrefix, spec.PrefixGroups = ds, c.Int("prefix-len"), c.Int("prefix-groups")
	case strings.HasPrefix(ds, "sharegpt"):
		errs = append(errs, fmt.Errorf("--dataset %s: ShareGPT workloads are not supported yet; use random or shared-prefix", ds))
	default:
		errs = append(errs, fmt.Errorf("--dataset %q: use random or shared-prefix", ds))
	}
	if len(errs) == 0 {
		if err := spec.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return spec, errors.Join(errs...)
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
				),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usageError("workload prepare takes one argument, the FILE to write")
					}
					model, err := loadModel(c.String("model"), "float32", c.Int("vocab-size"))
					if err != nil {
						return usageError("%v", err)
					}
					spec, err := specFromFlags(c, model.vocabSize, model.special)
					if err != nil {
						return usageError("%v", err)
					}
					wl, err := workload.Generate(spec)
					if err != nil {
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
	fmt.Fprintf(w, "%s: workload sha256 %s (format %d)\n", path, wl.SHA256, workload.FormatVersion)
	kind := workload.DatasetRandom
	if s.SharesPrefixes() {
		kind = fmt.Sprintf("%s (%d groups of a %d-token prefix)", workload.DatasetSharedPrefix, s.PrefixGroups, s.SharedPrefix)
	}
	fmt.Fprintf(w, "dataset %s; %d prompts of %d tokens (every prompt unique in its first %d tokens after any shared prefix); %d output tokens each\n",
		kind, len(wl.Prompts), s.PromptLen(), wl.PrefixLen, s.OutputLen)
	fmt.Fprintf(w, "vocabulary %d, %d special tokens never drawn; seed %d\n", s.VocabSize, len(s.Exclude), s.Seed)
	fmt.Fprintf(w, "sweep: batch sizes %s, %d warm-up + %d measured batches each: %d cells\n", joinInts(s.BatchSizes), s.Warmup, s.Reps, len(wl.Cells))
	return nil
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ",")
}
