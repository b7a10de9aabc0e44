package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/enginebench/enginebench/offline/results"
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
		var programs, valid, checked, errs, gens int
		var p50, p90 []float64
		for _, r := range c.Rows {
			p := r.Programs
			if p == nil {
				continue
			}
			programs += p.Programs
			errs += p.Errors
			gens += p.GenCalls + p.SelectCalls
			if p.Valid != nil {
				valid += *p.Valid
				checked += p.Programs
			}
			if p.LatencyP50S != nil && p.LatencyP90S != nil {
				p50, p90 = append(p50, *p.LatencyP50S), append(p90, *p.LatencyP90S)
			}
		}
		validText := "no check"
		if checked > 0 {
			validText = fmt.Sprintf("%.0f%% (%d/%d)", 100*float64(valid)/float64(checked), valid, checked)
		}
		latency := "—"
		if len(p50) > 0 {
			latency = seconds(summarize(p50).Median) + " / " + seconds(summarize(p90).Median)
		}
		if err := t.Append(c.Engine, c.BatchSize, reps, durationRange(c.Wall), withRange(c.ProgramsPS, "%.2f"),
			fmt.Sprintf("%.1f", c.OutputTPS.Median), validText, latency,
			fmt.Sprintf("%.1f", float64(gens)/float64(len(c.Rows))), fmt.Sprint(errs), flagText(c)); err != nil {
			return err
		}
	}
	return t.Render()
}

// seconds renders a duration in seconds in the unit that suits it.
func seconds(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}
