// Package results defines what enginebench writes to disk: one Row per batch
// in results.jsonl, appended and flushed as each batch ends, and the run's
// Manifest. The schema is versioned (SchemaVersion); readers refuse a newer
// one.
package results

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/hostmon"
)

// SchemaVersion is the version of Row and Manifest. It changes when a field
// changes meaning or is removed; adding a field does not change it.
const SchemaVersion = 1

// Flag names written to Row.Flags. A flagged row is never hidden and never
// back-filled: its figures are what the engine returned.
const (
	// FlagShortOutput: at least one sequence returned fewer tokens than
	// the output length asked for.
	FlagShortOutput = "short_output"
	// FlagLongOutput: at least one sequence returned more tokens than asked.
	FlagLongOutput = "long_output"
	// FlagCachedTokens: the engine reports prefix-cache hits on a workload
	// whose prompts share nothing.
	FlagCachedTokens = "cached_tokens"
	// FlagPromptMismatch: the engine reports a prompt length other than the
	// one sent.
	FlagPromptMismatch = "prompt_mismatch"
	// FlagMissingRequests: the engine returned fewer sequences than prompts.
	FlagMissingRequests = "missing_requests"
	// FlagExtraRequests: the engine returned answers to none of the batch's
	// prompts, or a second answer to one; they are not counted.
	FlagExtraRequests = "extra_requests"
	// FlagError: the batch failed; Row.Error says how.
	FlagError = "error"
)

// Request is what the engine returned for one prompt of a batch.
type Request struct {
	// Index is the prompt's index in the workload.
	Index int `json:"index"`
	// PromptTokens is the prompt length the engine reports having
	// processed (vLLM: len(prompt_token_ids); SGLang: meta_info.prompt_tokens).
	PromptTokens int `json:"prompt_tokens"`
	// OutputTokens is the number of token IDs the engine returned.
	OutputTokens int `json:"output_tokens"`
	// CachedTokens is the engine's count of prompt tokens served from its
	// prefix cache; nil when the engine does not report it.
	CachedTokens *int `json:"cached_tokens"`
	// FinishReason is the engine's own reason, e.g. "length".
	FinishReason string `json:"finish_reason,omitempty"`
	// Timings are the engine's own per-request timings in seconds, named
	// as the engine names them (vLLM RequestStateStats, SGLang meta_info).
	Timings map[string]float64 `json:"timings,omitempty"`
	// Latency is what the request experienced, from the engine's own
	// timestamps; nil when the engine reports none (transformers runs
	// static batches).
	Latency *Latency `json:"latency,omitempty"`
	// OutputIDs are the token IDs the engine returned, kept for the first
	// measured repetition of each batch size only (KeepsOutputIDs): the
	// output-parity check compares them across engines.
	OutputIDs []int `json:"output_ids,omitempty"`
}

// Latency is one request's latency as its engine reports it, in seconds;
// each is nil where the engine does not give it.
type Latency struct {
	// TTFTS is the time to the first output token, from the request's
	// arrival at the engine.
	TTFTS *float64 `json:"ttft_s"`
	// TPOTS is the mean time per output token after the first.
	TPOTS *float64 `json:"tpot_s"`
	// E2ES is the request's end-to-end latency inside the engine.
	E2ES *float64 `json:"e2e_s"`
}

// KeepsOutputIDs reports whether a cell's rows carry the returned token IDs:
// the first measured repetition of each batch size. Every engine runs that
// cell on the same prompts, so their outputs can be compared token by token.
func KeepsOutputIDs(rep int, warmup bool) bool { return rep == 0 && !warmup }

// Row is one generate call: one (engine, batch size, repetition) cell.
type Row struct {
	Schema    int    `json:"schema"`
	Engine    string `json:"engine"`
	BatchSize int    `json:"batch_size"`
	// Rep is the repetition index within (engine, batch size), from 0;
	// warm-ups are numbered apart, also from 0.
	Rep    int  `json:"rep"`
	Warmup bool `json:"warmup"`
	// FirstPrompt is the workload index of the batch's first prompt; the
	// batch is prompts [FirstPrompt, FirstPrompt+BatchSize).
	FirstPrompt int       `json:"first_prompt"`
	StartedAt   time.Time `json:"started_at"`
	// WallS is the wall time of the generate call, measured in Go with a
	// monotonic clock around the call.
	WallS float64 `json:"wall_s"`
	// EngineS is the adapter's own time around the engine call, measured
	// in Python with time.perf_counter; nil if the call failed.
	EngineS *float64 `json:"engine_s"`
	// HostOverheadS is WallS - EngineS: the cost of the host boundary.
	HostOverheadS *float64 `json:"host_overhead_s"`
	// Token counts summed over the batch, as the engine returned them.
	PromptTokens         int `json:"prompt_tokens"`
	OutputTokens         int `json:"output_tokens"`
	ExpectedOutputTokens int `json:"expected_output_tokens"`
	CachedTokens         int `json:"cached_tokens"`
	// Requests counts the sequences returned; ShortRequests those shorter
	// than the output length.
	Requests      int `json:"requests"`
	ShortRequests int `json:"short_requests"`
	// ExtraRequests counts the answers left out of every figure: to no
	// prompt of the batch, or a second one to the same prompt.
	ExtraRequests int `json:"extra_requests,omitempty"`
	// MaxCachedTokens is, in a shared-prefix workload, the most prompt
	// tokens a prefix cache could have served in this batch
	// (workload.MaxCachedTokens); absent otherwise.
	MaxCachedTokens *int   `json:"max_cached_tokens,omitempty"`
	WorkloadSHA256  string `json:"workload_sha256"`
	// Flags name what is wrong with this row (Flag* constants); empty when
	// clean.
	Flags []string `json:"flags"`
	// Error says why the batch failed; the row then carries no figures.
	Error string `json:"error,omitempty"`
	// GPU holds per-device statistics over the call's wall time; empty when
	// there are no GPU metrics (the manifest says why).
	GPU []gpu.Stats `json:"gpu,omitempty"`
	// Host is the worker process tree's memory and CPU over the call.
	Host *hostmon.Stats `json:"host,omitempty"`
	// Detail is every request of the batch.
	Detail []Request `json:"requests_detail,omitempty"`
	// Programs and ProgramDetail are a program batch's (a --program run):
	// its summary and one record per program, with the traceback of each
	// that raised. Requests then counts programs, OutputTokens the
	// completion tokens of every gen.
	Programs      *Programs       `json:"programs,omitempty"`
	ProgramDetail []ProgramRecord `json:"programs_detail,omitempty"`
}

// OutputTokensPerS is output tokens per second of wall time.
func (r *Row) OutputTokensPerS() float64 { return perS(r.OutputTokens, r.WallS) }

// TotalTokensPerS is prompt plus output tokens per second of wall time.
func (r *Row) TotalTokensPerS() float64 { return perS(r.PromptTokens+r.OutputTokens, r.WallS) }

// RequestsPerS is sequences returned per second of wall time.
func (r *Row) RequestsPerS() float64 { return perS(r.Requests, r.WallS) }

func perS(n int, s float64) float64 {
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// Measured reports whether the row counts in the figures: not a warm-up and
// not failed.
func (r *Row) Measured() bool { return !r.Warmup && r.Error == "" }

// Key identifies a sweep cell for --resume.
type Key struct {
	Engine    string
	BatchSize int
	Rep       int
	Warmup    bool
}

// Key returns the row's cell.
func (r *Row) Key() Key { return Key{r.Engine, r.BatchSize, r.Rep, r.Warmup} }

// answerFlags are the flags every batch gets from its answers' count: a
// failed call, fewer answers than the batch holds (Requests: sequences or
// programs), answers left out as extra.
func (r *Row) answerFlags() []string {
	flags := []string{}
	if r.Error != "" {
		flags = append(flags, FlagError)
	}
	if r.Error == "" && r.Requests < r.BatchSize {
		flags = append(flags, FlagMissingRequests)
	}
	if r.ExtraRequests > 0 {
		flags = append(flags, FlagExtraRequests)
	}
	return flags
}

// Writer appends rows to a JSONL file, one per line, flushed and synced as
// each row is written, so a crash loses nothing already measured.
type Writer struct {
	mu sync.Mutex
	f  *os.File
}

// Append opens path for appending, creating it if needed.
func Append(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening results file: %w", err)
	}
	return &Writer{f: f}, nil
}

// Write appends one row and syncs it to disk.
func (w *Writer) Write(r *Row) error {
	r.Schema = SchemaVersion
	if r.Flags == nil {
		r.Flags = []string{}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding a result row: %w", err)
	}
	b = append(b, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("writing %s: %w", w.f.Name(), err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", w.f.Name(), err)
	}
	return nil
}

// Close closes the file.
func (w *Writer) Close() error { return w.f.Close() }

// Read reads every row of a results.jsonl. A line that is not a whole JSON
// row (a write cut short: the process died, the disk filled) is skipped and
// counted in skipped, so a reader can say so; the run that resumes the
// directory sets such lines aside (offline/run) and measures their cells
// again.
func Read(path string) (rows []Row, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("reading results: %w", err)
	}
	defer f.Close()
	return Decode(f)
}

// Decode reads rows from r; see Read.
func Decode(r io.Reader) (rows []Row, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var row Row
		if err := json.Unmarshal(b, &row); err != nil {
			skipped++
			continue
		}
		if row.Schema > SchemaVersion {
			return nil, 0, fmt.Errorf("results line %d has schema %d; this enginebench reads up to %d: upgrade it", line, row.Schema, SchemaVersion)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading results: %w", err)
	}
	return rows, skipped, nil
}

// ErrNoResults is returned when a results file holds no rows.
var ErrNoResults = errors.New("no results")

// Lengths gives the prompt length and the output length asked for of the
// workload's prompt i.
type Lengths func(i int) (prompt, output int)

// FixedLengths is the Lengths of a workload whose every prompt has the same
// length and asks for the same output.
func FixedLengths(prompt, output int) Lengths {
	return func(int) (int, int) { return prompt, output }
}

// Tally fills the row's sums and flags from its Detail, given the prompt and
// output lengths asked for of each workload prompt (the row's prompts are
// FirstPrompt .. FirstPrompt+BatchSize-1); cacheExpected says the workload
// shares prefixes, so cache hits are the point, not a flag. Every returned
// sequence is counted as returned: a short one is flagged, never
// back-filled; a missing one is flagged and counts nothing.
func (r *Row) Tally(lengths Lengths, cacheExpected bool) {
	r.Requests = len(r.Detail)
	r.ExpectedOutputTokens = 0
	for i := r.FirstPrompt; i < r.FirstPrompt+r.BatchSize; i++ {
		_, out := lengths(i)
		r.ExpectedOutputTokens += out
	}
	r.PromptTokens, r.OutputTokens, r.CachedTokens, r.ShortRequests = 0, 0, 0, 0
	var long, mismatch bool
	for _, q := range r.Detail {
		inputLen, outputLen := lengths(q.Index)
		r.PromptTokens += q.PromptTokens
		r.OutputTokens += q.OutputTokens
		if q.CachedTokens != nil {
			r.CachedTokens += *q.CachedTokens
		}
		switch {
		case q.OutputTokens < outputLen:
			r.ShortRequests++
		case q.OutputTokens > outputLen:
			long = true
		}
		if q.PromptTokens != inputLen {
			mismatch = true
		}
	}
	flags := r.answerFlags()
	if r.ShortRequests > 0 {
		flags = append(flags, FlagShortOutput)
	}
	if long {
		flags = append(flags, FlagLongOutput)
	}
	if r.CachedTokens > 0 && !cacheExpected {
		flags = append(flags, FlagCachedTokens)
	}
	if mismatch {
		flags = append(flags, FlagPromptMismatch)
	}
	r.Flags = flags
}
