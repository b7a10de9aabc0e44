package workload

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// valid returns a small valid spec; tests change one field at a time.
func valid() Spec {
	return Spec{Seed: 1, InputLen: 4, OutputLen: 8, VocabSize: 100, BatchSizes: []int{1, 2}, Reps: 2, Warmup: 1}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Spec)
		want string // full error text; "" means valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"no warmup", func(s *Spec) { s.Warmup = 0 }, ""},
		{"no batch sizes", func(s *Spec) { s.BatchSizes = nil },
			"--batch-sizes: no batch sizes given; give at least one, e.g. --batch-sizes 1,8,32"},
		{"zero batch size", func(s *Spec) { s.BatchSizes = []int{1, 0} },
			"--batch-sizes: batch size 0 (entry 2) must be at least 1"},
		{"negative batch size", func(s *Spec) { s.BatchSizes = []int{-4} },
			"--batch-sizes: batch size -4 (entry 1) must be at least 1"},
		{"duplicate batch size", func(s *Spec) { s.BatchSizes = []int{8, 1, 8} },
			"--batch-sizes: batch size 8 is listed twice (entries 1 and 3)"},
		{"input len", func(s *Spec) { s.InputLen = 0 }, "--input-len: must be at least 1, got 0"},
		{"output len", func(s *Spec) { s.OutputLen = -1 }, "--output-len: must be at least 1, got -1"},
		{"reps", func(s *Spec) { s.Reps = 0 }, "--reps: must be at least 1, got 0"},
		{"warmup", func(s *Spec) { s.Warmup = -1 }, "--warmup: must be at least 0, got -1"},
		{"vocab", func(s *Spec) { s.VocabSize = 0 }, "--vocab-size: must be between 1 and 2147483647, got 0"},
		{"vocab too big", func(s *Spec) { s.VocabSize = maxInt32 + 1 }, // wraps negative on 32-bit
			"--vocab-size: must be between 1 and 2147483647, got " + strconv.Itoa(maxInt32+1)},
		{"exclude out of range", func(s *Spec) { s.Exclude = []int{3, 100, -1} },
			"--exclude-tokens: token id 100 is outside the vocabulary [0, 100)\n" +
				"--exclude-tokens: token id -1 is outside the vocabulary [0, 100)"},
		{"several at once", func(s *Spec) { s.InputLen, s.Reps = 0, 0 },
			"--input-len: must be at least 1, got 0\n--reps: must be at least 1, got 0"},
		{"everything excluded", func(s *Spec) { s.VocabSize, s.Exclude = 2, []int{0, 1, 1} },
			"--exclude-tokens: all 2 token ids of the vocabulary are excluded"},
		{"not enough distinct prompts", func(s *Spec) { s.VocabSize, s.Exclude, s.InputLen = 3, []int{0}, 2 },
			// 2 usable ids, length 2: 4 distinct prompts, but (1+2)*(1+2) = 9 needed.
			"--input-len: 9 prompts of 2 tokens cannot all be distinct with 2 usable token ids (3 in the vocabulary, 1 excluded); raise --input-len or shrink the sweep (--batch-sizes, --reps, --warmup)"},
		{"just enough distinct prompts", func(s *Spec) { s.VocabSize, s.InputLen, s.BatchSizes, s.Reps, s.Warmup = 3, 2, []int{9}, 1, 0 }, ""},
		{"too many tokens", func(s *Spec) { s.BatchSizes, s.InputLen, s.Reps, s.Warmup = []int{1 << 20}, 1<<10, 1, 0 },
			"--batch-sizes/--reps/--warmup/--input-len: the sweep needs 1048576 prompts × 1024 tokens = 1073741824 tokens, more than the limit of 268435456; shrink the sweep or --input-len"},
		{"batch sizes overflow", func(s *Spec) { s.BatchSizes = []int{math.MaxInt, math.MaxInt - 1} },
			"--batch-sizes: the batch sizes add up to more than 268435456 prompts"},
		{"reps overflow", func(s *Spec) { s.Reps = math.MaxInt },
			"--reps/--warmup: (1 warm-up + " + strconv.Itoa(math.MaxInt) + " measured) rounds of 3 prompts exceed the limit of 268435456 prompts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			tt.edit(&s)
			err := s.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate() =\n%s\nwant\n%s", got, tt.want)
			}
			if _, gerr := Generate(s); (gerr != nil) != (tt.want != "") {
				t.Errorf("Generate error = %v, want error %v", gerr, tt.want != "")
			}
		})
	}
}

// maxInt32 is a variable so that maxInt32+1 compiles on 32-bit platforms.
var maxInt32 = math.MaxInt32

func TestCells(t *testing.T) {
	t.Parallel()
	s := Spec{InputLen: 1, OutputLen: 1, VocabSize: 50, BatchSizes: []int{2, 1}, Reps: 2, Warmup: 1}
	want := []Cell{
		{BatchSize: 2, Rep: 0, Warmup: true, First: 0},
		{BatchSize: 2, Rep: 0, First: 2},
		{BatchSize: 2, Rep: 1, First: 4},
		{BatchSize: 1, Rep: 0, Warmup: true, First: 6},
		{BatchSize: 1, Rep: 0, First: 7},
		{BatchSize: 1, Rep: 1, First: 8},
	}
	if got := s.Cells(); !slices.Equal(got, want) {
		t.Errorf("Cells() = %+v\nwant %+v", got, want)
	}
	if n, err := s.NumPrompts(); n != 9 || err != nil {
		t.Errorf("NumPrompts() = %d, %v; want 9", n, err)
	}
	if got := want[1].PromptIndexes(); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("PromptIndexes = %v, want [2 3]", got)
	}
}

func TestPrefixLen(t *testing.T) {
	t.Parallel()
	tests := []struct{ v, n, want int }{
		{100, 1, 1}, {100, 100, 1}, {100, 101, 2}, {100, 10000, 2}, {100, 10001, 3},
		{2, 1, 1}, {2, 2, 1}, {2, 3, 2}, {2, 1024, 10}, {2, 1025, 11},
		{128000, 2044, 1}, {128000, 1 << 28, 2},
		{1, 1, 1}, {0, 5, 1}, // degenerate inputs must not loop
		{math.MaxInt32, math.MaxInt, 1 + 2*(strconv.IntSize/64)}, // 3 with 64-bit ints, 1 with 32
	}
	for _, tt := range tests {
		if got := PrefixLen(tt.v, tt.n); got != tt.want {
			t.Errorf("PrefixLen(%d, %d) = %d, want %d", tt.v, tt.n, got, tt.want)
		}
	}
}

// TestGenerateProperties checks, for sweeps that need prefix lengths 1 to 4,
// that prompts have the right shape and ids, that cells tile the prompts, and
// that no two prompts share more than k-1 leading tokens.
func TestGenerateProperties(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		spec       Spec
		wantPrefix int
	}{
		{"big vocab", Spec{Seed: 7, InputLen: 16, OutputLen: 4, VocabSize: 32000, Exclude: []int{0, 1, 2}, BatchSizes: []int{1, 4, 16, 64}, Reps: 3, Warmup: 1}, 1},
		{"N equals V", Spec{Seed: 7, InputLen: 3, OutputLen: 4, VocabSize: 12, Exclude: []int{11, 0}, BatchSizes: []int{10}, Reps: 1}, 1},
		{"two-token prefix", Spec{Seed: 8, InputLen: 5, OutputLen: 4, VocabSize: 10, BatchSizes: []int{8, 24}, Reps: 2, Warmup: 1}, 2},
		{"full code space", Spec{Seed: 9, InputLen: 2, OutputLen: 1, VocabSize: 5, Exclude: []int{2}, BatchSizes: []int{16}, Reps: 1}, 2},
		{"binary vocab", Spec{Seed: 10, InputLen: 12, OutputLen: 1, VocabSize: 3, Exclude: []int{1}, BatchSizes: []int{1, 2, 4}, Reps: 1, Warmup: 1}, 4},
		{"negative seed", Spec{Seed: -3, InputLen: 1, OutputLen: 1, VocabSize: 9, BatchSizes: []int{3}, Reps: 3}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, err := Generate(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := tt.spec.NumPrompts()
			if len(w.Prompts) != n {
				t.Fatalf("%d prompts, want %d", len(w.Prompts), n)
			}
			if w.PrefixLen != tt.wantPrefix {
				t.Errorf("PrefixLen = %d, want %d", w.PrefixLen, tt.wantPrefix)
			}
			excluded := map[int32]bool{}
			for _, id := range tt.spec.Exclude {
				excluded[int32(id)] = true
			}
			for i, p := range w.Prompts {
				if len(p) != tt.spec.InputLen {
					t.Fatalf("prompt %d has %d tokens", i, len(p))
				}
				for _, id := range p {
					if id < 0 || int(id) >= tt.spec.VocabSize || excluded[id] {
						t.Fatalf("prompt %d has forbidden id %d", i, id)
					}
				}
			}
			maxLCP := 0
			for i := range w.Prompts {
				for j := i + 1; j < len(w.Prompts); j++ {
					maxLCP = max(maxLCP, lcp(w.Prompts[i], w.Prompts[j]))
				}
			}
			if maxLCP != w.PrefixLen-1 {
				// Equality, not just <=: k is minimal, so some pair must
				// share k-1 tokens (pigeonhole).
				t.Errorf("longest common prefix = %d, want %d", maxLCP, w.PrefixLen-1)
			}
			next := 0
			for _, c := range w.Cells {
				if c.First != next {
					t.Fatalf("cell %+v starts at %d, want %d", c, c.First, next)
				}
				next += c.BatchSize
			}
			if next != n {
				t.Errorf("cells cover %d prompts, want %d", next, n)
			}
			again, _ := Generate(tt.spec)
			if again.SHA256 != w.SHA256 || !slices.EqualFunc(again.Prompts, w.Prompts, slices.Equal) {
				t.Error("Generate is not deterministic")
			}
			other := tt.spec
			other.Seed++
			if o, _ := Generate(other); o.SHA256 == w.SHA256 {
				t.Error("a different seed gave the same workload")
			}
		})
	}
}

func lcp(a, b []int32) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// TestTokenUniformity is a coarse chi-square check that tokens beyond the
// prefix are uniform over the usable ids.
func TestTokenUniformity(t *testing.T) {
	t.Parallel()
	s := Spec{Seed: 3, InputLen: 1000, OutputLen: 1, VocabSize: 20, Exclude: []int{0, 5, 19}, BatchSizes: []int{17}, Reps: 6}
	w, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[int32]int{}
	total := 0
	for _, p := range w.Prompts {
		for _, id := range p[w.PrefixLen:] {
			counts[id]++
			total++
		}
	}
	if len(counts) != 17 {
		t.Fatalf("%d distinct ids drawn, want 17", len(counts))
	}
	exp := float64(total) / 17
	chi2 := 0.0
	for _, c := range counts {
		chi2 += (float64(c) - exp) * (float64(c) - exp) / exp
	}
	// 16 degrees of freedom: P(chi2 > 39.25) = 0.001.
	if chi2 > 39.25 {
		t.Errorf("chi-square = %.1f over 16 d.o.f.: tokens are not uniform", chi2)
	}
}

func TestRNG(t *testing.T) {
	t.Parallel()
	r := &rng{src: rand.NewPCG(1, 2)}
	for _, n := range []uint64{1, 2, 3, 1<<63 + 1, math.MaxUint64} {
		for range 100 {
			if x := r.bounded(n); x >= n {
				t.Fatalf("bounded(%d) = %d", n, x)
			}
		}
	}
	// m == n: Floyd's algorithm must return a permutation of [0, n).
	got := r.distinct(50, 50)
	slices.Sort(got)
	for i, x := range got {
		if x != uint64(i) {
			t.Fatalf("distinct(50, 50) sorted = %v", got)
		}
	}
}

// pinnedSpec is a realistic sweep (Llama-3-sized vocabulary, its 256
// reserved special tokens excluded) whose output is pinned in code, so that
// a change to the generator fails even if someone regenerates the goldens.
var pinnedSpec = Spec{
	Seed: 20240601, InputLen: 128, OutputLen: 128, VocabSize: 128256,
	Exclude:    seq(128000, 128256),
	BatchSizes: []int{1, 2, 4, 8, 16, 32, 64}, Reps: 3, Warmup: 1,
}

func seq(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

func TestPinned(t *testing.T) {
	t.Parallel()
	w, err := Generate(pinnedSpec)
	if err != nil {
		t.Fatal(err)
	}
	const wantHash = "87c92766e585e11105fb224174568cae80fda2612180d0434e95bef6ebddc7e2"
	wantFirst := []int32{82247, 36043, 27309, 55407, 62363, 41373, 118928, 111634}
	if got := w.Prompts[0][:8]; !slices.Equal(got, wantFirst) {
		t.Errorf("first tokens of prompt 0 = %v, want %v", got, wantFirst)
	}
	if w.SHA256 != wantHash {
		t.Errorf("SHA256 = %s, want %s", w.SHA256, wantHash)
	}
}

func TestHashVectors(t *testing.T) {
	t.Parallel()
	// Computed with the Python function in Hash's doc comment.
	tests := []struct {
		prompts [][]int32
		want    string
	}{
		{nil, "95dff8b92e6307b833d732c64af2aa8057114f0fe3fb90d2492fc76bedd10785"},
		{[][]int32{{0, 1, 2}, {128255, 7}}, "dbc04cc7c9c80927a50078f6cd5de83e9b3209804a76dc14b039196cde31405c"},
		{[][]int32{{}}, "df5275cf7d0577d45aee7016fb97e2ba5ba67e5d61efef6f32d316b2961db873"},
	}
	for _, tt := range tests {
		if got := Hash(tt.prompts); got != tt.want {
			t.Errorf("Hash(%v) = %s, want %s", tt.prompts, got, tt.want)
		}
	}
	// With output lengths (HashWithOutputs' doc comment, in Python).
	if got, want := HashWithOutputs([][]int32{{0, 1, 2}, {128255, 7}}, []int{3, 5}), "76786c9876086ba0097d6627898b023642b6bdea4bb40be60647cb48b11c1a44"; got != want {
		t.Errorf("HashWithOutputs = %s, want %s", got, want)
	}
}

var goldenSpec = Spec{Seed: 42, InputLen: 8, OutputLen: 16, VocabSize: 1000, Exclude: []int{2, 0, 1, 2}, BatchSizes: []int{1, 2}, Reps: 2, Warmup: 1}

// TestGoldenFile pins the file format and the generator on a small sweep.
// Regenerate with: go test ./offline/workload -run TestGoldenFile -update
func TestGoldenFile(t *testing.T) {
	t.Parallel()
	w, err := Generate(goldenSpec)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := w.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "small.golden.json")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("encoded workload differs from %s (run with -update if the change is intended):\n%s", golden, buf.Bytes())
	}
	if !slices.Equal(w.Spec.Exclude, []int{0, 1, 2}) {
		t.Errorf("Spec.Exclude = %v, want it sorted and deduplicated", w.Spec.Exclude)
	}
	if !slices.Equal(goldenSpec.Exclude, []int{2, 0, 1, 2}) {
		t.Error("Generate modified the caller's spec")
	}
}

func TestWriteRead(t *testing.T) {
	t.Parallel()
	w, err := Generate(goldenSpec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "workload.json")
	if err := w.Write(path); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.SHA256 != w.SHA256 || got.PrefixLen != w.PrefixLen || !slices.Equal(got.Cells, w.Cells) ||
		!slices.EqualFunc(got.Prompts, w.Prompts, slices.Equal) || !specEqual(got.Spec, w.Spec) {
		t.Errorf("Read(Write(w)) differs from w:\n%+v\n%+v", got, w)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("Write left temporary files behind: %v", entries)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("Read(missing) = %v", err)
	}
	if err := w.Write(filepath.Join(t.TempDir(), "no", "dir", "w.json")); err == nil {
		t.Error("Write into a missing directory succeeded")
	}
}

func specEqual(a, b Spec) bool {
	return a.Seed == b.Seed && a.InputLen == b.InputLen && a.OutputLen == b.OutputLen && a.VocabSize == b.VocabSize &&
		slices.Equal(a.Exclude, b.Exclude) && slices.Equal(a.BatchSizes, b.BatchSizes) && a.Reps == b.Reps && a.Warmup == b.Warmup
}

// TestDecodeErrors corrupts a valid file in many ways. Where a test needs to
// get past the hash check, it rewrites the recorded hash to match.
func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	small := Spec{Seed: 5, InputLen: 3, OutputLen: 2, VocabSize: 10, Exclude: []int{9}, BatchSizes: []int{2}, Reps: 1}
	w, err := Generate(small)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := w.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	orig := buf.String()
	p0, p1 := w.Prompts[0], w.Prompts[1]
	origPrompts := "[" + join(p0) + "],\n[" + join(p1) + "]"
	if !strings.Contains(orig, origPrompts) {
		t.Fatalf("test setup: prompts %q not found in\n%s", origPrompts, orig)
	}
	// withPrompts replaces the prompts and fixes the recorded hash.
	withPrompts := func(ps ...[]int32) string {
		var parts []string
		for _, p := range ps {
			parts = append(parts, "["+join(p)+"]")
		}
		s := strings.Replace(orig, origPrompts, strings.Join(parts, ",\n"), 1)
		return strings.Replace(s, w.SHA256, Hash(ps), 1)
	}
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"valid", orig, ""},
		{"token changed", strings.Replace(orig, "["+join(p0)+"]", "["+join([]int32{p0[0], p0[1], (p0[2] + 1) % 9})+"]", 1),
			"sha256 mismatch: the file records " + w.SHA256 + " but its prompts hash to "},
		{"truncated", orig[:len(orig)/2], "corrupt workload file: "},
		{"empty", "", "corrupt workload file: unexpected end of file: expected '{'"},
		{"not an object", "[1]", "corrupt workload file: byte 0: expected '{'"},
		{"empty object", "{}", `corrupt workload file: missing key "version"`},
		{"unknown key", strings.Replace(orig, `"prefix_len"`, `"prefix_length"`, 1), `corrupt workload file: unknown key "prefix_length"`},
		{"unknown spec field", strings.Replace(orig, `"reps"`, `"repetitions"`, 1), `corrupt workload file: key "spec": json: unknown field "repetitions"`},
		{"newer version", strings.Replace(orig, `"version":1`, `"version":4`, 1), "unsupported workload format version 4 (this build reads versions 1 to 3)"},
		{"version 2 random", strings.Replace(orig, `"version":1`, `"version":2`, 1), "a random or shared-prefix workload is format version 1"},
		{"missing key", strings.Replace(orig, "\"prefix_len\":1,\n", "", 1), `corrupt workload file: missing key "prefix_len"`},
		{"trailing data", orig + "{}", "corrupt workload file: byte 318: trailing data after the JSON document"},
		{"float id", strings.Replace(orig, "["+join(p0)+"]", "["+join(p0[:2])+",1.0]", 1), "corrupt workload file: key \"prompts\": prompt 0: byte 303: token ids must be integers"},
		{"leading zero", strings.Replace(orig, "["+join(p0)+"]", "[01,"+join(p0[1:])+"]", 1), "corrupt workload file: key \"prompts\": prompt 0: byte 299: token id with a leading zero"},
		{"huge id", strings.Replace(orig, "["+join(p0)+"]", "[2147483648,"+join(p0[1:])+"]", 1), "corrupt workload file: key \"prompts\": prompt 0: byte 299: token id out of range"},
		{"string id", strings.Replace(orig, "["+join(p0)+"]", `["1",`+join(p0[1:])+"]", 1), "corrupt workload file: key \"prompts\": prompt 0: byte 299: expected a token id"},
		{"missing comma", strings.Replace(orig, "["+join(p0)+"]", "[1 2 3]", 1), "corrupt workload file: key \"prompts\": prompt 0: byte 301: expected ']'"},
		{"unterminated", strings.TrimSuffix(orig, "]}\n"), "corrupt workload file: key \"prompts\": unexpected end of file: expected ']'"},
		{"unterminated key", `{"vers`, "corrupt workload file: unexpected end of file: unterminated string"},
		{"bad sha type", strings.Replace(orig, `"sha256":"`, `"sha256":["`, 1), "corrupt workload file: key \"sha256\": "},
		{"bad cells", strings.Replace(orig, `"rep":0`, `"rep":1`, 1), "cells do not match the spec's batch sizes, reps and warmup"},
		{"bad prefix_len", strings.Replace(orig, `"prefix_len":1`, `"prefix_len":2`, 1), "prefix_len is 2, but 2 prompts over 9 usable ids need 1"},
		{"bad spec", strings.Replace(orig, `"reps":1`, `"reps":0`, 1), "invalid spec in workload file: --reps: must be at least 1, got 0"},
		{"unsorted exclude", strings.Replace(strings.Replace(orig, `"exclude":[9]`, `"exclude":[9,8]`, 1), `"vocab_size":10`, `"vocab_size":10`, 1),
			"spec.exclude is not sorted and deduplicated"},
		{"too few prompts", withPrompts(p0), "1 prompts, but the spec's sweep needs 2"},
		{"short prompt", withPrompts(p0, p1[:2]), "prompt 1 has 2 tokens, want input_len 3"},
		{"excluded id", withPrompts(p0, []int32{p1[0], 9, p1[2]}), "prompt 1 token 1: id 9 is outside the usable vocabulary"},
		{"negative id", withPrompts(p0, []int32{p1[0], -1, p1[2]}), "prompt 1 token 1: id -1 is outside the usable vocabulary"},
		{"shared prefix", withPrompts(p0, []int32{p0[0], p1[1], p1[2]}), "prompts 0 and 1 share their first 1 tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(strings.NewReader(tt.doc))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Decode: %v", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("Decode error = %v\nwant prefix %q", err, tt.want)
			}
			if strings.HasPrefix(tt.want, "sha256") && !errors.Is(err, ErrHashMismatch) {
				t.Errorf("error %v does not wrap ErrHashMismatch", err)
			}
		})
	}
}

func join(p []int32) string {
	var b strings.Builder
	for i, id := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(id)))
	}
	return b.String()
}

// TestDecodeOtherLayout reads a document as Python's json.dump(indent=1)
// would write it, with the keys in another order.
func TestDecodeOtherLayout(t *testing.T) {
	t.Parallel()
	w, err := Generate(goldenSpec)
	if err != nil {
		t.Fatal(err)
	}
	doc := struct {
		Prompts   [][]int32 `json:"prompts"`
		Cells     []Cell    `json:"cells"`
		SHA256    string    `json:"sha256"`
		PrefixLen int       `json:"prefix_len"`
		Spec      Spec      `json:"spec"`
		Version   int       `json:"version"`
	}{w.Prompts, w.Cells, w.SHA256, w.PrefixLen, w.Spec, 1}
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Decode: %v\n%s", err, b)
	}
	if got.SHA256 != w.SHA256 || !slices.EqualFunc(got.Prompts, w.Prompts, slices.Equal) {
		t.Error("decoded workload differs")
	}
}

// A shared-prefix workload: groups interleaved, each prompt its group's
// prefix then a suffix no other prompt shares; it round-trips through the
// file, and the random workload's prompts do not depend on it.
func TestSharedPrefix(t *testing.T) {
	base := Spec{Seed: 5, InputLen: 6, OutputLen: 2, VocabSize: 300, BatchSizes: []int{1, 4}, Reps: 2, Warmup: 1}
	random, err := Generate(base)
	if err != nil {
		t.Fatal(err)
	}
	s := base
	s.Dataset, s.SharedPrefix, s.PrefixGroups = DatasetSharedPrefix, 5, 3
	w, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range w.Prompts {
		if len(p) != 11 || !slices.Equal(p[5:], random.Prompts[i]) {
			t.Fatalf("prompt %d = %v: want its group's 5-token prefix then the random workload's prompt %v", i, p, random.Prompts[i])
		}
		if g := i % 3; !slices.Equal(p[:5], w.Prompts[g][:5]) {
			t.Errorf("prompt %d does not carry group %d's prefix", i, g)
		}
	}
	if w.Prompts[0][0] == w.Prompts[1][0] || w.Prompts[1][0] == w.Prompts[2][0] || w.Prompts[0][0] == w.Prompts[2][0] {
		t.Error("two groups share a first token")
	}
	// Cells: bs1 warm-up (prompt 0), reps (1, 2), bs4 warm-up (3-6), reps (7-10), (11-14).
	if got, want := w.MaxCachedTokens(), []int{0, 0, 0, 4 * 5, 4 * 5, 4 * 5}; !slices.Equal(got, want) {
		t.Errorf("MaxCachedTokens = %v, want %v", got, want)
	}
	path := filepath.Join(t.TempDir(), "w.json")
	if err := w.Write(path); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil || back.SHA256 != w.SHA256 || back.Spec.PromptLen() != 11 {
		t.Fatalf("Read: %v", err)
	}
	for _, bad := range []Spec{
		{Seed: 1, InputLen: 4, OutputLen: 1, VocabSize: 100, BatchSizes: []int{1}, Reps: 1, SharedPrefix: 3},
		{Seed: 1, InputLen: 4, OutputLen: 1, VocabSize: 100, BatchSizes: []int{1}, Reps: 1, Dataset: DatasetSharedPrefix},
		{Seed: 1, InputLen: 4, OutputLen: 1, VocabSize: 100, BatchSizes: []int{1}, Reps: 1, Dataset: "sharegpt"},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
