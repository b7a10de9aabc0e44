package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/pyhost"
)

// Adapter is what an engine adapter does, whatever runs it: the worker
// drives one through a load request's life. PyAdapter runs the embedded
// Python adapters; tests use a Go fake.
type Adapter interface {
	// Check imports the engine and checks the configuration against the
	// installed engine's own signatures, loading no model.
	Check(ctx context.Context, cfg *Config) (*protocol.EngineInfo, error)
	// SetWorkload has the adapter read the workload file itself and build
	// the engine's prompt objects, before any timing. It returns the number
	// of prompts and their hash, recomputed from the very lists the engine
	// will get.
	SetWorkload(ctx context.Context, w WorkloadRef) (WorkloadHeld, error)
	// Load constructs the engine.
	Load(ctx context.Context, cfg *Config) (*protocol.EngineInfo, error)
	// RunBatch is the timed call: prompts [first, first+count) in one
	// generate call.
	RunBatch(ctx context.Context, first, count int) (Timing, error)
	// Collect returns what the engine returned for the last batch, each
	// answer naming the workload index of its prompt (a program batch: its
	// programs' records); keepIDs keeps the returned token IDs.
	Collect(ctx context.Context, keepIDs bool) (Collected, error)
	// Close shuts the engine down.
	Close(ctx context.Context) error
}

// Config is what every adapter is configured with: the load request's
// engine-independent settings, which each adapter maps to its engine's own
// names.
type Config struct {
	Model        string `json:"model"`
	Dtype        string `json:"dtype"`
	Seed         int64  `json:"seed"`
	MaxModelLen  int    `json:"max_model_len"`
	MaxBatchSize int    `json:"max_batch_size"`
	InputLen     int    `json:"input_len"`
	OutputLen    int    `json:"output_len"`
	// PrefixCaching: the workload shares prefixes; the engine's prefix
	// cache is on.
	PrefixCaching bool `json:"prefix_caching"`
	// Program and ProgramFeatures: a program workload (see
	// protocol.LoadRequest).
	Program         bool              `json:"program"`
	ProgramFeatures []string          `json:"program_features"`
	Sampling        protocol.Sampling `json:"sampling"`
	UserArgs        json.RawMessage   `json:"user_args"`
}

// ConfigOf picks the adapter's configuration out of a load request.
func ConfigOf(l *protocol.LoadRequest) *Config {
	return &Config{
		Model: l.Model, Dtype: l.Dtype, Seed: l.Seed, MaxModelLen: l.MaxModelLen, MaxBatchSize: l.MaxBatchSize,
		InputLen: l.InputLen, OutputLen: l.OutputLen, PrefixCaching: l.PrefixCaching, Program: l.Program, ProgramFeatures: l.ProgramFeatures,
		Sampling: l.Sampling, UserArgs: l.UserArgs,
	}
}

// WorkloadRef names the workload file an adapter reads.
type WorkloadRef struct {
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	InputLen  int    `json:"input_len"`
	OutputLen int    `json:"output_len"`
}

// WorkloadHeld is what an adapter holds after SetWorkload.
type WorkloadHeld struct {
	Count  int    `json:"count"`
	SHA256 string `json:"sha256"`
}

// Timing is when a batch ran. Start and End are Go monotonic readings taken
// as close to the engine call as the adapter can (PyAdapter: on the
// interpreter's thread); EngineS is the adapter's own time around the engine
// call.
type Timing struct {
	Start, End time.Time
	EngineS    float64
}

// PyAdapter is an engine adapter of the embedded Python package
// (enginebench_host.engines.NAME), called through the interpreter host.
type PyAdapter struct {
	host   *pyhost.Host
	module string
}

// NewPyAdapter returns the adapter of engine in h.
func NewPyAdapter(h *pyhost.Host, engine string) *PyAdapter {
	return &PyAdapter{host: h, module: AdapterModule(engine)}
}

// AdapterModule returns the Python module of an engine's adapter.
func AdapterModule(engine string) string {
	return pyhost.PackageName + ".engines." + engine
}

// Check implements Adapter.
func (a *PyAdapter) Check(ctx context.Context, cfg *Config) (*protocol.EngineInfo, error) {
	var info protocol.EngineInfo
	if err := a.host.CallJSON(ctx, a.module, "check", cfg, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// SetWorkload implements Adapter.
func (a *PyAdapter) SetWorkload(ctx context.Context, w WorkloadRef) (WorkloadHeld, error) {
	var held WorkloadHeld
	err := a.host.CallJSON(ctx, a.module, "set_workload", w, &held)
	return held, err
}

// Load implements Adapter.
func (a *PyAdapter) Load(ctx context.Context, cfg *Config) (*protocol.EngineInfo, error) {
	var info protocol.EngineInfo
	if err := a.host.CallJSON(ctx, a.module, "load", cfg, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// RunBatch implements Adapter. Its argument is two integers and its result
// one float, so the timed region holds almost nothing but the engine call.
func (a *PyAdapter) RunBatch(ctx context.Context, first, count int) (Timing, error) {
	var out struct {
		EngineS float64 `json:"engine_s"`
	}
	start := time.Now()
	span, err := a.host.CallTimed(ctx, a.module, "run_batch", map[string]int{"first": first, "count": count}, &out)
	t := Timing{Start: start, End: time.Now(), EngineS: out.EngineS}
	if !span.Start.IsZero() {
		// Timed on the interpreter's thread: the hand-offs to and from it
		// are the tool's latency (waking an idle core's thread costs up to
		// hundreds of microseconds on a VM), not the engine's.
		t.Start, t.End = span.Start, span.End
	}
	return t, err
}

// Collected is what the engine returned for one batch.
type Collected struct {
	// Requests are a token-ID batch's answers.
	Requests []results.Request `json:"requests"`
	// Programs is a program batch's outcome; nil otherwise.
	Programs *results.ProgramBatch `json:"programs,omitempty"`
}

// Collect implements Adapter.
func (a *PyAdapter) Collect(ctx context.Context, keepIDs bool) (Collected, error) {
	var col Collected
	if err := a.host.CallJSON(ctx, a.module, "collect", map[string]bool{"keep_ids": keepIDs}, &col); err != nil {
		return Collected{}, fmt.Errorf("collecting the batch's outputs: %w", err)
	}
	return col, nil
}

// Close implements Adapter.
func (a *PyAdapter) Close(ctx context.Context) error {
	return a.host.CallJSON(ctx, a.module, "close", nil, nil)
}
