package results

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/roofline"
)

// Manifest is everything needed to reproduce and defend a run:
// manifest.json in the output directory, rewritten as the run progresses.
type Manifest struct {
	Schema      int       `json:"schema"`
	Tool        Tool      `json:"tool"`
	CommandLine []string  `json:"command_line"`
	StartedAt   time.Time `json:"started_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Host        Host      `json:"host"`
	Model       Model     `json:"model"`
	Workload    Workload  `json:"workload"`
	Sampling    Sampling  `json:"sampling"`
	// GPU describes the driver and devices, or why there are no GPU metrics.
	GPU     gpu.SystemInfo `json:"gpu"`
	Engines []Engine       `json:"engines"`
	// Baseline is the engine the report's ratio table divides by; empty
	// means the first engine.
	Baseline string `json:"baseline,omitempty"`
	// Resumed lists the --resume runs that continued this one, oldest
	// first; CommandLine and StartedAt are the first run's.
	Resumed []Invocation `json:"resumed,omitempty"`
}

// BaselineEngine is the engine the ratio table divides by: Baseline when it
// names one of the run's engines, else the first engine.
func (m *Manifest) BaselineEngine() string {
	for _, e := range m.Engines {
		if e.Name == m.Baseline {
			return e.Name
		}
	}
	if len(m.Engines) == 0 {
		return ""
	}
	return m.Engines[0].Name
}

// Tool identifies the enginebench build.
type Tool struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
}

// Host describes the machine.
type Host struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Kernel      string `json:"kernel,omitempty"`
	CPUModel    string `json:"cpu_model,omitempty"`
	CPUs        int    `json:"cpus"`
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
}

// Model identifies the model every engine ran.
type Model struct {
	// Path is the model directory or identifier as given.
	Path string `json:"path"`
	// ConfigSHA256 hashes config.json; empty when the model is not a local
	// directory.
	ConfigSHA256 string   `json:"config_sha256,omitempty"`
	Architecture []string `json:"architectures,omitempty"`
	// Dtype is the dtype every engine was told to use.
	Dtype      string `json:"dtype"`
	VocabSize  int    `json:"vocab_size"`
	ParamCount *int64 `json:"param_count,omitempty"`
	ParamBytes *int64 `json:"param_bytes,omitempty"`
	// Roofline is the model's shape for the decode bandwidth bound, with
	// weight bytes at the dtype the engines run (Dtype), not as stored.
	Roofline *roofline.Model `json:"roofline,omitempty"`
	// RooflineUnavailable says why there is no Roofline.
	RooflineUnavailable string `json:"roofline_unavailable,omitempty"`
	// Warnings are findings about the model directory worth reporting.
	Warnings []string `json:"warnings,omitempty"`
}

// Workload identifies the prompts.
type Workload struct {
	SHA256     string `json:"sha256"`
	Seed       int64  `json:"seed"`
	InputLen   int    `json:"input_len"`
	OutputLen  int    `json:"output_len"`
	BatchSizes []int  `json:"batch_sizes"`
	Reps       int    `json:"reps"`
	Warmup     int    `json:"warmup"`
	Prompts    int    `json:"prompts"`
	VocabSize  int    `json:"vocab_size"`
	// ExcludedTokens are the special token IDs never drawn.
	ExcludedTokens []int `json:"excluded_tokens"`
	// Dataset is "random" or "shared-prefix"; a shared-prefix workload's
	// prompts are SharedPrefixLen prefix tokens (one of PrefixGroups
	// prefixes) then InputLen tokens of their own.
	Dataset         string `json:"dataset"`
	SharedPrefixLen int    `json:"shared_prefix_len,omitempty"`
	PrefixGroups    int    `json:"prefix_groups,omitempty"`
	// A ShareGPT workload ("sharegpt"): prompts are the Source file's first
	// human turns, tokenized once by Tokenizer, between MinInputLen and
	// MaxInputLen tokens (0: no bound); InputLen is 0. With ReferenceOutput
	// each request generates its reference reply's token count and
	// OutputLen is 0. Skipped counts the file's entries left out, by reason
	// (an empty object when none was).
	Source          *Source        `json:"source,omitempty"`
	MinInputLen     int            `json:"min_input_len,omitempty"`
	MaxInputLen     int            `json:"max_input_len,omitempty"`
	ReferenceOutput bool           `json:"reference_output,omitempty"`
	Skipped         map[string]int `json:"skipped,omitzero"`
	Tokenizer       *Tokenizer     `json:"tokenizer,omitempty"`
	// PromptTokens and OutputTokens summarize the lengths where they vary
	// between requests (ShareGPT); absent otherwise.
	PromptTokens *LengthStats `json:"prompt_tokens,omitempty"`
	OutputTokens *LengthStats `json:"output_tokens,omitempty"`
	// Program is a program workload's ("program"): SGLang frontend
	// programs run with run_batch, Prompts of them (one argument dict
	// each); InputLen and OutputLen are 0.
	Program *Program `json:"program,omitempty"`
}

// Program is the program file of a program workload.
type Program struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	// Features is what the program asks of an engine ("constrained",
	// "select"), from a dry run; absent when the dry run could not tell.
	Features []string `json:"features"`
	// ContextLen is the context every engine was given (the model's).
	ContextLen int `json:"context_len"`
}

// Source is the dataset file a workload came from.
type Source struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Entries int    `json:"entries"`
}

// Tokenizer is the tokenizer that turned a dataset's texts into token IDs.
type Tokenizer struct {
	Class        string `json:"class"`
	Transformers string `json:"transformers"`
	VocabSize    int    `json:"vocab_size"`
}

// LengthStats are the smallest, mean and largest of a workload's lengths,
// in tokens.
type LengthStats struct {
	Min  int     `json:"min"`
	Mean float64 `json:"mean"`
	Max  int     `json:"max"`
}

// PromptLen is the length of every prompt, or, where lengths vary, the
// mean prompt length rounded to a token.
func (w Workload) PromptLen() int {
	if w.PromptTokens != nil {
		return int(w.PromptTokens.Mean + 0.5)
	}
	return w.SharedPrefixLen + w.InputLen
}

// MeanOutputLen is the number of tokens every request generates, or, where
// lengths vary, their mean.
func (w Workload) MeanOutputLen() float64 {
	if w.OutputTokens != nil {
		return w.OutputTokens.Mean
	}
	return float64(w.OutputLen)
}

// Lengths describes the prompt and output lengths for a title: "128 in /
// 128 out tokens", or with varied lengths "31-512 in (mean 140) / 128 out
// tokens".
func (w Workload) Lengths() string {
	in := fmt.Sprintf("%d in", w.PromptLen())
	if p := w.PromptTokens; p != nil {
		in = fmt.Sprintf("%d-%d in (mean %.0f)", p.Min, p.Max, p.Mean)
	}
	out := fmt.Sprintf("%d out", w.OutputLen)
	if o := w.OutputTokens; o != nil && (w.ReferenceOutput || o.Min != o.Max) {
		out = fmt.Sprintf("%d-%d out (mean %.0f)", o.Min, o.Max, o.Mean)
	}
	return in + " / " + out + " tokens"
}

// Sampling is the sampling every engine was given.
type Sampling struct {
	Temperature float64 `json:"temperature"`
	TopP        float64 `json:"top_p"`
	Seed        int64   `json:"seed"`
	IgnoreEOS   bool    `json:"ignore_eos"`
}

// Engine statuses.
const (
	EngineQueued  = "queued"
	EngineRunning = "running"
	EngineDone    = "done"
	EngineFailed  = "failed"
)

// Engine is one engine as it ran.
type Engine struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	// Error says why the engine failed, with its exit status or signal.
	Error   string `json:"error,omitempty"`
	LogFile string `json:"log_file"`
	// WorkerPID is the process ID of the engine's last worker, also the
	// ID of its process group (every engine child is in that group).
	WorkerPID int `json:"worker_pid,omitempty"`
	// Python is the interpreter the worker embedded.
	Python        string `json:"python"`
	PythonVersion string `json:"python_version,omitempty"`
	// Versions of the engine and its stack, as imported in the worker.
	Versions map[string]string `json:"versions,omitempty"`
	// UserArgs are the --engine-arg keyword arguments as given.
	UserArgs json.RawMessage `json:"user_args,omitempty"`
	// UserEnv is the --engine-env environment as given; Env is the whole
	// environment enginebench set for the worker (the engine's defaults,
	// the offline switches for a local model, then UserEnv).
	UserEnv map[string]string `json:"user_env,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// FailedBatches are the batches that raised while the engine ran on;
	// any makes the run's exit status 1. A later --resume measures them
	// again.
	FailedBatches []FailedBatch `json:"failed_batches,omitempty"`
	// EffectiveConfig is the configuration the engine reports after
	// loading: the tool's settings, the user's, and the engine's defaults.
	EffectiveConfig map[string]any `json:"effective_config,omitempty"`
	// ConstructorArgs are the keyword arguments passed to the engine's
	// constructor.
	ConstructorArgs map[string]any `json:"constructor_args,omitempty"`
	// Reservation is the engine's memory reservation setting, by its own
	// name (vLLM gpu_memory_utilization or kv_cache_memory_bytes, SGLang
	// mem_fraction_static on a GPU, max_total_tokens on a CPU).
	Reservation map[string]any `json:"reservation,omitempty"`
	// KVCacheTokens is the KV-cache capacity in tokens the engine reports.
	KVCacheTokens *int64 `json:"kv_cache_tokens"`
	// TensorParallel is the number of GPUs one model replica spans; 0 when
	// the engine has no such setting.
	TensorParallel int `json:"tensor_parallel,omitempty"`
	// CacheBlockTokens is the granularity of the engine's prefix cache in
	// tokens (vLLM's KV block, SGLang's page); 0 when unknown.
	CacheBlockTokens int `json:"cache_block_tokens,omitempty"`
	// LoadS is the engine's construction time (model load, graph capture),
	// reported apart from every batch.
	LoadS *float64 `json:"load_s"`
	// GPUBeforeLoad and GPUAfterLoad are device readings around loading.
	GPUBeforeLoad []gpu.Sample `json:"gpu_before_load,omitempty"`
	GPUAfterLoad  []gpu.Sample `json:"gpu_after_load,omitempty"`
	// Notes are facts about this engine's run the report should show.
	Notes []string `json:"notes,omitempty"`
}

// FailedBatch is one batch that raised.
type FailedBatch struct {
	BatchSize int  `json:"batch_size"`
	Rep       int  `json:"rep"`
	Warmup    bool `json:"warmup"`
	// Error is the first line of the row's error.
	Error string `json:"error"`
}

// Invocation is one command line that ran into this output directory.
type Invocation struct {
	CommandLine []string  `json:"command_line"`
	StartedAt   time.Time `json:"started_at"`
}

// WriteManifest writes m to path atomically (a temporary file renamed into
// place), so a reader never sees half a manifest.
func WriteManifest(path string, m *Manifest) error {
	m.Schema = SchemaVersion
	m.UpdatedAt = time.Now().UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the manifest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".manifest-*.json")
	if err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	return nil
}

// ReadManifest reads a manifest.json.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("manifest %s is not valid JSON: %w", path, err)
	}
	if m.Schema > SchemaVersion {
		return nil, fmt.Errorf("manifest %s has schema %d; this enginebench reads up to %d: upgrade it", path, m.Schema, SchemaVersion)
	}
	return &m, nil
}
