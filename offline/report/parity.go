package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/stats"
)

// Parity compares the token IDs two engines returned for the same prompts:
// under greedy decoding, with the same weights, they should agree until the
// engines' numerics part. An engine that runs another dtype, RoPE scaling or
// KV-cache precision than the user believes shows up here first.
type Parity struct {
	A string `json:"engine_a"`
	B string `json:"engine_b"`
	// Sequences is the number of prompts both engines returned IDs for.
	Sequences int `json:"sequences"`
	// Identical counts the sequences whose whole outputs are equal.
	Identical int `json:"identical"`
	// FirstDiffMedian is the median 1-based output position of the first
	// differing token over the sequences that differ; nil when none do.
	FirstDiffMedian *float64 `json:"first_difference_median"`
}

// IdenticalShare is Identical / Sequences.
func (p Parity) IdenticalShare() float64 {
	if p.Sequences == 0 {
		return 0
	}
	return float64(p.Identical) / float64(p.Sequences)
}

// OutputParity compares every pair of engines, in the manifest's order, on
// the rows that kept their token IDs (the first measured repetition of each
// batch size, results.KeepsOutputIDs). Pairs with nothing in common are
// left out.
func OutputParity(m *results.Manifest, rows []results.Row) []Parity {
	ids := map[string]map[int][]int{}
	for _, r := range rows {
		if r.Error != "" || r.WorkloadSHA256 != m.Workload.SHA256 || !results.KeepsOutputIDs(r.Rep, r.Warmup) {
			continue
		}
		for _, d := range r.Detail {
			if d.OutputIDs == nil {
				continue
			}
			if ids[r.Engine] == nil {
				ids[r.Engine] = map[int][]int{}
			}
			ids[r.Engine][d.Index] = d.OutputIDs
		}
	}
	var out []Parity
	for i, a := range m.Engines {
		for _, b := range m.Engines[i+1:] {
			p := Parity{A: a.Name, B: b.Name}
			var firsts []float64
			for idx, x := range ids[a.Name] {
				y, ok := ids[b.Name][idx]
				if !ok {
					continue
				}
				p.Sequences++
				if d := firstDifference(x, y); d < 0 {
					p.Identical++
				} else {
					firsts = append(firsts, float64(d+1))
				}
			}
			if p.Sequences == 0 {
				continue
			}
			if len(firsts) > 0 {
				if med, err := stats.Median(firsts); err == nil {
					p.FirstDiffMedian = &med
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// firstDifference is the index of the first position where x and y differ
// (a length difference counts at the shorter one's end), or -1 when equal.
func firstDifference(x, y []int) int {
	n := min(len(x), len(y))
	for i := 0; i < n; i++ {
		if x[i] != y[i] {
			return i
		}
	}
	if len(x) != len(y) {
		return n
	}
	return -1
}

func parityTable(w io.Writer, m *results.Manifest, rows []results.Row) error {
	ps := OutputParity(m, rows)
	if len(ps) == 0 {
		return nil
	}
	if m.Sampling.Temperature > 0 {
		fmt.Fprintf(w, "\nOutput parity not compared: at temperature %g each engine samples its own tokens.\n", m.Sampling.Temperature)
		return nil
	}
	fmt.Fprintf(w, "\nOutput parity under greedy decoding (same prompts and weights; the first measured repetition of each batch size):\n")
	t := newTable(w)
	t.Header("engines", "sequences", "identical", "first difference (median position)")
	for _, p := range ps {
		first := "—"
		if p.FirstDiffMedian != nil {
			first = fmt.Sprintf("token %s of %d", formatValue(*p.FirstDiffMedian), m.Workload.OutputLen)
		}
		if err := t.Append(p.A+" vs "+p.B, p.Sequences, fmt.Sprintf("%d (%.0f%%)", p.Identical, 100*p.IdenticalShare()), first); err != nil {
			return err
		}
	}
	return t.Render()
}

// ParityJSON writes OutputParity as a JSON array (empty when fewer than two
// engines kept token IDs).
func ParityJSON(w io.Writer, m *results.Manifest, rows []results.Row) error {
	ps := OutputParity(m, rows)
	if ps == nil {
		ps = []Parity{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ps)
}
