package results

import (
	"github.com/enginebench/enginebench/offline/stats"
)

// FlagProgramErrors: at least one program of the batch raised; its
// traceback is in the row's ProgramDetail. The batch's figures count every
// program, the failed ones included.
const FlagProgramErrors = "program_errors"

// ProgramBatch is what a program batch (a --program run) returned, as the
// adapter reports it: the sums over every gen and select of the batch's
// programs, and one record per program.
type ProgramBatch struct {
	// OutputTokens sums the completion tokens the engine reported for every
	// gen of the batch.
	OutputTokens int `json:"output_tokens"`
	GenCalls     int `json:"gen_calls"`
	SelectCalls  int `json:"select_calls"`
	// Records has one entry per program, in the batch's order.
	Records []ProgramRecord `json:"records"`
}

// ProgramRecord is one program of a batch.
type ProgramRecord struct {
	// Index is the program's index in the workload (its argument dict).
	Index int `json:"index"`
	// LatencyS is from the start of the run_batch call to the program's
	// last engine answer; nil when it got none.
	LatencyS *float64 `json:"latency_s"`
	// Valid is whether the program file's check passed; nil without a
	// check or when the program raised. A check that raised counts as not
	// valid, with CheckError saying why.
	Valid      *bool  `json:"valid"`
	CheckError string `json:"check_error,omitempty"`
	// Error is the traceback of a program that raised.
	Error string `json:"error,omitempty"`
}

// Programs summarizes a program batch in its row.
type Programs struct {
	// Programs is the number of programs run.
	Programs int `json:"programs"`
	// Valid counts the programs whose check passed; nil when the program
	// file has no check.
	Valid *int `json:"programs_valid"`
	// Errors counts the programs that raised.
	Errors      int `json:"program_errors"`
	GenCalls    int `json:"gen_calls"`
	SelectCalls int `json:"select_calls"`
	// LatencyP50S and LatencyP90S are over the programs' latencies (nil
	// when none has one).
	LatencyP50S *float64 `json:"latency_p50_s"`
	LatencyP90S *float64 `json:"latency_p90_s"`
}

// TallyPrograms fills a program row from what its batch returned: the
// summary, the output tokens, the per-program records and the flags. Only
// records of the batch's own programs count, each once; others are
// counted in ExtraRequests and flagged.
func (r *Row) TallyPrograms(b *ProgramBatch) {
	p := &Programs{}
	r.Programs = p
	r.ProgramDetail = nil
	r.ExtraRequests = 0
	if b == nil {
		r.Flags = r.answerFlags()
		return
	}
	counts := FirstAnswers(r.FirstPrompt, r.BatchSize)
	var latencies []float64
	checked, valid := false, 0
	for _, rec := range b.Records {
		if !counts(rec.Index) {
			r.ExtraRequests++
			continue
		}
		r.ProgramDetail = append(r.ProgramDetail, rec)
		p.Programs++
		if rec.Error != "" {
			p.Errors++
		}
		if rec.Valid != nil {
			checked = true
			if *rec.Valid {
				valid++
			}
		}
		if rec.LatencyS != nil {
			latencies = append(latencies, *rec.LatencyS)
		}
	}
	if checked {
		p.Valid = &valid
	}
	p.GenCalls, p.SelectCalls = b.GenCalls, b.SelectCalls
	r.OutputTokens = b.OutputTokens
	r.Requests = p.Programs
	if len(latencies) > 0 {
		p50, err50 := stats.Quantile(latencies, 0.5)
		p90, err90 := stats.Quantile(latencies, 0.9)
		if err50 == nil && err90 == nil {
			p.LatencyP50S, p.LatencyP90S = &p50, &p90
		}
	}
	r.Flags = r.answerFlags()
	if p.Errors > 0 {
		r.Flags = append(r.Flags, FlagProgramErrors)
	}
}

// FirstAnswers returns a function that reports whether an answer naming
// workload index i counts in the batch [first, first+size): i is one of
// the batch's and no earlier answer named it. Any other answer is extra:
// left out of every figure and flagged.
func FirstAnswers(first, size int) func(i int) bool {
	seen := map[int]bool{}
	return func(i int) bool {
		if i < first || i >= first+size || seen[i] {
			return false
		}
		seen[i] = true
		return true
	}
}

// ProgramsPerS is programs run per second of wall time.
func (r *Row) ProgramsPerS() float64 {
	if r.Programs == nil {
		return 0
	}
	return perS(r.Programs.Programs, r.WallS)
}
