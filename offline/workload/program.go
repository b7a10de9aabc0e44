package workload

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// DatasetProgram: SGLang frontend programs (`@sgl.function`) run with
// run_batch; a cell of batch size B runs B programs, each with an argument
// dict of its own. See FromProgram.
const DatasetProgram = "program"

// ProgramFile names the program file a program workload runs.
type ProgramFile struct {
	// File is the file's base name, for the reader; SHA256 is the SHA-256
	// of its bytes.
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
}

// IsProgram reports whether s is a workload of frontend programs.
func (s Spec) IsProgram() bool { return s.Dataset == DatasetProgram }

// Program features a program file may use that an engine might lack: the
// pre-flight checks each engine for them before any model loads.
const (
	// FeatureConstrained: a gen with a regex or a JSON schema.
	FeatureConstrained = "constrained"
	// FeatureSelect: a choice scored by the logprobs of each option.
	FeatureSelect = "select"
)

// hashProgramMagic starts the hashed byte stream of a program workload.
const hashProgramMagic = "enginebench/workload/program/v1\n"

// HashProgram is a program workload's hash, 64 lowercase hex digits: the
// SHA-256 of
//
//	"enginebench/workload/program/v1\n"   32 ASCII bytes
//	u32(len(source)) source               the program file's bytes
//	u32(number of arguments)
//	for each argument: u32(len) bytes     its JSON text, UTF-8
//
// with u32 as 4 little-endian bytes. It proves that every engine ran the
// same program with the same arguments. Python's
// enginebench_host.engines.base.program_sha256 computes the same.
func HashProgram(source string, arguments []string) string {
	h := sha256.New()
	h.Write([]byte(hashProgramMagic))
	var buf []byte
	put := func(s string) {
		buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(s)))
		h.Write(buf)
		h.Write([]byte(s))
	}
	put(source)
	buf = binary.LittleEndian.AppendUint32(buf[:0], uint32(len(arguments)))
	h.Write(buf)
	for _, a := range arguments {
		put(a)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// FromProgram builds a program workload: spec (with Dataset
// DatasetProgram and Program set), the program file's source, and one
// argument dict per program of the sweep, each a JSON object's text
// (Python's json.dumps of the dict, as the short-lived helper wrote it;
// the bytes are hashed as they are). features lists what the program
// uses (FeatureConstrained, FeatureSelect); nil when a dry run could not
// tell.
func FromProgram(spec Spec, source string, arguments []string, features []string) (*Workload, error) {
	spec = spec.normalized()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	n, _ := spec.NumPrompts()
	if len(arguments) != n {
		return nil, fmt.Errorf("--program: %d argument dicts for a sweep of %d programs", len(arguments), n)
	}
	for i, a := range arguments {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(a), &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("--program: argument %d is not a JSON object: %.80q", i, a)
		}
	}
	if sum := sha256.Sum256([]byte(source)); hex.EncodeToString(sum[:]) != spec.Program.SHA256 {
		return nil, errors.New("--program: the program file changed while its arguments were made; run again")
	}
	return &Workload{Spec: spec, Cells: spec.Cells(), Prompts: [][]int32{}, ProgramSource: source, Arguments: arguments,
		Features: features, SHA256: HashProgram(source, arguments)}, nil
}

// validateProgram adds the problems of a program spec to errs.
func (s Spec) validateProgram(add func(format string, a ...any)) {
	if s.Program == nil || s.Program.SHA256 == "" {
		add("--program: the workload names no program file")
	}
	if s.InputLen != 0 || s.OutputLen != 0 || s.ReferenceOutput {
		add("--input-len/--output-len: a program's gens set their own lengths (max_tokens); drop them with --program")
	}
	if s.SharedPrefix != 0 || s.PrefixGroups != 0 || s.Source != nil || s.MinInputLen != 0 || s.MaxInputLen != 0 {
		add("--prefix-len/--prefix-groups/--min-input-len/--max-input-len: they shape token-ID workloads; drop them with --program")
	}
}

// verifyProgram checks a program workload file: its hash, the program
// file's own hash, one JSON object per program.
func (d *fileDoc) verifyProgram(s Spec) (*Workload, error) {
	switch {
	case *d.version != 3:
		return nil, errors.New("a program workload is format version 3")
	case d.program == nil:
		return nil, errors.New(`a program workload needs "program": {"source": ...}`)
	case len(d.prompts) != 0 || d.outputLens != nil || d.entries != nil || d.skipped != nil || d.tokenizer != nil:
		return nil, errors.New("a program workload has no prompts, output_lens, entries, skipped or tokenizer")
	}
	if got := HashProgram(d.program.Source, d.arguments); got != *d.sha256 {
		return nil, fmt.Errorf("%w: the file records %s but its program and arguments hash to %s (the file was modified or corrupted)",
			ErrHashMismatch, *d.sha256, got)
	}
	wl, err := FromProgram(s, d.program.Source, d.arguments, d.program.Features)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(wl.Cells, d.cells) {
		return nil, errors.New("cells do not match the spec's batch sizes, reps and warmup")
	}
	return wl, nil
}

// programDoc is the "program" member of a program workload file.
type programDoc struct {
	Source string `json:"source"`
	// Features is null when the dry run could not tell.
	Features []string `json:"features"`
}
