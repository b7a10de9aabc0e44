package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/stats"
)

// programHeader is the report's second line for a program run: the program,
// its features, and where its sampling settings come from.
func programHeader(w io.Writer, m *results.Manifest) {
	mw := m.Workload
	p := mw.Program
	uses := "its dry run could not tell what it uses"
	if p.Features != nil {
		uses = "uses " + strings.Join(p.Features, ", ")
		if len(p.Features) == 0 {
			uses = "plain gens only"
		}
	}
	fmt.Fprintf(w, "SGLang frontend program %s (sha256 %s; %s), %d programs, one argument dict each; run_batch with B programs on B threads per batch, in-process; context %d tokens; "+
		"gens keep their own settings (temperature %g, top_p %g where a gen sets none), seed %d; %d warm-up + %d measured batches per batch size, fresh arguments each\n\n",
		p.File, short(p.SHA256), uses, mw.Prompts, p.ContextLen, m.Sampling.Temperature, m.Sampling.TopP, mw.Seed, mw.Warmup, mw.Reps)
}

// programTable is a program run's main table: per engine and batch size,
// programs per second and output tokens per second (medians over the
// repetitions, with their ranges), the share of valid programs (the
// program file's check), per-program latency (median and p90 of each
// batch's, medians over repetitions), gen calls and programs that raised.
func programTable(w io.Writer, cells []CellStats) error {
	t := newTable(w)
	t.Header("engine", "batch", "reps", "wall time median [min–max]", "programs/s median [min–max]", "output tok/s median", "valid", "latency p50 / p90", "gens", "errors", "flags")
	for _, c := range cells {
		reps := fmt.Sprintf("%d", len(c.Rows))
		if len(c.Rows) != c.Planned {
			reps = fmt.Sprintf("%d of %d", len(c.Rows), c.Planned)
		}
		if len(c.Rows) == 0 {
			if err := t.Append(c.Engine, c.BatchSize, reps, "—", "—", "—", "—", "—", "—", "—", flagText(c)); err != nil {
				return err
			}
			continue
		}
		ps := programStatsOf(c)
		validText := "no check"
		if ps.checked > 0 {
			validText = fmt.Sprintf("%.0f%% (%d/%d)", 100*float64(ps.valid)/float64(ps.checked), ps.valid, ps.checked)
		}
		latency := "—"
		if ps.latencyP50 != nil {
			latency = duration(*ps.latencyP50) + " / " + duration(*ps.latencyP90)
		}
		if err := t.Append(c.Engine, c.BatchSize, reps, durationRange(c.Wall), withRange(c.ProgramsPS, "%.2f"),
			fmt.Sprintf("%.1f", c.OutputTPS.Median), validText, latency,
			fmt.Sprintf("%.1f", float64(ps.calls)/float64(len(c.Rows))), fmt.Sprint(ps.errors), flagText(c)); err != nil {
			return err
		}
	}
	return t.Render()
}

// duration renders one duration in the unit durationRange would choose.
func duration(s float64) string {
	return durationRange(stats.Summary{N: 1, Median: s, Max: s})
}

// programStats sums a cell's program rows.
type programStats struct {
	programs, valid, checked, errors int
	// calls counts gens and selects.
	calls int
	// latencyP50 and latencyP90 are the medians over the repetitions of
	// each batch's per-program latency median and p90; nil without any.
	latencyP50, latencyP90 *float64
}

func programStatsOf(c CellStats) programStats {
	var ps programStats
	var p50, p90 []float64
	for _, r := range c.Rows {
		p := r.Programs
		if p == nil {
			continue
		}
		ps.programs += p.Programs
		ps.errors += p.Errors
		ps.calls += p.GenCalls + p.SelectCalls
		if p.Valid != nil {
			ps.valid += *p.Valid
			ps.checked += p.Programs
		}
		if p.LatencyP50S != nil && p.LatencyP90S != nil {
			p50, p90 = append(p50, *p.LatencyP50S), append(p90, *p.LatencyP90S)
		}
	}
	if len(p50) > 0 {
		a, b := summarize(p50).Median, summarize(p90).Median
		ps.latencyP50, ps.latencyP90 = &a, &b
	}
	return ps
}

// validShare is the share of checked programs whose check passed; nil
// without a check.
func (ps programStats) validShare() *float64 {
	if ps.checked == 0 {
		return nil
	}
	v := float64(ps.valid) / float64(ps.checked)
	return &v
}
