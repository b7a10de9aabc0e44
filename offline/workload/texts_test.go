package workload

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// shareGPTSpec is a small ShareGPT sweep: 1 × (2 + 2) = 4 prompts.
func shareGPTSpec() Spec {
	return Spec{Seed: 5, OutputLen: 8, VocabSize: 100, Exclude: []int{0, 1, 2}, BatchSizes: []int{1},
		Reps: 2, Warmup: 2, Dataset: DatasetShareGPT, MinInputLen: 2, MaxInputLen: 6,
		Source: &Source{File: "chats.json", SHA256: strings.Repeat("ab", 32), Entries: 12}}
}

// texts are eight tokenized entries; entries 3..5 break one rule each.
func texts() []Text {
	return []Text{
		{Entry: 0, Prompt: []int32{1, 10, 11}, HasReply: true, ReplyTokens: 4},
		{Entry: 1, Prompt: []int32{1, 12, 13, 14}, HasReply: true, ReplyTokens: 9},
		{Entry: 2, Prompt: []int32{1, 15}, HasReply: true, ReplyTokens: 2},
		{Entry: 3, Prompt: []int32{1}, HasReply: true, ReplyTokens: 3},                      // too short
		{Entry: 4, Prompt: []int32{1, 2, 3, 4, 5, 6, 7}, HasReply: true, ReplyTokens: 3},    // too long
		{Entry: 5, Prompt: []int32{1, 10, 11}, HasReply: true, ReplyTokens: 1},              // duplicate of 0
		{Entry: 7, Prompt: []int32{1, 16, 17, 18, 19}, HasReply: false},                     // no reply
		{Entry: 8, Prompt: []int32{1, 20, 21}, HasReply: true, ReplyTokens: 0},              // empty reply
		{Entry: 9, Prompt: []int32{1, 22, 23, 24, 25, 26}, HasReply: true, ReplyTokens: 40}, // long reply
	}
}

func TestFromTexts(t *testing.T) {
	fileSkips := map[string]int{"first_turn_not_human": 2, "malformed_turn": 1}
	tests := []struct {
		name      string
		edit      func(*Spec)
		maxTotal  int
		entries   []int // the usable entries, any order
		skipped   map[string]int
		reference bool
	}{
		{
			name:    "fixed output",
			entries: []int{0, 1, 2, 7, 8, 9},
			skipped: map[string]int{"first_turn_not_human": 2, "malformed_turn": 1, SkipPromptTooShort: 1, SkipPromptTooLong: 1, SkipDuplicate: 1},
		},
		{
			name:      "reference output",
			edit:      func(s *Spec) { s.OutputLen, s.ReferenceOutput = 0, true },
			entries:   []int{0, 1, 2, 9},
			skipped:   map[string]int{"first_turn_not_human": 2, "malformed_turn": 1, SkipPromptTooShort: 1, SkipPromptTooLong: 1, SkipDuplicate: 1, SkipNoReply: 1, SkipEmptyReply: 1},
			reference: true,
		},
		{
			name:      "context",
			edit:      func(s *Spec) { s.OutputLen, s.ReferenceOutput, s.MaxInputLen = 0, true, 0 },
			maxTotal:  14,
			entries:   []int{0, 1, 2, 4},
			skipped:   map[string]int{"first_turn_not_human": 2, "malformed_turn": 1, SkipPromptTooShort: 1, SkipDuplicate: 1, SkipNoReply: 1, SkipEmptyReply: 1, SkipExceedsContext: 1},
			reference: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shareGPTSpec()
			if tt.edit != nil {
				tt.edit(&s)
			}
			w, err := FromTexts(s, texts(), fileSkips, tt.maxTotal, &Tokenizer{Class: "T", Transformers: "1", VocabSize: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(w.Skipped, tt.skipped) {
				t.Errorf("Skipped = %v, want %v", w.Skipped, tt.skipped)
			}
			if len(w.Prompts) != 4 || len(w.Entries) != 4 {
				t.Fatalf("%d prompts, %d entries, want 4", len(w.Prompts), len(w.Entries))
			}
			byEntry := map[int]Text{}
			for _, x := range texts() {
				byEntry[x.Entry] = x
			}
			for i, e := range w.Entries {
				if !slices.Contains(tt.entries, e) {
					t.Errorf("prompt %d is entry %d, not among the usable %v", i, e, tt.entries)
				}
				if !slices.Equal(w.Prompts[i], byEntry[e].Prompt) {
					t.Errorf("prompt %d = %v, want entry %d's %v", i, w.Prompts[i], e, byEntry[e].Prompt)
				}
				want := 8
				if tt.reference {
					want = byEntry[e].ReplyTokens
				}
				if w.OutputLenOf(i) != want {
					t.Errorf("prompt %d: output length %d, want %d", i, w.OutputLenOf(i), want)
				}
			}
			if (w.OutputLens != nil) != tt.reference {
				t.Errorf("OutputLens = %v with reference %v", w.OutputLens, tt.reference)
			}
			if w.SHA256 != HashWithOutputs(w.Prompts, w.OutputLens) {
				t.Error("SHA256 is not the hash of the prompts and output lengths")
			}
			if tt.maxTotal > 0 && w.MaxTotalLen() > tt.maxTotal {
				t.Errorf("MaxTotalLen %d exceeds %d", w.MaxTotalLen(), tt.maxTotal)
			}

			// Deterministic, and the file round-trips.
			again, err := FromTexts(s, texts(), fileSkips, tt.maxTotal, w.Tokenizer)
			if err != nil || again.SHA256 != w.SHA256 || !slices.Equal(again.Entries, w.Entries) {
				t.Errorf("a second build differs: %v", err)
			}
			path := filepath.Join(t.TempDir(), "w.json")
			if err := w.Write(path); err != nil {
				t.Fatal(err)
			}
			got, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.SHA256 != w.SHA256 || !slices.Equal(got.OutputLens, w.OutputLens) || !slices.Equal(got.Entries, w.Entries) ||
				!maps.Equal(got.Skipped, w.Skipped) || *got.Tokenizer != *w.Tokenizer || *got.Spec.Source != *w.Spec.Source {
				t.Errorf("read back %+v, wrote %+v", got, w)
			}
		})
	}
}

func TestFromTextsSeedSelects(t *testing.T) {
	s := shareGPTSpec()
	seen := map[string]bool{}
	for seed := range int64(8) {
		s.Seed = seed
		w, err := FromTexts(s, texts(), nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[w.SHA256] = true
	}
	if len(seen) < 4 {
		t.Errorf("8 seeds gave only %d different workloads", len(seen))
	}
}

func TestFromTextsTooFew(t *testing.T) {
	s := shareGPTSpec()
	s.BatchSizes, s.Reps, s.Warmup = []int{4, 8}, 1, 1
	_, err := FromTexts(s, texts(), map[string]int{"malformed_turn": 3}, 0, nil)
	want := "the sweep needs 24 prompts, but only 6 of the file's 12 entries are usable (skipped: duplicate_prompt 1, malformed_turn 3, prompt_too_long 1, prompt_too_short 1)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

func TestFromTextsRefusesForeignIDs(t *testing.T) {
	tx := texts()
	tx[0].Prompt = []int32{1, 100, 3}
	_, err := FromTexts(shareGPTSpec(), tx, nil, 0, nil)
	if err == nil || !strings.Contains(err.Error(), "outside the model's vocabulary of 100") {
		t.Fatalf("err = %v", err)
	}
}

func TestShareGPTSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"input len", func(s *Spec) { s.InputLen = 8 }, "--input-len: a ShareGPT workload's prompts have the lengths"},
		{"no source", func(s *Spec) { s.Source = nil }, "names no source file"},
		{"min", func(s *Spec) { s.MinInputLen = 0 }, "--min-input-len: must be at least 1"},
		{"max below min", func(s *Spec) { s.MaxInputLen = 1 }, "--max-input-len: 1 is below --min-input-len 2"},
		{"reference with length", func(s *Spec) { s.ReferenceOutput = true }, "no fixed output length"},
		{"reference elsewhere", func(s *Spec) {
			s.Dataset, s.Source, s.MinInputLen, s.MaxInputLen, s.InputLen, s.ReferenceOutput = "", nil, 0, 0, 4, true
		}, "only a ShareGPT workload has reference replies"},
		{"bounds elsewhere", func(s *Spec) { s.Dataset, s.Source, s.InputLen = "", nil, 4 }, "--min-input-len/--max-input-len: they bound a ShareGPT workload"},
		{"prefix", func(s *Spec) { s.SharedPrefix = 3 }, "--prefix-len/--prefix-groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shareGPTSpec()
			tt.edit(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Generate(shareGPTSpec()); err == nil {
		t.Error("Generate drew a ShareGPT workload")
	}
}

func TestShareGPTDecodeErrors(t *testing.T) {
	s := shareGPTSpec()
	s.OutputLen, s.ReferenceOutput = 0, true
	w, err := FromTexts(s, texts(), nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := w.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `{"version":2,`) {
		t.Fatalf("a ShareGPT workload is written as %.20s", buf.String())
	}
	longer := slices.Clone(w.OutputLens)
	longer[0]++
	tests := []struct {
		name string
		edit func(doc map[string]any)
		want string
	}{
		{"edited output length", func(d map[string]any) { d["output_lens"] = longer }, "sha256 mismatch"},
		{"output lengths dropped", func(d map[string]any) {
			delete(d, "output_lens")
			d["sha256"] = HashWithOutputs(w.Prompts, nil)
		}, "spec.reference_output: 0 output_lens for 4 prompts"},
		{"zero output length", func(d map[string]any) {
			zero := slices.Clone(w.OutputLens)
			zero[1] = 0
			d["output_lens"], d["sha256"] = zero, HashWithOutputs(w.Prompts, zero)
		}, "output_lens[1] is 0"},
		{"version 1", func(d map[string]any) { d["version"] = 1 }, "a ShareGPT workload is format version 2"},
		{"entries", func(d map[string]any) { d["entries"] = []int{1} }, "1 entries for 4 prompts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			tt.edit(doc)
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Decode(bytes.NewReader(b))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode = %v, want %q", err, tt.want)
			}
		})
	}
}
