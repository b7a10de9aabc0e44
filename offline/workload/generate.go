package workload

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
)

// seedStream is the second PCG seed word: the ASCII bytes "enginebe". It is
// part of the workload format: changing it changes every workload.
const seedStream = 0x656e67696e656265

// A Workload is the set of token-ID prompts of a run and the sweep cells that
// use them. It is immutable once generated or read.
type Workload struct {
	// Spec is the specification the workload was generated from, with
	// Exclude sorted and deduplicated.
	Spec Spec
	// PrefixLen is k: the first k tokens of every prompt are unique to it
	// (see PrefixLen and the package documentation).
	PrefixLen int
	// Cells is the sweep in run order.
	Cells []Cell
	// Prompts holds the token ids: each prompt exactly Spec.PromptLen()
	// long, or, in a ShareGPT workload, as long as the tokenizer made it.
	Prompts [][]int32
	// OutputLens is, with Spec.ReferenceOutput, the number of tokens each
	// prompt's request generates (its reference reply's length); nil
	// otherwise, when every request generates Spec.OutputLen.
	OutputLens []int
	// Entries is, in a ShareGPT workload, each prompt's position in the
	// source file's list; nil otherwise.
	Entries []int
	// Skipped counts the source file's entries that were not usable, by
	// reason (ShareGPT only; see FromTexts).
	Skipped map[string]int
	// Tokenizer is the tokenizer that made the prompts (ShareGPT only).
	Tokenizer *Tokenizer
	// ProgramSource, Arguments and Features make a program workload (see
	// FromProgram): the program file's text, one argument dict per program
	// as JSON text, and what the program uses (nil: unknown). Prompts is
	// empty then.
	ProgramSource string
	Arguments     []string
	Features      []string
	// SHA256 is HashWithOutputs(Prompts, OutputLens), lowercase hex, or for
	// a program workload HashProgram(ProgramSource, Arguments).
	SHA256 string
}

// Generate validates spec and draws its prompts.
//
// The generator is fixed forever, because users cite workload hashes: the
// same Spec must give the same prompts with any Go version. It uses only the
// raw 64-bit outputs of math/rand/v2's PCG (PCG-DXSM, 128-bit state) seeded
// with NewPCG(uint64(Seed), 0x656e67696e656265), and its own reductions, not
// rand.Rand's helpers, whose algorithms Go does not promise to keep:
//
//   - bounded(n): Lemire's multiply-shift with rejection: x = next();
//     (hi, lo) = x*n as a 128-bit product; while lo < (2^64 - n) mod n, draw
//     again; return hi.
//   - Let V be the usable ids (0..VocabSize-1 minus Exclude, ascending), N the
//     number of prompts, k = PrefixLen(len(V), N) and M = len(V)^k.
//   - Prefix codes: Floyd's algorithm draws N distinct codes from [0, M)
//     (for j = M-N .. M-1: t = bounded(j+1); if t was drawn already, t = j;
//     append t), then a Fisher-Yates shuffle puts them in random order
//     (for i = N-1 .. 1: swap code i with code bounded(i+1)).
//   - Prompt i: its code written in base len(V), most significant digit
//     first, gives tokens 0..k-1 (digit d means V[d]); tokens k..InputLen-1
//     are V[bounded(len(V))], drawn prompt by prompt, left to right.
//
// Every token is thus uniform over V and the first k tokens of each prompt
// are unique to it. testdata/workload_ref.py implements the same steps in
// Python (it regenerates any workload file from its spec), and the golden
// tests pin the output.
func Generate(spec Spec) (*Workload, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid workload: %w", err)
	}
	if spec.IsShareGPT() {
		return nil, fmt.Errorf("invalid workload: a ShareGPT workload is built from its file's texts (FromTexts), not drawn")
	}
	s := spec.normalized()
	n, _ := s.NumPrompts() // validated above
	vocab := usableIDs(s)
	v := uint64(len(vocab))
	k := PrefixLen(len(vocab), n)
	m := uint64(1)
	for range k {
		m *= v // v^k < n*v <= 2^28 * 2^31: no overflow
	}

	r := &rng{src: rand.NewPCG(uint64(s.Seed), seedStream)}
	codes := r.distinct(m, n)
	r.shuffle(codes)

	// One backing array keeps the prompts contiguous and cheap to allocate.
	flat := make([]int32, n*s.InputLen)
	prompts := make([][]int32, n)
	for i := range prompts {
		p := flat[i*s.InputLen : (i+1)*s.InputLen : (i+1)*s.InputLen]
		c := codes[i]
		for j := k - 1; j >= 0; j-- {
			p[j] = vocab[c%v]
			c /= v
		}
		for j := k; j < len(p); j++ {
			p[j] = vocab[r.bounded(v)]
		}
		prompts[i] = p
	}
	if s.SharesPrefixes() {
		// After every draw of the suffixes, so a random workload's prompts
		// (and hash) never depend on this code. Distinct first tokens: two
		// groups share nothing.
		firsts := r.distinct(v, s.PrefixGroups)
		prefixes := make([][]int32, s.PrefixGroups)
		for g := range prefixes {
			p := make([]int32, s.SharedPrefix)
			p[0] = vocab[firsts[g]]
			for j := 1; j < len(p); j++ {
				p[j] = vocab[r.bounded(v)]
			}
			prefixes[g] = p
		}
		full := make([]int32, n*s.PromptLen())
		for i, suffix := range prompts {
			p := full[i*s.PromptLen() : (i+1)*s.PromptLen() : (i+1)*s.PromptLen()]
			copy(p, prefixes[i%s.PrefixGroups])
			copy(p[s.SharedPrefix:], suffix)
			prompts[i] = p
		}
	}
	return &Workload{
		Spec:      s,
		PrefixLen: k,
		Cells:     s.Cells(),
		Prompts:   prompts,
		SHA256:    Hash(prompts),
	}, nil
}

// usableIDs returns 0..VocabSize-1 without the excluded ids, ascending.
// s.Exclude must be sorted and deduplicated.
func usableIDs(s Spec) []int32 {
	ids := make([]int32, 0, s.VocabSize-len(s.Exclude))
	ex := s.Exclude
	for id := range s.VocabSize {
		if len(ex) > 0 && ex[0] == id {
			ex = ex[1:]
			continue
		}
		ids = append(ids, int32(id))
	}
	return ids
}

// rng derives everything from the raw PCG stream with reductions defined
// here, so the workload cannot change with the Go release.
type rng struct{ src *rand.PCG }

// bounded returns a uniform value in [0, n), n > 0 (Lemire 2019,
// "Fast Random Integer Generation in an Interval").
func (r *rng) bounded(n uint64) uint64 {
	hi, lo := bits.Mul64(r.src.Uint64(), n)
	if lo < n {
		thresh := -n % n // (2^64 - n) mod n
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), n)
		}
	}
	return hi
}

// distinct returns n distinct values from [0, m), n <= m, with Floyd's
// algorithm: exactly n draws, a uniformly random subset (not order).
func (r *rng) distinct(m uint64, n int) []uint64 {
	out := make([]uint64, 0, n)
	seen := make(map[uint64]struct{}, n)
	for j := m - uint64(n); j < m; j++ {
		t := r.bounded(j + 1)
		if _, dup := seen[t]; dup {
			t = j // j itself cannot have been drawn yet: earlier draws were < j
		}
		seen[t] = struct{}{}
		out = append(out, t)
	}
	return out
}

// shuffle permutes xs uniformly (Fisher-Yates, from the end).
func (r *rng) shuffle(xs []uint64) {
	for i := len(xs) - 1; i > 0; i-- {
		j := r.bounded(uint64(i + 1))
		xs[i], xs[j] = xs[j], xs[i]
	}
}

// MaxCachedTokens is, for each cell in run order, the most prompt tokens a
// prefix cache could serve in it: a prompt whose group's prefix appeared in
// an earlier cell, or earlier in the same cell, could reuse the whole
// prefix. Zero for a workload without shared prefixes. It assumes one engine
// process runs every cell in order (a resumed engine re-runs warm-ups, so it
// may see more).
func (w *Workload) MaxCachedTokens() []int {
	out := make([]int, len(w.Cells))
	s := w.Spec
	if !s.SharesPrefixes() {
		return out
	}
	seen := make([]bool, s.PrefixGroups)
	for i, c := range w.Cells {
		for p := c.First; p < c.First+c.BatchSize; p++ {
			if g := p % s.PrefixGroups; seen[g] {
				out[i] += s.SharedPrefix
			} else {
				seen[g] = true
			}
		}
	}
	return out
}
