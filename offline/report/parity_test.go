package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/offline/results"
)

func TestFirstDifference(t *testing.T) {
	tests := []struct {
		x, y []int
		want int
	}{
		{[]int{1, 2, 3}, []int{1, 2, 3}, -1},
		{[]int{1, 2, 3}, []int{9, 2, 3}, 0},
		{[]int{1, 2, 3}, []int{1, 2, 9}, 2},
		{[]int{1, 2}, []int{1, 2, 3}, 2},
		{[]int{}, []int{}, -1},
	}
	for _, tt := range tests {
		if got := firstDifference(tt.x, tt.y); got != tt.want {
			t.Errorf("firstDifference(%v, %v) = %d, want %d", tt.x, tt.y, got, tt.want)
		}
	}
}

// parityRows gives each engine the first measured repetition of batch size
// 4 on prompts 4..7, with the outputs given.
func parityRows(m *results.Manifest, outputs map[string][][]int) []results.Row {
	var rows []results.Row
	for _, e := range m.Engines {
		r := results.Row{Engine: e.Name, BatchSize: 4, Rep: 0, FirstPrompt: 4, WorkloadSHA256: m.Workload.SHA256}
		for i, ids := range outputs[e.Name] {
			r.Detail = append(r.Detail, results.Request{Index: 4 + i, OutputTokens: len(ids), OutputIDs: ids})
		}
		rows = append(rows, r)
		// Later repetitions carry no IDs and never count.
		rows = append(rows, results.Row{Engine: e.Name, BatchSize: 4, Rep: 1, WorkloadSHA256: m.Workload.SHA256,
			Detail: []results.Request{{Index: 8, OutputIDs: []int{7}}}})
	}
	return rows
}

func TestOutputParity(t *testing.T) {
	m := &results.Manifest{
		Workload: results.Workload{SHA256: "w", OutputLen: 4, BatchSizes: []int{4}},
		Engines:  []results.Engine{{Name: "vllm"}, {Name: "sglang"}, {Name: "transformers"}},
	}
	rows := parityRows(m, map[string][][]int{
		"vllm":         {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 9, 9, 9}, {1, 1, 1, 1}},
		"sglang":       {{1, 2, 3, 4}, {5, 6, 0, 8}, {9, 9, 9, 9}, {2, 1, 1, 1}},
		"transformers": {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 9, 9}},
	})
	// A failed row and another workload's row are never compared.
	rows = append(rows, results.Row{Engine: "transformers", BatchSize: 4, Rep: 0, WorkloadSHA256: "w", Error: "boom",
		Detail: []results.Request{{Index: 7, OutputIDs: []int{0}}}})
	rows = append(rows, results.Row{Engine: "sglang", BatchSize: 4, Rep: 0, WorkloadSHA256: "other",
		Detail: []results.Request{{Index: 4, OutputIDs: []int{0}}}})
	got := OutputParity(m, rows)
	want := []struct {
		a, b                 string
		sequences, identical int
		first                float64
	}{
		{"vllm", "sglang", 4, 2, 2},       // first differences at tokens 3 and 1
		{"vllm", "transformers", 3, 2, 4}, // the third is one token short
		{"sglang", "transformers", 3, 1, 3.5},
	}
	if len(got) != len(want) {
		t.Fatalf("%d pairs, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		p := got[i]
		if p.A != w.a || p.B != w.b || p.Sequences != w.sequences || p.Identical != w.identical || p.FirstDiffMedian == nil || *p.FirstDiffMedian != w.first {
			t.Errorf("pair %d: %+v (first %v), want %+v", i, p, p.FirstDiffMedian, w)
		}
	}
}

func TestParityTable(t *testing.T) {
	m := &results.Manifest{
		Workload: results.Workload{SHA256: "w", OutputLen: 2, BatchSizes: []int{4}},
		Engines:  []results.Engine{{Name: "vllm"}, {Name: "sglang"}},
	}
	rows := parityRows(m, map[string][][]int{"vllm": {{1, 2}, {3, 4}}, "sglang": {{1, 2}, {3, 4}}})
	var buf bytes.Buffer
	if err := parityTable(&buf, m, rows); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "vllm vs sglang") || !strings.Contains(s, "2 (100%)") {
		t.Errorf("parity table:\n%s", s)
	}
	// Sampled tokens are not expected to match: say so, compare nothing.
	m.Sampling.Temperature = 0.8
	buf.Reset()
	if err := parityTable(&buf, m, rows); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "not compared: at temperature 0.8") || strings.Contains(s, "vllm vs sglang") {
		t.Errorf("parity at temperature 0.8:\n%s", s)
	}
	// One engine: nothing to compare, no table.
	m.Engines = m.Engines[:1]
	buf.Reset()
	if err := parityTable(&buf, m, rows); err != nil || buf.Len() != 0 {
		t.Errorf("one engine: %q, %v", buf.String(), err)
	}
}

func TestRatioTableBaseline(t *testing.T) {
	m, rows := fixture()
	tests := []struct{ baseline, want, notWant string }{
		{"", "vllm ÷ transformers", "transformers ÷ vllm"},
		{"vllm", "transformers ÷ vllm", "vllm ÷ transformers"},
		{"nosuch", "vllm ÷ transformers", "÷ nosuch"},
	}
	for _, tt := range tests {
		m.Baseline = tt.baseline
		var buf bytes.Buffer
		if err := ratioTable(&buf, m, CellStatsOf(m, rows)); err != nil {
			t.Fatal(err)
		}
		if s := buf.String(); !strings.Contains(s, tt.want) || strings.Contains(s, tt.notWant) {
			t.Errorf("baseline %q:\n%s", tt.baseline, s)
		}
	}
}
