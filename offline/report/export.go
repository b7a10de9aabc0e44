package report

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/enginebench/enginebench/offline/results"
)

// SummaryRecord is one (engine, batch size) of the comparison, in the form the
// CSV and JSON exports carry: for re-plotting in a paper's house style.
type SummaryRecord struct {
	Engine         string   `json:"engine"`
	BatchSize      int      `json:"batch_size"`
	Reps           int      `json:"reps"`
	FailedReps     int      `json:"failed_reps"`
	WallSMedian    *float64 `json:"wall_s_median"`
	WallSMin       *float64 `json:"wall_s_min"`
	WallSMax       *float64 `json:"wall_s_max"`
	OutputTPS      *float64 `json:"output_tokens_per_s_median"`
	OutputTPSMin   *float64 `json:"output_tokens_per_s_min"`
	OutputTPSMax   *float64 `json:"output_tokens_per_s_max"`
	OutputTPSCILow *float64 `json:"output_tokens_per_s_ci95_low"`
	OutputTPSCIHi  *float64 `json:"output_tokens_per_s_ci95_high"`
	TotalTPS       *float64 `json:"total_tokens_per_s_median"`
	RequestsPS     *float64 `json:"requests_per_s_median"`
	HostOverheadS  *float64 `json:"host_overhead_s_median"`
	GPUPeakBytes   *float64 `json:"gpu_peak_used_bytes"`
	ProcPeakBytes  *float64 `json:"engine_procs_peak_gpu_bytes"`
	GPUUtilPercent *float64 `json:"gpu_util_percent_median"`
	EnergyJ        *float64 `json:"energy_joules_median"`
	TokensPerJ     *float64 `json:"output_tokens_per_joule_median"`
	DecodeBound    *float64 `json:"decode_bound_tokens_per_s"`
	MBU            *float64 `json:"mbu_median"`
	HostPeakRSS    *float64 `json:"host_peak_rss_bytes"`
	HostCPUCores   *float64 `json:"host_cpu_cores_median"`
	// Engine-reported per-request latency over the measured repetitions
	// (null where the engine gives none).
	TTFTP50    *float64 `json:"ttft_s_p50"`
	TTFTP90    *float64 `json:"ttft_s_p90"`
	TTFTP99    *float64 `json:"ttft_s_p99"`
	TPOTP50    *float64 `json:"tpot_s_p50"`
	TPOTP90    *float64 `json:"tpot_s_p90"`
	TPOTP99    *float64 `json:"tpot_s_p99"`
	E2EP50     *float64 `json:"e2e_s_p50"`
	E2EP90     *float64 `json:"e2e_s_p90"`
	E2EP99     *float64 `json:"e2e_s_p99"`
	PerUserTPS *float64 `json:"per_user_output_tokens_per_s_median"`
	// Shared-prefix workloads: prompt tokens served from the prefix cache and
	// the most the workload allowed, summed over the measured repetitions.
	CachedTokens    *int `json:"cached_tokens"`
	MaxCachedTokens *int `json:"max_cached_tokens"`
	// Program runs: programs per second (median), the share of programs
	// whose check passed (null without a check), and per-program latency
	// (medians over the repetitions of each batch's p50 and p90).
	ProgramsPS     *float64 `json:"programs_per_s_median"`
	ValidShare     *float64 `json:"programs_valid_share"`
	ProgramLatP50  *float64 `json:"program_latency_s_p50"`
	ProgramLatP90  *float64 `json:"program_latency_s_p90"`
	Flags          []string `json:"flags"`
	WorkloadSHA256 string   `json:"workload_sha256"`
}

// SummaryRecords returns the cells of a run as SummaryRecord values.
func SummaryRecords(m *results.Manifest, rows []results.Row) []SummaryRecord {
	var out []SummaryRecord
	for _, c := range CellStatsOf(m, rows) {
		s := SummaryRecord{Engine: c.Engine, BatchSize: c.BatchSize, Reps: len(c.Rows), FailedReps: c.Failed,
			Flags: []string{}, WorkloadSHA256: m.Workload.SHA256}
		if len(c.Rows) > 0 {
			s.WallSMedian, s.WallSMin, s.WallSMax = &c.Wall.Median, &c.Wall.Min, &c.Wall.Max
			s.OutputTPS, s.OutputTPSMin, s.OutputTPSMax = &c.OutputTPS.Median, &c.OutputTPS.Min, &c.OutputTPS.Max
			s.OutputTPSCILow, s.OutputTPSCIHi = c.OutputTPS.CILow, c.OutputTPS.CIHigh
			s.TotalTPS, s.RequestsPS = &c.TotalTPS.Median, &c.RequestsPS.Median
			if c.Overhead.N > 0 {
				s.HostOverheadS = &c.Overhead.Median
			}
			r := resources(m, c)
			s.GPUPeakBytes, s.ProcPeakBytes, s.GPUUtilPercent = r.GPUPeakBytes, r.ProcessPeakBytes, r.UtilPercent
			s.EnergyJ, s.TokensPerJ, s.DecodeBound, s.MBU = r.EnergyJ, r.TokensPerJ, r.Bound, r.MBU
			s.HostPeakRSS, s.HostCPUCores = r.HostPeakRSS, r.HostCPUCores
			l := latencyOf(c)
			s.TTFTP50, s.TTFTP90, s.TTFTP99 = quantile(l.ttft, 0.5), quantile(l.ttft, 0.9), quantile(l.ttft, 0.99)
			s.TPOTP50, s.TPOTP90, s.TPOTP99 = quantile(l.tpot, 0.5), quantile(l.tpot, 0.9), quantile(l.tpot, 0.99)
			s.E2EP50, s.E2EP90, s.E2EP99 = quantile(l.e2e, 0.5), quantile(l.e2e, 0.9), quantile(l.e2e, 0.99)
			s.PerUserTPS = quantile(l.user, 0.5)
			if m.Workload.Dataset == "shared-prefix" {
				cached, most := 0, 0
				for _, r := range c.Rows {
					cached += r.CachedTokens
					if r.MaxCachedTokens != nil {
						most += *r.MaxCachedTokens
					}
				}
				s.CachedTokens, s.MaxCachedTokens = &cached, &most
			}
			if m.Workload.Program != nil {
				ps := programStatsOf(c)
				s.ProgramsPS, s.ValidShare = &c.ProgramsPS.Median, ps.validShare()
				s.ProgramLatP50, s.ProgramLatP90 = ps.latencyP50, ps.latencyP90
			}
		}
		for f := range c.Flags {
			s.Flags = append(s.Flags, f)
		}
		sort.Strings(s.Flags)
		out = append(out, s)
	}
	return out
}

// JSON writes the cell summaries as a JSON array.
func JSON(w io.Writer, m *results.Manifest, rows []results.Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(SummaryRecords(m, rows))
}

// CSV writes the cell summaries as CSV with a header row; an unmeasured
// value is an empty field.
func CSV(w io.Writer, m *results.Manifest, rows []results.Row) error {
	cw := csv.NewWriter(w)
	header := []string{"engine", "batch_size", "reps", "failed_reps", "wall_s_median", "wall_s_min", "wall_s_max",
		"output_tokens_per_s_median", "output_tokens_per_s_min", "output_tokens_per_s_max", "output_tokens_per_s_ci95_low", "output_tokens_per_s_ci95_high",
		"total_tokens_per_s_median", "requests_per_s_median", "host_overhead_s_median", "gpu_peak_used_bytes", "engine_procs_peak_gpu_bytes",
		"gpu_util_percent_median", "energy_joules_median", "output_tokens_per_joule_median", "decode_bound_tokens_per_s", "mbu_median",
		"host_peak_rss_bytes", "host_cpu_cores_median",
		"ttft_s_p50", "ttft_s_p90", "ttft_s_p99", "tpot_s_p50", "tpot_s_p90", "tpot_s_p99", "e2e_s_p50", "e2e_s_p90", "e2e_s_p99",
		"per_user_output_tokens_per_s_median", "cached_tokens", "max_cached_tokens",
		"programs_per_s_median", "programs_valid_share", "program_latency_s_p50", "program_latency_s_p90", "flags", "workload_sha256"}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, s := range SummaryRecords(m, rows) {
		rec := []string{s.Engine, strconv.Itoa(s.BatchSize), strconv.Itoa(s.Reps), strconv.Itoa(s.FailedReps)}
		for _, p := range []*float64{s.WallSMedian, s.WallSMin, s.WallSMax, s.OutputTPS, s.OutputTPSMin, s.OutputTPSMax, s.OutputTPSCILow, s.OutputTPSCIHi,
			s.TotalTPS, s.RequestsPS, s.HostOverheadS, s.GPUPeakBytes, s.ProcPeakBytes, s.GPUUtilPercent, s.EnergyJ, s.TokensPerJ, s.DecodeBound, s.MBU,
			s.HostPeakRSS, s.HostCPUCores, s.TTFTP50, s.TTFTP90, s.TTFTP99, s.TPOTP50, s.TPOTP90, s.TPOTP99, s.E2EP50, s.E2EP90, s.E2EP99,
			s.PerUserTPS} {
			rec = append(rec, csvFloat(p))
		}
		rec = append(rec, csvInt(s.CachedTokens), csvInt(s.MaxCachedTokens))
		for _, p := range []*float64{s.ProgramsPS, s.ValidShare, s.ProgramLatP50, s.ProgramLatP90} {
			rec = append(rec, csvFloat(p))
		}
		rec = append(rec, strings.Join(s.Flags, ";"), s.WorkloadSHA256)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvInt(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func csvFloat(p *float64) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'g', -1, 64)
}
