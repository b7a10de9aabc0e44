// Package report turns a run's results into the comparison a researcher
// reads: one row per (engine, batch size) with the median and range over
// repetitions, the engines' ratio per batch size, and the facts needed to
// defend the numbers (workload hash, engine configurations, flags, failures).
package report

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/stats"
)

// CellStats aggregates the repetitions of one (engine, batch size).
type CellStats struct {
	Engine    string
	BatchSize int
	// Planned is the number of measured repetitions asked for; Rows the
	// clean ones; Failed the ones that failed.
	Planned, Failed int
	Rows            []results.Row
	Wall            stats.Summary
	OutputTPS       stats.Summary
	TotalTPS        stats.Summary
	RequestsPS      stats.Summary
	// ProgramsPS is programs per second (a program run).
	ProgramsPS stats.Summary
	// Overhead is WallS - EngineS, the host boundary's cost.
	Overhead stats.Summary
	// Flags counts each flag over the measured rows.
	Flags map[string]int
}

// CellStatsOf groups measured rows by (engine, batch size), in the manifest's
// engine order and the sweep's batch-size order.
func CellStatsOf(m *results.Manifest, rows []results.Row) []CellStats {
	type key struct {
		engine string
		bs     int
	}
	byKey := map[key]*CellStats{}
	var order []key
	for _, e := range m.Engines {
		for _, bs := range m.Workload.BatchSizes {
			k := key{e.Name, bs}
			byKey[k] = &CellStats{Engine: e.Name, BatchSize: bs, Planned: m.Workload.Reps, Flags: map[string]int{}}
			order = append(order, k)
		}
	}
	// A failed repetition that a resumed run measured again counts once, as
	// measured; one never measured counts as failed.
	clean := map[results.Key]bool{}
	for _, r := range rows {
		if r.Error == "" && r.WorkloadSHA256 == m.Workload.SHA256 {
			clean[r.Key()] = true
		}
	}
	failed := map[results.Key]bool{}
	for _, r := range rows {
		if r.Warmup || r.WorkloadSHA256 != m.Workload.SHA256 {
			continue
		}
		c := byKey[key{r.Engine, r.BatchSize}]
		if c == nil {
			continue
		}
		if r.Error != "" {
			if !clean[r.Key()] && !failed[r.Key()] {
				failed[r.Key()] = true
				c.Failed++
			}
			continue
		}
		c.Rows = append(c.Rows, r)
		for _, f := range r.Flags {
			c.Flags[f]++
		}
	}
	var out []CellStats
	for _, k := range order {
		c := byKey[k]
		var wall, otps, ttps, rps, pps, over []float64
		for _, r := range c.Rows {
			wall = append(wall, r.WallS)
			pps = append(pps, r.ProgramsPerS())
			otps = append(otps, r.OutputTokensPerS())
			ttps = append(ttps, r.TotalTokensPerS())
			rps = append(rps, r.RequestsPerS())
			if r.HostOverheadS != nil {
				over = append(over, *r.HostOverheadS)
			}
		}
		c.Wall, c.OutputTPS, c.TotalTPS = summarize(wall), summarize(otps), summarize(ttps)
		c.RequestsPS, c.Overhead, c.ProgramsPS = summarize(rps), summarize(over), summarize(pps)
		out = append(out, *c)
	}
	return out
}

// sumCounts adds up counts by reason.
func sumCounts(counts map[string]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func summarize(xs []float64) stats.Summary {
	s, err := stats.Summarize(xs)
	if err != nil {
		return stats.Summary{}
	}
	return s
}

// Table writes the comparison table and the notes that go with it.
func Table(w io.Writer, m *results.Manifest, rows []results.Row) error {
	cells := CellStatsOf(m, rows)
	fmt.Fprintf(w, "enginebench %s — model %s (%s), workload %s\n", m.Tool.Version, m.Model.Path, m.Model.Dtype, short(m.Workload.SHA256))
	if m.Workload.Program != nil {
		programHeader(w, m)
		if err := programTable(w, cells); err != nil {
			return err
		}
		if err := ratioTable(w, m, cells); err != nil {
			return err
		}
		if err := resourceTable(w, m, cells); err != nil {
			return err
		}
		notes(w, m, cells)
		return nil
	}
	prompts := fmt.Sprintf("%d-token prompts", m.Workload.InputLen)
	if m.Workload.Dataset == "shared-prefix" {
		prompts = fmt.Sprintf("shared-prefix prompts (%d groups' %d-token prefixes, interleaved, + %d tokens each; prefix caching on)",
			m.Workload.PrefixGroups, m.Workload.SharedPrefixLen, m.Workload.InputLen)
	}
	outputs := fmt.Sprintf("%d output tokens", m.Workload.OutputLen)
	if mw := m.Workload; mw.Dataset == "sharegpt" {
		src := "ShareGPT"
		if mw.Source != nil {
			src = fmt.Sprintf("ShareGPT file %s (sha256 %s, %d entries, %d skipped)", mw.Source.File, short(mw.Source.SHA256), mw.Source.Entries, sumCounts(mw.Skipped))
		}
		prompts = fmt.Sprintf("first human turns of the %s", src)
		if p := mw.PromptTokens; p != nil {
			prompts += fmt.Sprintf(", %d-%d tokens (mean %.0f)", p.Min, p.Max, p.Mean)
		}
		if o := mw.OutputTokens; mw.ReferenceOutput && o != nil {
			outputs = fmt.Sprintf("each reply's own length in output tokens, %d-%d (mean %.0f)", o.Min, o.Max, o.Mean)
		}
	}
	fmt.Fprintf(w, "%s, %s (ignore_eos), temperature %g, top_p %g, seed %d; %d warm-up + %d measured batches per batch size, fresh prompts each\n\n",
		prompts, outputs, m.Sampling.Temperature, m.Sampling.TopP, m.Workload.Seed, m.Workload.Warmup, m.Workload.Reps)

	t := newTable(w)
	t.Header("engine", "batch", "reps", "wall time median [min–max]", "output tok/s median [min–max]", "total tok/s", "req/s", "host overhead", "flags")
	for _, c := range cells {
		reps := fmt.Sprintf("%d", len(c.Rows))
		if len(c.Rows) != c.Planned {
			reps = fmt.Sprintf("%d of %d", len(c.Rows), c.Planned)
		}
		if len(c.Rows) == 0 {
			if err := t.Append(c.Engine, c.BatchSize, reps, "—", "—", "—", "—", "—", flagText(c)); err != nil {
				return err
			}
			continue
		}
		if err := t.Append(c.Engine, c.BatchSize, reps,
			durationRange(c.Wall), withRange(c.OutputTPS, "%.1f"),
			fmt.Sprintf("%.1f", c.TotalTPS.Median), fmt.Sprintf("%.2f", c.RequestsPS.Median),
			overheadText(c), flagText(c)); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	if err := ratioTable(w, m, cells); err != nil {
		return err
	}
	if err := parityTable(w, m, rows); err != nil {
		return err
	}
	if err := latencyTable(w, m, cells); err != nil {
		return err
	}
	if err := prefixCacheTable(w, m, cells); err != nil {
		return err
	}
	if err := resourceTable(w, m, cells); err != nil {
		return err
	}
	notes(w, m, cells)
	return nil
}

func newTable(w io.Writer) *tablewriter.Table {
	return tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{Symbols: tw.NewSymbols(tw.StyleASCII)})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{Global: tw.AlignRight, PerColumn: []tw.Align{tw.AlignLeft}}),
	)
}

// ratioTable compares each engine with the baseline (by default the first
// engine), per batch size, on median output tokens per second.
func ratioTable(w io.Writer, m *results.Manifest, cells []CellStats) error {
	if len(m.Engines) < 2 {
		return nil
	}
	base := m.BaselineEngine()
	header := []any{"batch"}
	var others []results.Engine
	for _, e := range m.Engines {
		if e.Name != base {
			others = append(others, e)
			header = append(header, fmt.Sprintf("%s ÷ %s", e.Name, base))
		}
	}
	idx := map[string]CellStats{}
	for _, c := range cells {
		idx[fmt.Sprintf("%s/%d", c.Engine, c.BatchSize)] = c
	}
	what := "Output throughput"
	if m.Workload.Program != nil {
		what = "Programs per second"
	}
	fmt.Fprintf(w, "\n%s relative to %s (ratio of medians [95%% bootstrap interval, from %d repetitions each]):\n", what, base, m.Workload.Reps)
	t := newTable(w)
	t.Header(header...)
	for _, bs := range m.Workload.BatchSizes {
		row := []any{bs}
		b := idx[fmt.Sprintf("%s/%d", base, bs)]
		for _, e := range others {
			c := idx[fmt.Sprintf("%s/%d", e.Name, bs)]
			if len(b.Rows) == 0 || len(c.Rows) == 0 || b.OutputTPS.Median == 0 {
				row = append(row, "—")
				continue
			}
			if m.Workload.Program != nil {
				row = append(row, ratioOf(programsPS(c.Rows), programsPS(b.Rows), c.ProgramsPS.Median/b.ProgramsPS.Median))
				continue
			}
			row = append(row, ratioCell(c, b))
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

// ratioCell is c's median output throughput over b's, with the bootstrap
// interval of that ratio when both have enough repetitions.
func ratioCell(c, b CellStats) string {
	return ratioOf(outputTPS(c.Rows), outputTPS(b.Rows), c.OutputTPS.Median/b.OutputTPS.Median)
}

// ratioOf is the ratio of the medians of xs and ys, with its bootstrap
// interval where there are enough of each; plain where there are not.
func ratioOf(xs, ys []float64, plain float64) string {
	r, err := stats.RatioOfMedians(xs, ys)
	if err != nil {
		return fmt.Sprintf("%.2f×", plain)
	}
	if r.CILow == nil || r.CIHigh == nil {
		return fmt.Sprintf("%.2f×", r.Value)
	}
	return fmt.Sprintf("%.2f× [%.2f–%.2f]", r.Value, *r.CILow, *r.CIHigh)
}

func programsPS(rows []results.Row) []float64 {
	out := make([]float64, len(rows))
	for i, r := range rows {
		out[i] = r.ProgramsPerS()
	}
	return out
}

func outputTPS(rows []results.Row) []float64 {
	out := make([]float64, len(rows))
	for i, r := range rows {
		out[i] = r.OutputTokensPerS()
	}
	return out
}

func withRange(s stats.Summary, f string) string {
	if s.N <= 1 {
		return fmt.Sprintf(f, s.Median)
	}
	return fmt.Sprintf(f+" ["+f+"–"+f+"]", s.Median, s.Min, s.Max)
}

// durationRange prints a wall-time summary in one unit chosen from its
// median, so a column reads the same way down the table.
func durationRange(s stats.Summary) string {
	// The unit fits the largest value, so no figure of the range needs an
	// exponent ("392 [304–1.18e+03] ms").
	unit, scale := "s", 1.0
	switch {
	case s.Max < 1e-3:
		unit, scale = "µs", 1e6
	case s.Max < 1:
		unit, scale = "ms", 1e3
	}
	if s.N <= 1 {
		return fmt.Sprintf("%.3g %s", s.Median*scale, unit)
	}
	return fmt.Sprintf("%.3g [%.3g–%.3g] %s", s.Median*scale, s.Min*scale, s.Max*scale, unit)
}

func overheadText(c CellStats) string {
	if c.Overhead.N == 0 || c.Wall.Median <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f ms (%.2f%%)", c.Overhead.Median*1e3, 100*c.Overhead.Median/c.Wall.Median)
}

func flagText(c CellStats) string {
	var parts []string
	keys := make([]string, 0, len(c.Flags))
	for k := range c.Flags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s in %d", k, c.Flags[k]))
	}
	if c.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", c.Failed))
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, "; ")
}

func notes(w io.Writer, m *results.Manifest, cells []CellStats) {
	fmt.Fprintln(w)
	for _, e := range m.Engines {
		fmt.Fprintf(w, "%s: %s", e.Name, e.Status)
		if len(e.Versions) > 0 {
			fmt.Fprintf(w, "; %s", versions(e.Versions))
		}
		if e.LoadS != nil {
			fmt.Fprintf(w, "; load %.1f s", *e.LoadS)
		}
		if e.KVCacheTokens != nil {
			fmt.Fprintf(w, "; KV cache %d tokens", *e.KVCacheTokens)
		}
		if len(e.Reservation) > 0 {
			fmt.Fprintf(w, "; reservation %s", kv(e.Reservation))
		}
		fmt.Fprintln(w)
		if e.Error != "" {
			fmt.Fprintf(w, "  failed: %s\n", strings.ReplaceAll(strings.TrimSpace(e.Error), "\n", "\n  "))
		}
		for _, n := range e.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
	for _, wmsg := range m.Model.Warnings {
		fmt.Fprintf(w, "model warning: %s\n", wmsg)
	}
	if m.GPU.NoMetricsReason != "" {
		fmt.Fprintf(w, "%s\n", m.GPU.NoMetricsReason)
	}
	for _, d := range m.GPU.Devices {
		fmt.Fprintf(w, "GPU %d: %s, %.1f GiB", d.Index, d.Name, float64(d.MemoryTotalBytes)/(1<<30))
		if d.PeakBandwidthBytesPerS != nil {
			fmt.Fprintf(w, ", peak bandwidth %.0f GB/s", *d.PeakBandwidthBytesPerS/1e9)
		}
		fmt.Fprintf(w, " (memory API %s)\n", d.MemoryAPI)
	}
	for _, wmsg := range m.GPU.Warnings {
		fmt.Fprintf(w, "GPU warning: %s\n", wmsg)
	}
	switch {
	case m.Model.Roofline == nil && m.Model.RooflineUnavailable != "":
		fmt.Fprintf(w, "no decode bound: %s\n", m.Model.RooflineUnavailable)
	case m.Model.Roofline != nil && len(m.GPU.Devices) == 0:
		fmt.Fprintln(w, "no decode bound: it needs the GPU's peak memory bandwidth")
	case m.Model.Roofline != nil:
		fmt.Fprintln(w, "decode bound = peak memory bandwidth ÷ bytes each decode step must read (weights + KV cache); MBU = achieved ÷ bound; prefill is not modelled, so short outputs understate MBU")
		for _, cv := range m.Model.Roofline.Caveats {
			fmt.Fprintf(w, "decode bound caveat: %s\n", cv)
		}
	}
	if legend := flagLegend(cells); legend != "" {
		fmt.Fprintf(w, "flags: %s; see results.jsonl\n", legend)
	}
	fmt.Fprintln(w, "throughput = tokens the engines returned / wall time of the generate call (Go monotonic clock, read on the interpreter's thread); host overhead = wall time − the adapter's own time")
}

// flagMeanings says what each row flag means, for the report's legend.
var flagMeanings = map[string]string{
	results.FlagShortOutput:     "a sequence returned fewer tokens than asked (counted as returned, never back-filled)",
	results.FlagLongOutput:      "a sequence returned more tokens than asked (counted as returned)",
	results.FlagCachedTokens:    "the engine reports prefix-cache hits on prompts that share nothing",
	results.FlagPromptMismatch:  "the engine reports a prompt length other than the one sent",
	results.FlagMissingRequests: "the engine answered fewer prompts than the batch held",
	results.FlagExtraRequests:   "the engine returned answers to no prompt of the batch, or a second one to a prompt (not counted)",
}

// flagLegend explains the flags present in cells, in a fixed order.
func flagLegend(cells []CellStats) string {
	present := map[string]bool{}
	for _, c := range cells {
		for f, n := range c.Flags {
			if n > 0 {
				present[f] = true
			}
		}
	}
	var parts []string
	for _, f := range []string{results.FlagShortOutput, results.FlagLongOutput, results.FlagCachedTokens,
		results.FlagPromptMismatch, results.FlagMissingRequests, results.FlagExtraRequests} {
		if present[f] {
			parts = append(parts, f+" = "+flagMeanings[f])
		}
	}
	return strings.Join(parts, "; ")
}

func versions(v map[string]string) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + v[k]
	}
	return strings.Join(parts, ", ")
}

func kv(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + formatValue(m[k])
	}
	return strings.Join(parts, ", ")
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// formatValue prints a JSON-decoded value; whole numbers (JSON has only
// float64) print as integers, so 1073741824 is not 1.073741824e+09.
func formatValue(v any) string {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return strconv.FormatInt(int64(f), 10)
	}
	return fmt.Sprint(v)
}
