// Package workload builds, hashes, writes and reads the token-ID workload
// that every engine of a run is fed.
//
// The parent process validates a [Spec], calls [Generate] once and writes the
// result with [Workload.Write]; each engine worker reads the same file with
// [Read], which re-verifies the SHA-256 recorded in it. A batch call then only
// names a [Cell]: its prompts are Prompts[First : First+BatchSize].
//
// # Sweep layout
//
// For each batch size, in the order given, the sweep runs Warmup warm-up
// batches and then Reps measured repetitions. Every cell takes BatchSize
// prompts of its own: no prompt is used twice in a workload, so an engine can
// never get a prefix-cache hit from an earlier batch.
//
// # Distinct prefixes
//
// Distinct prompts are not enough: SGLang's radix cache matches at token
// granularity and would still reuse a shared first token, and vLLM's prefix
// cache matches whole blocks (16 tokens by default). So the prompts are drawn
// to make the longest common prefix of any two prompts as short as it can be.
// With N prompts and V usable token ids (the vocabulary minus Exclude), the
// first k tokens of every prompt form a k-tuple that no other prompt shares,
// where k is the smallest integer with V^k >= N (see [PrefixLen]). When
// N <= V, k = 1: all first tokens differ and no two prompts share any prefix.
// Otherwise two prompts share at most k-1 leading tokens, which is optimal by
// the pigeonhole principle, and k-1 is tiny (1 for any real vocabulary and
// sweep), far below a vLLM block.
package workload

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MaxTokens caps the total number of prompt tokens in one workload
// (prompts × input length). 2^28 tokens are 1 GiB in memory as int32 and a
// JSON file of roughly 1.5-2 GiB; a larger sweep is almost certainly a typo.
const MaxTokens = 1 << 28

// Spec describes a workload: the prompt shape, the vocabulary to draw from,
// the seed, and the batch-size sweep. Its JSON form is stored in the workload
// file and in every result.
type Spec struct {
	// Seed seeds the prompt generator; the same Spec always yields the same
	// prompts (see Generate).
	Seed int64 `json:"seed"`
	// InputLen is the exact length of every prompt, in tokens.
	InputLen int `json:"input_len"`
	// OutputLen is the number of tokens every request must generate. It does
	// not affect the prompts; it is carried so workers and reports agree.
	OutputLen int `json:"output_len"`
	// VocabSize is the model's vocabulary size: ids are drawn in [0, VocabSize).
	VocabSize int `json:"vocab_size"`
	// Exclude lists token ids that are never drawn (special tokens such as
	// BOS, EOS, padding). Generate stores it sorted and deduplicated.
	Exclude []int `json:"exclude"`
	// BatchSizes is the sweep, run in this order.
	BatchSizes []int `json:"batch_sizes"`
	// Reps is the number of measured repetitions per batch size.
	Reps int `json:"reps"`
	// Warmup is the number of warm-up batches per batch size, run before
	// its measured repetitions and excluded from results.
	Warmup int `json:"warmup"`
	// Dataset is DatasetRandom (also when empty) or DatasetSharedPrefix.
	Dataset string `json:"dataset,omitempty"`
	// SharedPrefix and PrefixGroups shape a shared-prefix workload:
	// PrefixGroups random prefixes of SharedPrefix tokens; prompt i is
	// prefix i mod PrefixGroups (the groups interleaved in every batch) then
	// a suffix of InputLen tokens no other prompt shares.
	SharedPrefix int `json:"shared_prefix_len,omitempty"`
	PrefixGroups int `json:"prefix_groups,omitempty"`
	// Source, MinInputLen, MaxInputLen and ReferenceOutput shape a ShareGPT
	// workload (see FromTexts): prompts are the file's first human turns,
	// tokenized once, whose lengths lie in MinInputLen..MaxInputLen (0: no
	// upper bound); InputLen is 0. With ReferenceOutput every request
	// generates as many tokens as its reference reply has and OutputLen is 0.
	Source          *Source `json:"source,omitempty"`
	MinInputLen     int     `json:"min_input_len,omitempty"`
	MaxInputLen     int     `json:"max_input_len,omitempty"`
	ReferenceOutput bool    `json:"reference_output,omitempty"`
	// Program names the program file of a program workload (DatasetProgram;
	// see FromProgram): InputLen and OutputLen are 0, its gens set their
	// own lengths.
	Program *ProgramFile `json:"program,omitempty"`
}

// Source is the dataset file a workload's prompts were taken from.
type Source struct {
	// File is the file's base name, for the reader; SHA256 identifies it.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Entries is the number of entries in the file's list.
	Entries int `json:"entries"`
}

// Datasets.
const (
	// DatasetRandom: random token IDs, no two prompts sharing a prefix.
	DatasetRandom = "random"
	// DatasetSharedPrefix: groups of prompts sharing a prefix, for prefix
	// caching (vLLM's, SGLang's radix cache).
	DatasetSharedPrefix = "shared-prefix"
	// DatasetShareGPT: the first human turns of a ShareGPT file, tokenized
	// by the model's tokenizer; their lengths vary.
	DatasetShareGPT = "sharegpt"
)

// SharesPrefixes reports whether s is a shared-prefix workload.
func (s Spec) SharesPrefixes() bool { return s.Dataset == DatasetSharedPrefix }

// IsShareGPT reports whether s is a ShareGPT workload, whose prompts come
// from a file and vary in length.
func (s Spec) IsShareGPT() bool { return s.Dataset == DatasetShareGPT }

// PromptLen is the length of every prompt of a generated workload: InputLen,
// plus the shared prefix in a shared-prefix workload. A ShareGPT workload's
// prompts vary (see Workload.MaxPromptLen); PromptLen is 0 for it.
func (s Spec) PromptLen() int {
	if s.SharesPrefixes() {
		return s.SharedPrefix + s.InputLen
	}
	return s.InputLen
}

// Validate reports every problem with s at once (joined with errors.Join).
// Each message starts with the command-line flag that fixes it.
func (s Spec) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if len(s.BatchSizes) == 0 {
		add("--batch-sizes: no batch sizes given; give at least one, e.g. --batch-sizes 1,8,32")
	}
	seen := make(map[int]int, len(s.BatchSizes))
	for i, b := range s.BatchSizes {
		if b < 1 {
			add("--batch-sizes: batch size %d (entry %d) must be at least 1", b, i+1)
			continue
		}
		if j, dup := seen[b]; dup {
			add("--batch-sizes: batch size %d is listed twice (entries %d and %d)", b, j+1, i+1)
			continue
		}
		seen[b] = i
	}
	if s.IsProgram() {
		s.validateProgram(add)
	} else if s.Program != nil {
		add("--program: a program file belongs to a program workload only")
	}
	if s.IsProgram() {
		// Lengths are the program's own.
	} else if s.IsShareGPT() {
		if s.InputLen != 0 {
			add("--input-len: a ShareGPT workload's prompts have the lengths the tokenizer gives them; drop --input-len, or bound them with --min-input-len and --max-input-len")
		}
	} else if s.InputLen < 1 {
		add("--input-len: must be at least 1, got %d", s.InputLen)
	}
	switch {
	case s.IsProgram():
	case s.ReferenceOutput && !s.IsShareGPT():
		add("--output-len reference: only a ShareGPT workload has reference replies; give a number of tokens")
	case s.ReferenceOutput && s.OutputLen != 0:
		add("--output-len: a workload of reference output lengths has no fixed output length, got %d", s.OutputLen)
	case !s.ReferenceOutput && s.OutputLen < 1:
		add("--output-len: must be at least 1, got %d", s.OutputLen)
	}
	if s.Reps < 1 {
		add("--reps: must be at least 1, got %d", s.Reps)
	}
	if s.Warmup < 0 {
		add("--warmup: must be at least 0, got %d", s.Warmup)
	}
	switch s.Dataset {
	case "", DatasetRandom, DatasetShareGPT, DatasetProgram:
		if s.SharedPrefix != 0 || s.PrefixGroups != 0 {
			add("--prefix-len/--prefix-groups: they shape a shared-prefix workload; add --dataset shared-prefix, or drop them")
		}
	case DatasetSharedPrefix:
		if s.SharedPrefix < 1 {
			add("--prefix-len: a shared-prefix workload needs a prefix of at least 1 token, got %d", s.SharedPrefix)
		}
		if s.PrefixGroups < 1 {
			add("--prefix-groups: a shared-prefix workload needs at least 1 group, got %d", s.PrefixGroups)
		}
	default:
		add("--dataset %q: use %s, %s or %s:FILE", s.Dataset, DatasetRandom, DatasetSharedPrefix, DatasetShareGPT)
	}
	if s.IsShareGPT() {
		if s.Source == nil || s.Source.SHA256 == "" {
			add("--dataset sharegpt: the workload names no source file")
		}
		if s.MinInputLen < 1 {
			add("--min-input-len: must be at least 1, got %d", s.MinInputLen)
		}
		if s.MaxInputLen != 0 && s.MaxInputLen < s.MinInputLen {
			add("--max-input-len: %d is below --min-input-len %d (0 means no upper bound)", s.MaxInputLen, s.MinInputLen)
		}
	} else if !s.IsProgram() && (s.Source != nil || s.MinInputLen != 0 || s.MaxInputLen != 0) {
		add("--min-input-len/--max-input-len: they bound a ShareGPT workload's prompts; add --dataset sharegpt:FILE, or drop them")
	}
	if s.VocabSize < 1 || s.VocabSize > math.MaxInt32 {
		add("--vocab-size: must be between 1 and %d, got %d", math.MaxInt32, s.VocabSize)
	} else {
		for _, id := range s.Exclude {
			if id < 0 || id >= s.VocabSize {
				add("--exclude-tokens: token id %d is outside the vocabulary [0, %d)", id, s.VocabSize)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// The fields are individually valid; now check that they fit together.
	n, err := s.NumPrompts()
	if err != nil {
		return err
	}
	if s.IsShareGPT() || s.IsProgram() {
		return nil // the file decides the rest (FromTexts, FromProgram)
	}
	if int64(n)*int64(s.PromptLen()) > MaxTokens {
		return fmt.Errorf("--batch-sizes/--reps/--warmup/--input-len: the sweep needs %d prompts × %d tokens = %d tokens, more than the limit of %d; shrink the sweep or --input-len",
			n, s.PromptLen(), int64(n)*int64(s.PromptLen()), MaxTokens)
	}
	v := s.Usable()
	if v < 1 {
		return fmt.Errorf("--exclude-tokens: all %d token ids of the vocabulary are excluded", s.VocabSize)
	}
	if s.SharesPrefixes() && s.PrefixGroups > v {
		return fmt.Errorf("--prefix-groups: %d groups need as many distinct first tokens; the vocabulary has %d usable", s.PrefixGroups, v)
	}
	if maxDistinct(v, s.InputLen, n) < n {
		return fmt.Errorf("--input-len: %d prompts of %d tokens cannot all be distinct with %d usable token ids (%d in the vocabulary, %d excluded); raise --input-len or shrink the sweep (--batch-sizes, --reps, --warmup)",
			n, s.InputLen, v, s.VocabSize, s.VocabSize-v)
	}
	return nil
}

// NumPrompts returns the number of prompts the sweep uses:
// sum(BatchSizes) × (Warmup + Reps). It fails when that exceeds MaxTokens
// (each prompt has at least one token), which also rules out overflow.
func (s Spec) NumPrompts() (int, error) {
	perRound := 0
	for _, b := range s.BatchSizes {
		// Checked before adding so the sum cannot overflow.
		if b > MaxTokens || perRound+b > MaxTokens {
			return 0, fmt.Errorf("--batch-sizes: the batch sizes add up to more than %d prompts", MaxTokens)
		}
		perRound += b
	}
	// Each factor is at most MaxTokens = 2^28, so the product fits an int64.
	if s.Warmup > MaxTokens || s.Reps > MaxTokens || int64(perRound)*int64(s.Warmup+s.Reps) > MaxTokens {
		return 0, fmt.Errorf("--reps/--warmup: (%d warm-up + %d measured) rounds of %d prompts exceed the limit of %d prompts",
			s.Warmup, s.Reps, perRound, MaxTokens)
	}
	return perRound * (s.Warmup + s.Reps), nil
}

// Usable returns the number of distinct token ids that may be drawn:
// VocabSize minus the distinct in-range ids of Exclude.
func (s Spec) Usable() int {
	ex := make(map[int]struct{}, len(s.Exclude))
	for _, id := range s.Exclude {
		if id >= 0 && id < s.VocabSize {
			ex[id] = struct{}{}
		}
	}
	return s.VocabSize - len(ex)
}

// Cells returns the sweep's cells in run order (see Cell). It assumes s is
// valid.
func (s Spec) Cells() []Cell {
	cells := make([]Cell, 0, len(s.BatchSizes)*(s.Warmup+s.Reps))
	first := 0
	for _, b := range s.BatchSizes {
		for r := range s.Warmup {
			cells = append(cells, Cell{BatchSize: b, Rep: r, Warmup: true, First: first})
			first += b
		}
		for r := range s.Reps {
			cells = append(cells, Cell{BatchSize: b, Rep: r, First: first})
			first += b
		}
	}
	return cells
}

// normalized returns a copy of s whose Exclude is sorted, deduplicated and
// never nil, so that equal specs encode to equal JSON.
func (s Spec) normalized() Spec {
	ex := slices.Clone(s.Exclude)
	slices.Sort(ex)
	s.Exclude = slices.Compact(ex)
	if s.Exclude == nil {
		s.Exclude = []int{}
	}
	s.BatchSizes = slices.Clone(s.BatchSizes)
	return s
}

// A Cell is one batch of the sweep: a warm-up batch or a measured repetition
// of one batch size. Its prompts are Prompts[First : First+BatchSize].
type Cell struct {
	// BatchSize is the number of prompts in the batch.
	BatchSize int `json:"batch_size"`
	// Rep numbers the cell among the warm-up batches (Warmup true) or among
	// the measured repetitions (Warmup false) of its batch size, from 0.
	Rep int `json:"rep"`
	// Warmup marks a warm-up batch, run but excluded from results.
	Warmup bool `json:"warmup"`
	// First is the index of the cell's first prompt in the workload.
	First int `json:"first"`
}

// PromptIndexes returns the indexes of the cell's prompts in the workload:
// First, First+1, ..., First+BatchSize-1.
func (c Cell) PromptIndexes() []int {
	idx := make([]int, c.BatchSize)
	for i := range idx {
		idx[i] = c.First + i
	}
	return idx
}

// PrefixLen returns k, the number of leading tokens that differ between any
// two of n prompts drawn from v usable token ids: the smallest k >= 1 with
// v^k >= n. Two prompts of the workload share at most k-1 leading tokens.
// It needs v >= 2 unless n <= 1, and returns 1 when v < 2.
func PrefixLen(v, n int) int {
	if v < 2 {
		return 1
	}
	k, p := 1, v
	for p < n {
		k++
		if p > math.MaxInt/v {
			break // v^k would overflow, so it certainly exceeds n
		}
		p *= v
	}
	return k
}

// maxDistinct returns min(v^length, n): how many of the n wanted prompts can
// be distinct.
func maxDistinct(v, length, n int) int {
	p := 1
	for range length {
		if p >= n {
			break
		}
		p *= v // p < n <= MaxTokens = 2^28 and v <= MaxInt32: no overflow
	}
	return min(p, n)
}
