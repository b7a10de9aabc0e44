package workload

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// FormatVersion is the newest workload file format, the one Encode writes
// for a ShareGPT workload. Version 2 adds the keys "output_lens", "entries",
// "skipped" and "tokenizer"; a workload without them (random, shared-prefix)
// is still written as version 1, so that older builds read it. Decode reads
// both.
// Version 3 is a program workload's (DatasetProgram): the keys "program"
// and "arguments", and no prompts.
const FormatVersion = 3

// FormatVersion is the file format version Encode writes for w.
func (w *Workload) FormatVersion() int {
	switch {
	case w.Spec.IsProgram():
		return 3
	case w.Spec.IsShareGPT():
		return 2
	}
	return 1
}

// ErrHashMismatch is returned (wrapped) by Decode and Read when the prompts of
// a workload file do not hash to the SHA-256 recorded in it.
var ErrHashMismatch = errors.New("sha256 mismatch")

var errVersion = errors.New("unsupported workload format version")

// Encode writes w as a JSON document, one cell and one prompt per line:
//
//	{"version":1,
//	"sha256":"<Hash(prompts), 64 lowercase hex digits>",
//	"spec":{"seed":42,"input_len":8,"output_len":16,"vocab_size":1000,"exclude":[0],"batch_sizes":[1,2],"reps":2,"warmup":1},
//	"prefix_len":1,
//	"cells":[
//	{"batch_size":1,"rep":0,"warmup":true,"first":0},
//	...
//	],
//	"prompts":[
//	[17,503,...],
//	...
//	]}
//
// A ShareGPT workload (version 2) adds, before "prompts":
//
//	"tokenizer":{"class":"LlamaTokenizerFast","transformers":"4.57.1","vocab_size":32000},
//	"skipped":{"prompt_too_long":12,"first_turn_not_human":3},
//	"entries":[17,2,...],        each prompt's position in the source file
//	"output_lens":[211,35,...],  with spec.reference_output only
//
// Readers must not depend on key order or layout; Python reads it with
// json.load and can check "sha256" with the function shown at Hash.
func (w *Workload) Encode(out io.Writer) error {
	bw := bufio.NewWriterSize(out, 1<<16)
	spec, err := json.Marshal(w.Spec)
	if err != nil {
		return fmt.Errorf("encode workload spec: %w", err)
	}
	fmt.Fprintf(bw, "{\"version\":%d,\n\"sha256\":%q,\n\"spec\":%s,\n\"prefix_len\":%d,\n\"cells\":[\n",
		w.FormatVersion(), w.SHA256, spec, w.PrefixLen)
	for i, c := range w.Cells {
		if i > 0 {
			bw.WriteString(",\n")
		}
		fmt.Fprintf(bw, `{"batch_size":%d,"rep":%d,"warmup":%t,"first":%d}`, c.BatchSize, c.Rep, c.Warmup, c.First)
	}
	bw.WriteString("\n],\n")
	if w.Spec.IsProgram() {
		// A program workload (version 3), before an empty "prompts":
		//
		//	"program":{"source":"<the program file's text>","features":["constrained"]},
		//	"arguments":[
		//	"{\"question\":\"...\"}",   each program's argument dict, as JSON text
		//	...
		//	],
		prog, err := json.Marshal(programDoc{Source: w.ProgramSource, Features: w.Features})
		if err != nil {
			return fmt.Errorf("encode workload program: %w", err)
		}
		fmt.Fprintf(bw, "\"program\":%s,\n\"arguments\":[\n", prog)
		for i, a := range w.Arguments {
			if i > 0 {
				bw.WriteString(",\n")
			}
			b, err := json.Marshal(a)
			if err != nil {
				return fmt.Errorf("encode workload argument %d: %w", i, err)
			}
			bw.Write(b)
		}
		bw.WriteString("\n],\n")
	}
	if w.Spec.IsShareGPT() {
		extra := []struct {
			key string
			val any
		}{{"tokenizer", w.Tokenizer}, {"skipped", w.Skipped}, {"entries", w.Entries}, {"output_lens", w.OutputLens}}
		for _, e := range extra {
			if e.val == nil || (e.key == "output_lens" && w.OutputLens == nil) {
				continue
			}
			b, err := json.Marshal(e.val)
			if err != nil {
				return fmt.Errorf("encode workload %s: %w", e.key, err)
			}
			fmt.Fprintf(bw, "%q:%s,\n", e.key, b)
		}
	}
	bw.WriteString("\"prompts\":[\n")
	// strconv.AppendInt into one scratch buffer: encoding/json would take
	// several times longer for millions of small integers.
	var buf []byte
	for i, p := range w.Prompts {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ",\n"...)
		}
		buf = append(buf, '[')
		for j, id := range p {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(id), 10)
		}
		buf = append(buf, ']')
		bw.Write(buf)
	}
	bw.WriteString("\n]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("encode workload: %w", err)
	}
	return nil
}

// Write writes w to path atomically: it encodes to a temporary file in the
// same directory and renames it over path, so a reader never sees half a
// workload. It does not fsync: a workload is cheap to regenerate, and the
// rename alone keeps readers from seeing partial files.
func (w *Workload) Write(path string) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write workload: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := w.Encode(f); err != nil {
		return fmt.Errorf("write workload %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write workload %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write workload %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write workload: %w", err)
	}
	return nil
}

// Read reads and verifies the workload file at path (see Decode).
func Read(path string) (*Workload, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workload: %w", err)
	}
	w, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", path, err)
	}
	return w, nil
}

// fileDoc is the decoded form of a workload file.
type fileDoc struct {
	version   *int
	sha256    *string
	spec      *Spec
	prefixLen *int
	cells     []Cell
	prompts   [][]int32
	hasCells  bool
	hasPrompt bool
	// Version 2 (ShareGPT) keys; nil when absent.
	outputLens []int
	entries    []int
	skipped    map[string]int
	tokenizer  *Tokenizer
	// Version 3 (program) keys.
	program   *programDoc
	arguments []string
}

// Decode reads a workload document written by Encode (keys in any order,
// any JSON whitespace) and verifies it: the format version, the spec, the
// cells and prefix length derived from it, the number and length of prompts,
// that every id is in the vocabulary and not excluded, that the first
// PrefixLen tokens of every prompt are unique, and that the prompts hash to
// the recorded SHA-256 (a mismatch wraps ErrHashMismatch). Unknown keys and
// trailing data are errors.
func Decode(r io.Reader) (*Workload, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read workload: %w", err)
	}
	return decode(data)
}

func decode(data []byte) (*Workload, error) {
	var d fileDoc
	if err := d.parse(data); err != nil {
		if errors.Is(err, errVersion) {
			return nil, err
		}
		return nil, fmt.Errorf("corrupt workload file: %w", err)
	}
	return d.verify()
}

// parse decodes the top-level object by hand: encoding/json needs about half
// a second for the two million integers of a big sweep, this parser a few
// tens of milliseconds. The small values still go through encoding/json,
// strictly.
func (d *fileDoc) parse(data []byte) error {
	p := &parser{data: data}
	if err := p.expect('{'); err != nil {
		return err
	}
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			if err := d.member(p); err != nil {
				return err
			}
			p.ws()
			if p.peek() == ',' {
				p.i++
				continue
			}
			if err := p.expect('}'); err != nil {
				return err
			}
			break
		}
	}
	p.ws()
	if p.i != len(data) {
		return fmt.Errorf("byte %d: trailing data after the JSON document", p.i)
	}
	for _, m := range []struct {
		key     string
		missing bool
	}{
		{"version", d.version == nil}, {"sha256", d.sha256 == nil}, {"spec", d.spec == nil},
		{"prefix_len", d.prefixLen == nil}, {"cells", !d.hasCells}, {"prompts", !d.hasPrompt},
	} {
		if m.missing {
			return fmt.Errorf("missing key %q", m.key)
		}
	}
	return nil
}

// member decodes one "key": value pair of the top-level object.
func (d *fileDoc) member(p *parser) error {
	p.ws()
	keyStart := p.i
	if err := p.skipString(); err != nil {
		return err
	}
	var key string
	if err := json.Unmarshal(p.data[keyStart:p.i], &key); err != nil {
		return fmt.Errorf("byte %d: bad key: %w", keyStart, err)
	}
	if err := p.expect(':'); err != nil {
		return err
	}
	p.ws()
	var dst any
	switch key {
	case "version":
		d.version = new(int)
		dst = d.version
	case "sha256":
		d.sha256 = new(string)
		dst = d.sha256
	case "spec":
		d.spec = new(Spec)
		dst = d.spec
	case "prefix_len":
		d.prefixLen = new(int)
		dst = d.prefixLen
	case "cells":
		d.hasCells = true
		dst = &d.cells
	case "output_lens":
		dst = &d.outputLens
	case "entries":
		dst = &d.entries
	case "skipped":
		dst = &d.skipped
	case "tokenizer":
		dst = &d.tokenizer
	case "program":
		dst = &d.program
	case "arguments":
		dst = &d.arguments
	case "prompts":
		d.hasPrompt = true
		ps, err := p.prompts()
		if err != nil {
			return fmt.Errorf("key %q: %w", key, err)
		}
		d.prompts = ps
		return nil
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	start := p.i
	if err := p.skipValue(); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	dec := json.NewDecoder(bytes.NewReader(p.data[start:p.i]))
	// Strict: a misspelt field must not silently become a zero value.
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	// Check the version as soon as it is seen, so that a newer file is
	// reported as such rather than as a decoding error further on.
	if key == "version" && (*d.version < 1 || *d.version > FormatVersion) {
		return fmt.Errorf("%w %d (this build reads versions 1 to %d)", errVersion, *d.version, FormatVersion)
	}
	return nil
}

// parser is a minimal JSON scanner over an in-memory document.
type parser struct {
	data []byte
	i    int
}

func (p *parser) peek() byte {
	if p.i < len(p.data) {
		return p.data[p.i]
	}
	return 0
}

func (p *parser) ws() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) errorf(format string, a ...any) error {
	if p.i >= len(p.data) {
		return fmt.Errorf("unexpected end of file: "+format, a...)
	}
	return fmt.Errorf("byte %d: "+format, append([]any{p.i}, a...)...)
}

func (p *parser) expect(c byte) error {
	p.ws()
	if p.peek() != c {
		return p.errorf("expected %q", c)
	}
	p.i++
	return nil
}

// skipString moves past the JSON string starting at p.i.
func (p *parser) skipString() error {
	if p.peek() != '"' {
		return p.errorf("expected a string")
	}
	for p.i++; p.i < len(p.data); p.i++ {
		switch p.data[p.i] {
		case '\\':
			p.i++ // skip the escaped character
		case '"':
			p.i++
			return nil
		}
	}
	return p.errorf("unterminated string")
}

// skipValue moves past one JSON value; encoding/json validates it afterwards.
func (p *parser) skipValue() error {
	depth := 0
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case '"':
			if err := p.skipString(); err != nil {
				return err
			}
			if depth == 0 {
				return nil
			}
		case '{', '[':
			depth++
			p.i++
		case '}', ']':
			if depth == 0 {
				return nil // the end of the enclosing object: a scalar ended here
			}
			depth--
			p.i++
			if depth == 0 {
				return nil
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return nil
			}
			p.i++
		default:
			p.i++
		}
	}
	if depth > 0 {
		return p.errorf("unterminated value")
	}
	return nil
}

// prompts parses an array of arrays of int32 token ids.
func (p *parser) prompts() ([][]int32, error) {
	if err := p.expect('['); err != nil {
		return nil, err
	}
	// All ids go into one growing array, sliced at the end, so a prompt
	// costs no allocation of its own.
	// Token ids take at least two bytes each ("7,"); most take more, so
	// this rarely has to grow and never wastes more than it saves.
	flat := make([]int32, 0, (len(p.data)-p.i)/5)
	var ends []int
	p.ws()
	if p.peek() == ']' {
		p.i++
		return [][]int32{}, nil
	}
	for {
		if err := p.expect('['); err != nil {
			return nil, err
		}
		p.ws()
		if p.peek() == ']' {
			p.i++
		} else {
			for {
				p.ws()
				id, err := p.int32()
				if err != nil {
					return nil, fmt.Errorf("prompt %d: %w", len(ends), err)
				}
				flat = append(flat, id)
				p.ws()
				if p.peek() == ',' {
					p.i++
					continue
				}
				if err := p.expect(']'); err != nil {
					return nil, fmt.Errorf("prompt %d: %w", len(ends), err)
				}
				break
			}
		}
		ends = append(ends, len(flat))
		p.ws()
		if p.peek() == ',' {
			p.i++
			continue
		}
		if err := p.expect(']'); err != nil {
			return nil, err
		}
		break
	}
	prompts := make([][]int32, len(ends))
	start := 0
	for i, end := range ends {
		prompts[i] = flat[start:end:end]
		start = end
	}
	return prompts, nil
}

// int32 parses a JSON integer (no fraction or exponent) that fits an int32.
func (p *parser) int32() (int32, error) {
	start := p.i
	fail := func(msg string) (int32, error) {
		p.i = start
		return 0, p.errorf("%s", msg)
	}
	if p.peek() == '-' {
		p.i++
	}
	digits := p.i
	var v int64
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		v = v*10 + int64(p.data[p.i]-'0')
		if v > 1<<31 {
			return fail("token id out of range")
		}
		p.i++
	}
	switch {
	case p.i == digits:
		return fail("expected a token id")
	case p.data[digits] == '0' && p.i-digits > 1:
		return fail("token id with a leading zero")
	case p.peek() == '.' || p.peek() == 'e' || p.peek() == 'E':
		return fail("token ids must be integers")
	}
	if p.data[start] == '-' {
		v = -v
	}
	if v > 1<<31-1 {
		return fail("token id out of range")
	}
	return int32(v), nil
}

func (d *fileDoc) verify() (*Workload, error) {
	if d.spec.IsProgram() || d.program != nil || d.arguments != nil {
		if !d.spec.IsProgram() {
			return nil, errors.New(`"program" and "arguments" belong to a program workload (spec.dataset "program")`)
		}
		return d.verifyProgram(*d.spec)
	}
	// The hash comes first: any edit to the prompts is reported as such.
	if got := HashWithOutputs(d.prompts, d.outputLens); got != *d.sha256 {
		return nil, fmt.Errorf("%w: the file records %s but its prompts hash to %s (the file was modified or corrupted)",
			ErrHashMismatch, *d.sha256, got)
	}
	s := *d.spec
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("invalid spec in workload file: %w", err)
	}
	if ns := s.normalized(); !slices.Equal(ns.Exclude, s.Exclude) {
		return nil, errors.New("spec.exclude is not sorted and deduplicated")
	}
	if s.Exclude == nil {
		s.Exclude = []int{}
	}
	if want := s.Cells(); !slices.Equal(d.cells, want) {
		return nil, errors.New("cells do not match the spec's batch sizes, reps and warmup")
	}
	n, _ := s.NumPrompts()
	if len(d.prompts) != n {
		return nil, fmt.Errorf("%d prompts, but the spec's sweep needs %d", len(d.prompts), n)
	}
	if s.IsShareGPT() {
		return d.verifyTexts(s)
	}
	if *d.version != 1 || d.outputLens != nil || d.entries != nil || d.skipped != nil || d.tokenizer != nil {
		return nil, errors.New("a random or shared-prefix workload is format version 1, without output_lens, entries, skipped or tokenizer")
	}
	v := s.Usable()
	k := PrefixLen(v, n)
	if *d.prefixLen != k {
		return nil, fmt.Errorf("prefix_len is %d, but %d prompts over %d usable ids need %d", *d.prefixLen, n, v, k)
	}
	// A slice, not a map: this check runs for every token.
	usable := make([]bool, s.VocabSize)
	for i := range usable {
		usable[i] = true
	}
	for _, id := range s.Exclude {
		usable[id] = false
	}
	prefixes := make(map[string]int, n)
	for i, p := range d.prompts {
		if len(p) != s.PromptLen() {
			return nil, fmt.Errorf("prompt %d has %d tokens, want input_len %d", i, len(p), s.PromptLen())
		}
		for j, id := range p {
			if id < 0 || int(id) >= s.VocabSize || !usable[id] {
				return nil, fmt.Errorf("prompt %d token %d: id %d is outside the usable vocabulary", i, j, id)
			}
		}
		// In a shared-prefix workload the unique part is the suffix.
		start := s.PromptLen() - s.InputLen
		key := prefixKey(p[start : start+k])
		if prev, dup := prefixes[key]; dup {
			return nil, fmt.Errorf("prompts %d and %d share their first %d tokens after the shared prefix", prev, i, k)
		}
		prefixes[key] = i
	}
	return &Workload{Spec: s, PrefixLen: k, Cells: d.cells, Prompts: d.prompts, SHA256: *d.sha256}, nil
}

// verifyTexts checks a ShareGPT workload's prompts and lengths: every id in
// the vocabulary (special tokens included: the tokenizer adds BOS), every
// prompt within the spec's length bounds and unlike any other, and an output
// length per prompt exactly when the spec asks for reference lengths.
func (d *fileDoc) verifyTexts(s Spec) (*Workload, error) {
	n := len(d.prompts)
	switch {
	case *d.version < 2:
		return nil, errors.New("a ShareGPT workload is format version 2")
	case *d.prefixLen != 0:
		return nil, fmt.Errorf("prefix_len is %d; a ShareGPT workload's is 0", *d.prefixLen)
	case s.ReferenceOutput && len(d.outputLens) != n:
		return nil, fmt.Errorf("spec.reference_output: %d output_lens for %d prompts", len(d.outputLens), n)
	case !s.ReferenceOutput && d.outputLens != nil:
		return nil, errors.New("output_lens without spec.reference_output")
	case d.entries != nil && len(d.entries) != n:
		return nil, fmt.Errorf("%d entries for %d prompts", len(d.entries), n)
	}
	seen := make(map[string]int, n)
	for i, p := range d.prompts {
		if len(p) < s.MinInputLen || (s.MaxInputLen > 0 && len(p) > s.MaxInputLen) {
			return nil, fmt.Errorf("prompt %d has %d tokens, outside min_input_len %d .. max_input_len %d", i, len(p), s.MinInputLen, s.MaxInputLen)
		}
		for j, id := range p {
			if id < 0 || int(id) >= s.VocabSize {
				return nil, fmt.Errorf("prompt %d token %d: id %d is outside the vocabulary [0, %d)", i, j, id, s.VocabSize)
			}
		}
		key := prefixKey(p)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("prompts %d and %d are the same", prev, i)
		}
		seen[key] = i
		if d.outputLens != nil && d.outputLens[i] < 1 {
			return nil, fmt.Errorf("output_lens[%d] is %d; every request generates at least 1 token", i, d.outputLens[i])
		}
	}
	for reason, count := range d.skipped {
		if count < 0 {
			return nil, fmt.Errorf("skipped[%q] is %d", reason, count)
		}
	}
	return &Workload{Spec: s, Cells: d.cells, Prompts: d.prompts, OutputLens: d.outputLens, Entries: d.entries,
		Skipped: d.skipped, Tokenizer: d.tokenizer, SHA256: *d.sha256}, nil
}

func prefixKey(ids []int32) string {
	b := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	return string(b)
}
