// Package run is one benchmark run, from a validated Plan to the files of
// its output directory. Execute locks the directory (Dir), builds the
// manifest from the plan and merges it with the run it resumes, writes the
// workload, checks every engine before any model loads, and then runs one
// worker process per engine, one after another, over the same cells. The
// worker reports each batch; this package alone turns it into a result row,
// tallies it, and appends and syncs it as it arrives. A worker that crashes,
// hangs or fails is reported with its exit status and log tail; the other
// engines' results are kept and the run goes on.
package run

import (
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// Plan is one run, validated: what to measure, with which engines, and
// where the results go. The command line builds it; nothing changes it.
type Plan struct {
	Engines []EngineSpec
	Model   Model
	Spec    workload.Spec
	// Workload, when set, is a prepared workload of Spec (run --workload);
	// otherwise Execute draws it from Spec.
	Workload *workload.Workload
	Sampling protocol.Sampling
	// Out is the output directory.
	Out string
	// Resume measures only the cells Out does not hold yet; every setting
	// that changes what is measured must match the earlier run's.
	Resume bool
	// Baseline is the engine the ratio table divides by; empty: the first.
	Baseline string
	// Timeouts: a worker silent for longer is killed and reported hung.
	LoadTimeout  time.Duration
	BatchTimeout time.Duration
	// InterruptGrace is how long an interrupted worker gets to stop
	// (default 30 s).
	InterruptGrace time.Duration
	SampleInterval time.Duration
	GPUs           []string
	RequireGPU     bool
	// PythonPaths go on every worker's sys.path ahead of site-packages.
	PythonPaths []string
	// CommandLine and Tool are recorded in the manifest.
	CommandLine []string
	Tool        results.Tool
	Host        results.Host
}

// EngineSpec is one engine of a plan: which engine, in which python, with
// which arguments and environment.
type EngineSpec struct {
	Name   string
	Python string
	// UserArgs are the --engine-arg keyword arguments, a JSON object.
	UserArgs json.RawMessage
	// UserEnv is the --engine-env environment as given; Env is the whole
	// environment the worker gets (the engine's defaults, then the user's).
	UserEnv map[string]string
	Env     map[string]string
}

// Model is the model every engine loads.
type Model struct {
	// Path is what the engines are given: a directory or a hub id.
	Path string
	// Dtype is the one explicit dtype every engine runs.
	Dtype string
	// Info is the manifest's description of the model.
	Info results.Model
	// ContextLen is the model's own context length (max_position_embeddings;
	// 0: unknown): a program workload's context on every engine.
	ContextLen int
}

// Options are how a run talks to the world around it.
type Options struct {
	// Worker starts an engine's worker process.
	Worker WorkerCommand
	// Progress receives one line per event a user watching wants to see.
	Progress io.Writer
}

// Paths inside the output directory.
const (
	ResultsFile  = "results.jsonl"
	ManifestFile = "manifest.json"
	WorkloadFile = "workload.json"
	ReportFile   = "report.txt"
	// TornFile keeps the bytes of results lines that were cut short.
	TornFile = "results.jsonl.torn"
	lockFile = ".enginebench.lock"
)

// LogFile is the log of one engine's worker.
func LogFile(engine string) string { return engine + ".log" }

// Outcome summarizes a run.
type Outcome struct {
	// Failed lists the engines that failed, with why.
	Failed []*WorkerError
	// FailedBatches names each batch that raised while its engine went on,
	// e.g. "vllm bs=4 rep 1".
	FailedBatches []string
	// Interrupted is true when the run was stopped by its context.
	Interrupted bool
	// Ran is true once the engines' pre-flight checks passed and the first
	// engine started: from then on the directory holds a manifest.
	Ran bool
}

// InputError is a problem with what the user asked for (flags, the output
// directory, a resume that would mix settings, an engine's pre-flight
// check), found before any model loads. Its message names the fix.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// IsInputError reports whether err is, or wraps, an *InputError.
func IsInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func (p *Plan) maxBatchSize() int {
	n := 0
	for _, b := range p.Spec.BatchSizes {
		n = max(n, b)
	}
	return n
}

func (p *Plan) grace() time.Duration {
	if p.InterruptGrace > 0 {
		return p.InterruptGrace
	}
	return 30 * time.Second
}
