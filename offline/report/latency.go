package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/stats"
)

// latencyTable gives, per engine and batch size, the p50 / p90 / p99 of what
// each request experienced as its engine reports it (time to first token,
// time per output token after the first, end to end) and the per-user
// decode rate (output tokens ÷ end-to-end latency), over the measured
// repetitions. Engines that report none are named, not filled in.
func latencyTable(w io.Writer, m *results.Manifest, cells []CellStats) error {
	var have bool
	without := map[string]bool{}
	byCell := make([]latencySeries, len(cells))
	for i, c := range cells {
		byCell[i] = latencyOf(c)
		if len(byCell[i].e2e)+len(byCell[i].ttft) > 0 {
			have = true
		} else if len(c.Rows) > 0 {
			without[c.Engine] = true
		}
	}
	if !have {
		return nil
	}
	fmt.Fprintln(w, "\nLatency per request, as each engine reports it (p50 / p90 / p99 over the measured repetitions):")
	t := newTable(w)
	t.Header("engine", "batch", "requests", "TTFT ms", "TPOT ms", "end to end s", "per-user tok/s p50", "total output tok/s")
	for i, c := range cells {
		s := byCell[i]
		if len(s.e2e)+len(s.ttft) == 0 {
			continue
		}
		if err := t.Append(c.Engine, c.BatchSize, len(s.e2e), pcts(s.ttft, 1e3, "%.1f"), pcts(s.tpot, 1e3, "%.2f"),
			pcts(s.e2e, 1, "%.3f"), p50(s.user, "%.1f"), fmt.Sprintf("%.1f", c.OutputTPS.Median)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if len(without) > 0 {
		var names []string
		for _, c := range cells {
			if without[c.Engine] {
				names = append(names, c.Engine)
				delete(without, c.Engine)
			}
		}
		fmt.Fprintf(w, "no per-request latency from %s: none reported (transformers runs static batches: every request of a batch ends together)\n", strings.Join(names, ", "))
	}
	fmt.Fprintln(w, "TTFT = time to the first output token from the request's arrival at the engine; TPOT = time per output token after the first; per-user tok/s = a request's output tokens ÷ its end-to-end latency. SGLang gives TTFT with enable_metrics (the tool sets it).")
	return nil
}

// pcts renders p50 / p90 / p99 of xs scaled by scale; "—" when empty.
func pcts(xs []float64, scale float64, f string) string {
	if len(xs) == 0 {
		return "—"
	}
	var parts []string
	for _, q := range []float64{0.5, 0.9, 0.99} {
		v, err := stats.Quantile(xs, q)
		if err != nil {
			return "—"
		}
		parts = append(parts, fmt.Sprintf(f, v*scale))
	}
	return strings.Join(parts, " / ")
}

func p50(xs []float64, f string) string {
	v, err := stats.Quantile(xs, 0.5)
	if err != nil {
		return "—"
	}
	return fmt.Sprintf(f, v)
}

// latencySeries is what the requests of a cell's measured rows experienced,
// as their engine reports it: one value per request that has it.
type latencySeries struct{ ttft, tpot, e2e, user []float64 }

func latencyOf(c CellStats) latencySeries {
	var s latencySeries
	for _, r := range c.Rows {
		for _, q := range r.Detail {
			l := q.Latency
			if l == nil {
				continue
			}
			if l.TTFTS != nil {
				s.ttft = append(s.ttft, *l.TTFTS)
			}
			if l.TPOTS != nil {
				s.tpot = append(s.tpot, *l.TPOTS)
			}
			if l.E2ES != nil && *l.E2ES > 0 {
				s.e2e = append(s.e2e, *l.E2ES)
				s.user = append(s.user, float64(q.OutputTokens) / *l.E2ES)
			}
		}
	}
	return s
}

// quantile is the q-quantile of xs, nil when xs is empty.
func quantile(xs []float64, q float64) *float64 {
	v, err := stats.Quantile(xs, q)
	if err != nil {
		return nil
	}
	return &v
}
