package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func intp(n int) *int { return &n }

func TestTally(t *testing.T) {
	req := func(prompt, out int, cached *int) Request {
		return Request{PromptTokens: prompt, OutputTokens: out, CachedTokens: cached}
	}
	tests := []struct {
		name      string
		row       Row
		wantFlags []string
		wantOut   int
		wantShort int
		wantCache int
	}{
		{"clean", Row{BatchSize: 2, Detail: []Request{req(8, 4, intp(0)), req(8, 4, intp(0))}}, []string{}, 8, 0, 0},
		{"short output counted as returned", Row{BatchSize: 2, Detail: []Request{req(8, 1, nil), req(8, 4, nil)}}, []string{FlagShortOutput}, 5, 1, 0},
		{"cached tokens", Row{BatchSize: 1, Detail: []Request{req(8, 4, intp(3))}}, []string{FlagCachedTokens}, 4, 0, 3},
		{"long output", Row{BatchSize: 1, Detail: []Request{req(8, 5, nil)}}, []string{FlagLongOutput}, 5, 0, 0},
		{"prompt mismatch", Row{BatchSize: 1, Detail: []Request{req(7, 4, nil)}}, []string{FlagPromptMismatch}, 4, 0, 0},
		{"missing requests", Row{BatchSize: 3, Detail: []Request{req(8, 4, nil)}}, []string{FlagMissingRequests}, 4, 0, 0},
		{"error", Row{BatchSize: 2, Error: "boom"}, []string{FlagError}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.row
			r.Tally(FixedLengths(8, 4), false)
			if !reflect.DeepEqual(r.Flags, tt.wantFlags) {
				t.Errorf("flags = %v, want %v", r.Flags, tt.wantFlags)
			}
			if r.OutputTokens != tt.wantOut || r.ShortRequests != tt.wantShort || r.CachedTokens != tt.wantCache {
				t.Errorf("output %d short %d cached %d, want %d %d %d", r.OutputTokens, r.ShortRequests, r.CachedTokens, tt.wantOut, tt.wantShort, tt.wantCache)
			}
			if r.ExpectedOutputTokens != r.BatchSize*4 {
				t.Errorf("expected output tokens = %d", r.ExpectedOutputTokens)
			}
		})
	}
}

func TestRates(t *testing.T) {
	r := Row{WallS: 2, PromptTokens: 100, OutputTokens: 300, Requests: 4}
	if r.OutputTokensPerS() != 150 || r.TotalTokensPerS() != 200 || r.RequestsPerS() != 2 {
		t.Errorf("rates %v %v %v", r.OutputTokensPerS(), r.TotalTokensPerS(), r.RequestsPerS())
	}
	if (&Row{OutputTokens: 3}).OutputTokensPerS() != 0 {
		t.Error("zero wall time must not divide")
	}
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.jsonl")
	w, err := Append(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := []Row{
		{Engine: "vllm", BatchSize: 1, Rep: 0, WallS: 0.5, StartedAt: time.Unix(1, 0).UTC()},
		{Engine: "vllm", BatchSize: 1, Rep: 0, Warmup: true, StartedAt: time.Unix(2, 0).UTC()},
	}
	for i := range rows {
		if err := w.Write(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	// Appending again keeps what is there.
	w, _ = Append(path)
	w.Write(&Row{Engine: "sglang", BatchSize: 8})
	w.Close()
	got, skipped, err := Read(path)
	if err != nil || skipped != 0 || len(got) != 3 {
		t.Fatalf("Read: %d rows, %d skipped, %v", len(got), skipped, err)
	}
	if got[0].Schema != SchemaVersion || got[0].Flags == nil || got[1].Key() != (Key{"vllm", 1, 0, true}) {
		t.Errorf("rows = %+v", got)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"flags":[]`) {
		t.Error("clean rows must carry an empty flags list, not null")
	}
}

func TestDecodeSkipsTornLines(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		rows    int
		skipped int
	}{
		{"torn last line", `{"schema":1,"engine":"a"}` + "\n" + `{"schema":1,"engi`, 1, 1},
		// A row appended onto a torn line: the glued line is skipped, the
		// rows around it kept.
		{"a row glued onto a torn one", `{"schema":1,"engine":"a"}` + "\n" + `{"schema":1,"engi{"schema":1,"engine":"b"}` + "\n" + `{"schema":1,"engine":"c"}` + "\n", 2, 1},
		{"clean", `{"schema":1,"engine":"a"}` + "\n\n", 1, 0},
	}
	for _, tt := range tests {
		rows, skipped, err := Decode(strings.NewReader(tt.in))
		if err != nil || len(rows) != tt.rows || skipped != tt.skipped {
			t.Errorf("%s: %d rows, %d skipped, %v; want %d, %d", tt.name, len(rows), skipped, err, tt.rows, tt.skipped)
		}
	}
	if _, _, err := Decode(strings.NewReader(`{"schema":99}`)); err == nil || !strings.Contains(err.Error(), "upgrade") {
		t.Errorf("newer schema: %v", err)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "manifest.json")
	kv := int64(4096)
	m := &Manifest{Tool: Tool{Name: "enginebench"}, Workload: Workload{SHA256: "abc", BatchSizes: []int{1, 8}},
		Engines: []Engine{{Name: "vllm", Status: EngineDone, KVCacheTokens: &kv, UserArgs: []byte(`{"max_num_seqs":8}`)}}}
	if err := WriteManifest(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaVersion || got.Workload.SHA256 != "abc" || *got.Engines[0].KVCacheTokens != 4096 || compact(got.Engines[0].UserArgs) != `{"max_num_seqs":8}` {
		t.Errorf("manifest = %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err.Error()
	}
	return buf.String()
}
