// Package protocol is the conversation between the enginebench parent and an
// engine worker: JSON lines over two dedicated pipes (the worker's file
// descriptors 3 and 4), never over the worker's stdout or stderr, which
// engines fill with logs.
//
// The parent sends a Request and waits for the matching Event:
//
//	load  -> loaded | failed      (check-only loads answer checked | failed)
//	batch -> result               (a failed batch is a result with an error)
//
// The worker reports what the engine returned (BatchResult); the parent
// alone turns it into a result row and tallies it (offline/run).
//
//	close -> closed
//
// The whole workload reaches the engine's adapter once, as a file named in
// the load request that the adapter reads itself, before any timing; a batch
// request carries only the cell, so the timed region holds no prompt
// decoding.
package protocol

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/hostmon"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// File descriptors of the pipes in the worker: the parent puts them first in
// exec.Cmd.ExtraFiles.
const (
	RequestFD = 3 // parent -> worker
	EventFD   = 4 // worker -> parent
)

// Request types.
const (
	TypeLoad  = "load"
	TypeBatch = "batch"
	TypeClose = "close"
)

// Event types.
const (
	TypeChecked = "checked"
	TypeLoaded  = "loaded"
	TypeFailed  = "failed"
	TypeResult  = "result"
	TypeClosed  = "closed"
)

// Request is one message from the parent.
type Request struct {
	Type  string        `json:"type"`
	Load  *LoadRequest  `json:"load,omitempty"`
	Batch *BatchRequest `json:"batch,omitempty"`
}

// Sampling is the sampling every engine is given.
type Sampling struct {
	Temperature float64 `json:"temperature"`
	TopP        float64 `json:"top_p"`
	Seed        int64   `json:"seed"`
}

// LoadRequest tells the worker which engine to start and how.
type LoadRequest struct {
	Engine string `json:"engine"`
	Python string `json:"python"`
	// CheckOnly imports the engine and checks the arguments against its
	// signature, without loading a model (the parent's pre-flight).
	CheckOnly bool   `json:"check_only"`
	Model     string `json:"model"`
	Dtype     string `json:"dtype"`
	Seed      int64  `json:"seed"`
	// MaxModelLen is the longest request's input plus output length.
	MaxModelLen int `json:"max_model_len"`
	// MaxBatchSize is the largest batch of the sweep: the concurrency cap
	// every engine gets.
	MaxBatchSize int `json:"max_batch_size"`
	// InputLen is the length of every prompt (a shared prefix included),
	// or, where prompts vary (ShareGPT), the longest prompt's.
	InputLen int `json:"input_len"`
	// PrefixCaching turns the engines' prefix caches on: the workload
	// shares prefixes on purpose.
	PrefixCaching bool `json:"prefix_caching"`
	// Program marks a program workload (--program): the engine loads with
	// its tokenizer behind a frontend backend; MaxModelLen is then the
	// model's context length, InputLen and OutputLen 0. ProgramFeatures is
	// what the program uses (workload.Feature*), checked in the pre-flight;
	// nil when unknown.
	Program         bool     `json:"program,omitempty"`
	ProgramFeatures []string `json:"program_features,omitempty"`
	// OutputLen is the number of tokens every request generates, or, with
	// reference output lengths (the workload file's output_lens), the most
	// any request generates.
	OutputLen int      `json:"output_len"`
	Sampling  Sampling `json:"sampling"`
	// UserArgs are the --engine-arg keyword arguments for this engine;
	// they override the tool's settings.
	UserArgs json.RawMessage `json:"user_args"`
	// WorkloadPath is the workload file the parent wrote; WorkloadSHA256 is
	// its hash, checked by the worker and again by the Python adapter.
	WorkloadPath   string `json:"workload_path"`
	WorkloadSHA256 string `json:"workload_sha256"`
	// PythonPaths go on sys.path ahead of site-packages.
	PythonPaths []string `json:"python_paths,omitempty"`
	// Env is set before the interpreter starts.
	Env map[string]string `json:"env,omitempty"`
	// GPU sampling.
	SampleInterval time.Duration `json:"sample_interval"`
	GPUs           []string      `json:"gpus,omitempty"`
	RequireGPU     bool          `json:"require_gpu"`
}

// Cell is one generate call of the sweep.
type Cell = workload.Cell

// BatchRequest runs one cell.
type BatchRequest struct {
	Cell Cell `json:"cell"`
}

// Event is one message from the worker.
type Event struct {
	Type    string       `json:"type"`
	Checked *EngineInfo  `json:"checked,omitempty"`
	Loaded  *LoadedEvent `json:"loaded,omitempty"`
	Failed  *FailedEvent `json:"failed,omitempty"`
	Result  *BatchResult `json:"result,omitempty"`
}

// BatchResult is one generate call as the worker saw it: the timing, what
// the engine returned per request, and the resources around the call. The
// parent builds the result row from it (offline/run).
type BatchResult struct {
	Cell      Cell      `json:"cell"`
	StartedAt time.Time `json:"started_at"`
	// WallS is the Go monotonic time around the call, read on the
	// interpreter's thread.
	WallS float64 `json:"wall_s"`
	// EngineS is the adapter's own time around the engine call; nil when
	// the call failed.
	EngineS *float64 `json:"engine_s"`
	// Requests are the engine's answers, each naming the workload index of
	// the prompt it answers (the adapter matches them by request id or by
	// prompt, never by position alone).
	Requests []results.Request `json:"requests"`
	// Programs is a program batch's outcome (a --program run); nil for
	// token-ID batches.
	Programs *results.ProgramBatch `json:"programs,omitempty"`
	// Error says why the call (or collecting its outputs) failed.
	Error string         `json:"error,omitempty"`
	GPU   []gpu.Stats    `json:"gpu,omitempty"`
	Host  *hostmon.Stats `json:"host,omitempty"`
}

// EngineInfo is what the adapter reports about the engine.
type EngineInfo struct {
	Engine        string            `json:"engine"`
	PythonVersion string            `json:"python_version"`
	Versions      map[string]string `json:"versions"`
	// ConstructorArgs are the keyword arguments the engine is (or would be)
	// constructed with.
	ConstructorArgs map[string]any `json:"constructor_args"`
	EffectiveConfig map[string]any `json:"effective_config,omitempty"`
	Reservation     map[string]any `json:"reservation,omitempty"`
	KVCacheTokens   *int64         `json:"kv_cache_tokens"`
	// TensorParallel is the number of GPUs one model replica spans, as the
	// engine reports it (each adapter reads its own engine's name for it);
	// 0 when the engine has no such setting.
	TensorParallel int `json:"tensor_parallel,omitempty"`
	// CacheBlockTokens is the granularity of the engine's prefix cache in
	// tokens (vLLM's KV block, SGLang's page); 0 when unknown.
	CacheBlockTokens int `json:"cache_block_tokens,omitempty"`
	// EngineLoadS is the adapter's own time around the constructor.
	EngineLoadS *float64 `json:"engine_load_s"`
	Notes       []string `json:"notes,omitempty"`
}

// LoadedEvent reports a loaded engine.
type LoadedEvent struct {
	Info EngineInfo `json:"info"`
	// LoadS is the Go-side wall time of loading.
	LoadS     float64        `json:"load_s"`
	GPU       gpu.SystemInfo `json:"gpu"`
	GPUBefore []gpu.Sample   `json:"gpu_before,omitempty"`
	GPUAfter  []gpu.Sample   `json:"gpu_after,omitempty"`
}

// Failure kinds.
const (
	// FailConfig: the engine's arguments or environment are wrong; the
	// message says how to fix them.
	FailConfig = "config"
	// FailEngine: the engine raised.
	FailEngine = "engine"
	// FailInterrupted: the worker was interrupted.
	FailInterrupted = "interrupted"
	// FailInternal: the worker itself failed.
	FailInternal = "internal"
)

// FailedEvent reports a load or check that failed.
type FailedEvent struct {
	Kind      string `json:"kind"`
	Message   string `json:"message"`
	Traceback string `json:"traceback,omitempty"`
}

func (f *FailedEvent) Error() string { return f.Message }

// Conn reads and writes JSON lines. Send is safe for concurrent use.
type Conn struct {
	dec *bufio.Reader
	mu  sync.Mutex
	w   io.Writer
}

// NewConn wraps a reader and a writer.
func NewConn(r io.Reader, w io.Writer) *Conn {
	return &Conn{dec: bufio.NewReaderSize(r, 1<<16), w: w}
}

// Send writes v as one JSON line.
func (c *Conn) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding a protocol message: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("sending a protocol message: %w", err)
	}
	return nil
}

// Recv reads one JSON line into v. It returns io.EOF when the other side
// closed the pipe between messages.
func (c *Conn) Recv(v any) error {
	line, err := c.dec.ReadBytes('\n')
	if err != nil {
		if err == io.EOF && len(line) == 0 {
			return io.EOF
		}
		if err == io.EOF {
			// Cut off mid-message: not a clean close.
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("reading a protocol message: %w", err)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("decoding a protocol message %q: %w", truncate(line, 200), err)
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}
