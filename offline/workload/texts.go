package workload

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
)

// Text is one usable entry of a dataset file after tokenizing: its prompt's
// token ids and its reference reply's length.
type Text struct {
	// Entry is the entry's position in the file's list.
	Entry int
	// Prompt is the prompt as the model's tokenizer encodes it, special
	// tokens (BOS) included: what every engine is given.
	Prompt []int32
	// HasReply says whether the entry has a reference reply; ReplyTokens is
	// its length in tokens, without special tokens.
	HasReply    bool
	ReplyTokens int
}

// Tokenizer names the tokenizer that turned a file's texts into token ids.
type Tokenizer struct {
	// Class is the tokenizer's Python class, e.g. "LlamaTokenizerFast".
	Class string `json:"class"`
	// Transformers is the transformers version that loaded it.
	Transformers string `json:"transformers"`
	// VocabSize is len(tokenizer): the ids it can produce.
	VocabSize int `json:"vocab_size"`
}

// Reasons FromTexts skips an entry, beside those of the file reader.
const (
	// SkipPromptTooShort: fewer tokens than Spec.MinInputLen.
	SkipPromptTooShort = "prompt_too_short"
	// SkipPromptTooLong: more tokens than Spec.MaxInputLen.
	SkipPromptTooLong = "prompt_too_long"
	// SkipNoReply: reference output lengths, and the entry has no reply.
	SkipNoReply = "no_reply"
	// SkipEmptyReply: reference output lengths, and the reply has no token.
	SkipEmptyReply = "empty_reply"
	// SkipExceedsContext: prompt plus output is longer than the model's
	// context.
	SkipExceedsContext = "exceeds_context"
	// SkipDuplicate: the same token ids as an earlier entry's prompt. Every
	// prompt of a workload differs, so that no request is served from
	// another's cache and answers can be matched to prompts by content.
	SkipDuplicate = "duplicate_prompt"
)

// FromTexts builds a ShareGPT workload of spec from a file's usable texts
// (in file order) and the reader's skip counts. Texts outside the spec's
// length bounds, without a reply when the spec wants reference output
// lengths, longer than maxTotal tokens with their output (0: no limit), or
// repeating an earlier prompt are skipped and counted by reason. The sweep's
// prompts are then a seeded selection of the rest:
//
//   - the accepted texts, in file order, are shuffled with the generator of
//     Generate (the same PCG stream and bounded reduction; Fisher-Yates from
//     the end: for i = N-1 .. 1, swap i with bounded(i+1)),
//   - and the first NumPrompts of them are the workload's prompts, in that
//     order.
//
// Too few usable texts for the sweep is an error that gives the counts.
func FromTexts(spec Spec, texts []Text, skipped map[string]int, maxTotal int, tok *Tokenizer) (*Workload, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid workload: %w", err)
	}
	if !spec.IsShareGPT() {
		return nil, fmt.Errorf("invalid workload: FromTexts builds a %s workload, the spec is %q", DatasetShareGPT, spec.Dataset)
	}
	s := spec.normalized()
	n, _ := s.NumPrompts() // validated above
	skip := maps.Clone(skipped)
	if skip == nil {
		skip = map[string]int{}
	}
	var accepted []Text
	seen := make(map[string]bool, len(texts))
	for _, t := range texts {
		out := s.OutputLen
		if s.ReferenceOutput {
			out = t.ReplyTokens
		}
		reason := ""
		switch {
		case len(t.Prompt) < s.MinInputLen:
			reason = SkipPromptTooShort
		case s.MaxInputLen > 0 && len(t.Prompt) > s.MaxInputLen:
			reason = SkipPromptTooLong
		case s.ReferenceOutput && !t.HasReply:
			reason = SkipNoReply
		case s.ReferenceOutput && t.ReplyTokens < 1:
			reason = SkipEmptyReply
		case maxTotal > 0 && len(t.Prompt)+out > maxTotal:
			reason = SkipExceedsContext
		case seen[prefixKey(t.Prompt)]:
			reason = SkipDuplicate
		}
		if reason != "" {
			skip[reason]++
			continue
		}
		for j, id := range t.Prompt {
			if id < 0 || int(id) >= s.VocabSize {
				return nil, fmt.Errorf("entry %d token %d: the tokenizer gave id %d, outside the model's vocabulary of %d: tokenize with the model's own tokenizer", t.Entry, j, id, s.VocabSize)
			}
		}
		seen[prefixKey(t.Prompt)] = true
		accepted = append(accepted, t)
	}
	if len(accepted) < n {
		return nil, fmt.Errorf("--dataset %s:%s: the sweep needs %d prompts, but only %d of the file's %d entries are usable (skipped: %s); shrink the sweep (--batch-sizes, --reps, --warmup) or widen --min-input-len/--max-input-len",
			DatasetShareGPT, s.Source.File, n, len(accepted), s.Source.Entries, formatSkipped(skip))
	}

	r := &rng{src: rand.NewPCG(uint64(s.Seed), seedStream)}
	for i := len(accepted) - 1; i > 0; i-- {
		j := r.bounded(uint64(i + 1))
		accepted[i], accepted[j] = accepted[j], accepted[i]
	}
	w := &Workload{Spec: s, PrefixLen: 0, Cells: s.Cells(), Prompts: make([][]int32, n), Entries: make([]int, n), Skipped: skip, Tokenizer: tok}
	if s.ReferenceOutput {
		w.OutputLens = make([]int, n)
	}
	for i, t := range accepted[:n] {
		w.Prompts[i] = slices.Clip(slices.Clone(t.Prompt))
		w.Entries[i] = t.Entry
		if s.ReferenceOutput {
			w.OutputLens[i] = t.ReplyTokens
		}
	}
	w.SHA256 = HashWithOutputs(w.Prompts, w.OutputLens)
	return w, nil
}

// formatSkipped is counts as "reason N, reason N" in reason order, or
// "none".
func formatSkipped(counts map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// OutputLenOf is the number of tokens prompt i's request generates.
func (w *Workload) OutputLenOf(i int) int {
	if w.OutputLens != nil {
		return w.OutputLens[i]
	}
	return w.Spec.OutputLen
}

// MaxPromptLen is the longest prompt's length.
func (w *Workload) MaxPromptLen() int {
	n := 0
	for _, p := range w.Prompts {
		n = max(n, len(p))
	}
	return n
}

// MaxOutputLen is the most tokens any request generates.
func (w *Workload) MaxOutputLen() int {
	if w.OutputLens == nil {
		return w.Spec.OutputLen
	}
	return slices.Max(append([]int{0}, w.OutputLens...))
}

// MaxTotalLen is the longest prompt plus output of any request: the context
// an engine needs.
func (w *Workload) MaxTotalLen() int {
	n := 0
	for i, p := range w.Prompts {
		n = max(n, len(p)+w.OutputLenOf(i))
	}
	return n
}

// VariesInLength reports whether the prompts or the output lengths differ
// between requests.
func (w *Workload) VariesInLength() bool { return w.Spec.IsShareGPT() }

// Lengths summarizes the workload's prompt and output lengths.
type Lengths struct {
	MinPrompt, MaxPrompt int
	MeanPrompt           float64
	MinOutput, MaxOutput int
	MeanOutput           float64
}

// LengthStats returns the prompts' and outputs' smallest, mean and largest
// lengths, in tokens.
func (w *Workload) LengthStats() Lengths {
	if len(w.Prompts) == 0 {
		return Lengths{}
	}
	l := Lengths{MinPrompt: len(w.Prompts[0]), MinOutput: w.OutputLenOf(0)}
	var sp, so int
	for i, p := range w.Prompts {
		o := w.OutputLenOf(i)
		l.MinPrompt, l.MaxPrompt = min(l.MinPrompt, len(p)), max(l.MaxPrompt, len(p))
		l.MinOutput, l.MaxOutput = min(l.MinOutput, o), max(l.MaxOutput, o)
		sp += len(p)
		so += o
	}
	l.MeanPrompt = float64(sp) / float64(len(w.Prompts))
	l.MeanOutput = float64(so) / float64(len(w.Prompts))
	return l
}
