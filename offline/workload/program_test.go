package workload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
)

// The program hash, pinned: Python's engines/base.program_sha256 gives the
// same (pyhost/testdata/adapters/checks.py holds the same vector).
func TestHashProgramVector(t *testing.T) {
	got := HashProgram("é\n", []string{`{"q":"a"}`, `{}`})
	const want = "173bdeabbf8f76cc4a5f8e86f245f933103f92faee58b770dff0a84d2036bb9b"
	if got != want {
		t.Errorf("HashProgram = %s, want %s", got, want)
	}
}

func programSpec(source string) Spec {
	sum := sha256.Sum256([]byte(source))
	return Spec{Seed: 3, VocabSize: 100, BatchSizes: []int{1, 2}, Reps: 1, Warmup: 1, Dataset: DatasetProgram,
		Program: &ProgramFile{File: "p.py", SHA256: hex.EncodeToString(sum[:])}}
}

func TestProgramWorkloadRoundTrip(t *testing.T) {
	src := "@sgl.function\ndef program(s, q): pass\n"
	args := []string{`{"q":"0"}`, `{"q":"1"}`, `{"q":"2"}`, `{"q":"3"}`, `{"q":"<4>"}`, `{"q":"5"}`}
	for _, features := range [][]string{{FeatureConstrained}, {}, nil} {
		wl, err := FromProgram(programSpec(src), src, args, features)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := wl.Encode(&buf); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("Decode: %v\n%s", err, buf.String())
		}
		if got.SHA256 != wl.SHA256 || got.ProgramSource != src || !slices.Equal(got.Arguments, args) || !slices.Equal(got.Cells, wl.Cells) ||
			(got.Features == nil) != (features == nil) || wl.FormatVersion() != 3 {
			t.Errorf("round trip: %+v, want %+v", got, wl)
		}
	}
}

func TestProgramWorkloadErrors(t *testing.T) {
	src := "program\n"
	args := []string{`{}`, `{}`, `{}`, `{}`, `{}`, `{}`}
	wl, err := FromProgram(programSpec(src), src, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := wl.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	cases := []struct {
		name, file string
		want       string
	}{
		{"an argument edited", strings.Replace(file, `"{}"`, `"{\"x\":1}"`, 1), ErrHashMismatch.Error()},
		{"the source edited", strings.Replace(file, `program\n`, `program2\n`, 1), ErrHashMismatch.Error()},
		{"version 2", strings.Replace(file, `"version":3`, `"version":2`, 1), "format version 3"},
		{"prompts in it", strings.Replace(file, `"prompts":[`, `"prompts":[[1]`, 1), "no prompts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode: %v, want %q", err, c.want)
			}
		})
	}
	if _, err := FromProgram(programSpec(src), src, args[:5], nil); err == nil || !strings.Contains(err.Error(), "5 argument dicts for a sweep of 6") {
		t.Errorf("too few arguments: %v", err)
	}
	if _, err := FromProgram(programSpec(src), src, append(args[:5:5], `[1]`), nil); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Errorf("a list for a dict: %v", err)
	}
	if _, err := FromProgram(programSpec(src), "changed", args, nil); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("another source: %v", err)
	}
	bad := programSpec(src)
	bad.OutputLen = 5
	if _, err := FromProgram(bad, src, args, nil); err == nil || !strings.Contains(err.Error(), "--output-len") {
		t.Errorf("an output length: %v", err)
	}
}
