// Package workertest is a Go fake of an engine adapter, for tests of the
// worker and of the run: no Python, no engine. It answers every prompt with
// OutputLen tokens, and can be told to fail, crash, hang, stall or answer
// more than it was asked.
package workertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/worker"
	"github.com/enginebench/enginebench/offline/workload"
)

// Behaviour says how a FakeAdapter misbehaves. Call numbers count RunBatch
// calls from 1.
type Behaviour struct {
	// FailLoad makes Load fail with a configuration error.
	FailLoad string
	// RaiseOn makes that call fail as a raising engine would.
	RaiseOn int
	// CrashOn kills the process (SIGKILL) during that call.
	CrashOn int
	// HangOn blocks that call until its context ends.
	HangOn int
	// StallOn makes that call take Stall.
	StallOn int
	Stall   time.Duration
	// ExtraOn makes that call answer every prompt twice and one prompt of
	// no batch.
	ExtraOn int
	// ProgramErrorOn makes the first program of that call raise (a program
	// workload).
	ProgramErrorOn int
	// Version is the engine version reported (default "1.0").
	Version string
}

// ParseBehaviour reads "key=value,..." (keys as the fields, lower case:
// fail_load, raise_on, crash_on, hang_on, stall_on, stall, extra_on,
// program_error_on, version), the form tests pass through the environment.
func ParseBehaviour(s string) (Behaviour, error) {
	var b Behaviour
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "fail_load":
			b.FailLoad = v
		case "raise_on":
			b.RaiseOn = n
		case "crash_on":
			b.CrashOn = n
		case "hang_on":
			b.HangOn = n
		case "stall_on":
			b.StallOn = n
		case "stall":
			d, err := time.ParseDuration(v)
			if err != nil {
				return b, err
			}
			b.Stall = d
		case "extra_on":
			b.ExtraOn = n
		case "program_error_on":
			b.ProgramErrorOn = n
		case "version":
			b.Version = v
		default:
			return b, fmt.Errorf("workertest: unknown behaviour %q", k)
		}
	}
	return b, nil
}

// FakeAdapter implements worker.Adapter.
type FakeAdapter struct {
	B       Behaviour
	wl      *workload.Workload
	cfg     *worker.Config
	calls   int
	last    [2]int
	loaded  bool
	Closed  bool
	outputs int
}

var _ worker.Adapter = (*FakeAdapter)(nil)

func (a *FakeAdapter) info() *protocol.EngineInfo {
	v := a.B.Version
	if v == "" {
		v = "1.0"
	}
	kv := int64(4096)
	return &protocol.EngineInfo{Engine: "fake", PythonVersion: "3.11.0", Versions: map[string]string{"fake": v}, KVCacheTokens: &kv,
		ConstructorArgs: map[string]any{"model": a.cfg.Model}}
}

// Check implements worker.Adapter.
func (a *FakeAdapter) Check(_ context.Context, cfg *worker.Config) (*protocol.EngineInfo, error) {
	a.cfg = cfg
	return a.info(), nil
}

// SetWorkload implements worker.Adapter: it reads the file, as the Python
// adapters do.
func (a *FakeAdapter) SetWorkload(_ context.Context, w worker.WorkloadRef) (worker.WorkloadHeld, error) {
	wl, err := workload.Read(w.Path)
	if err != nil {
		return worker.WorkloadHeld{}, err
	}
	a.wl, a.outputs = wl, w.OutputLen
	if wl.Spec.IsProgram() {
		return worker.WorkloadHeld{Count: len(wl.Arguments), SHA256: workload.HashProgram(wl.ProgramSource, wl.Arguments)}, nil
	}
	return worker.WorkloadHeld{Count: len(wl.Prompts), SHA256: workload.Hash(wl.Prompts)}, nil
}

// Load implements worker.Adapter.
func (a *FakeAdapter) Load(_ context.Context, cfg *worker.Config) (*protocol.EngineInfo, error) {
	a.cfg = cfg
	if a.B.FailLoad != "" {
		return nil, &protocol.FailedEvent{Kind: protocol.FailConfig, Message: a.B.FailLoad}
	}
	a.loaded = true
	return a.info(), nil
}

// RunBatch implements worker.Adapter.
func (a *FakeAdapter) RunBatch(ctx context.Context, first, count int) (worker.Timing, error) {
	a.calls++
	a.last = [2]int{first, count}
	start := time.Now()
	switch a.calls {
	case a.B.CrashOn:
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	case a.B.HangOn:
		<-ctx.Done()
		return worker.Timing{Start: start, End: time.Now()}, fmt.Errorf("interrupted: %w", ctx.Err())
	case a.B.StallOn:
		time.Sleep(a.B.Stall)
	case a.B.RaiseOn:
		return worker.Timing{Start: start, End: time.Now()}, errors.New("RuntimeError: fake engine failure")
	}
	end := time.Now()
	return worker.Timing{Start: start, End: end, EngineS: end.Sub(start).Seconds()}, nil
}

// Collect implements worker.Adapter.
func (a *FakeAdapter) Collect(_ context.Context, keepIDs bool) (worker.Collected, error) {
	first, count := a.last[0], a.last[1]
	if a.wl.Spec.IsProgram() {
		return worker.Collected{Programs: a.programs(first, count)}, nil
	}
	var out []results.Request
	answer := func(i int) {
		q := results.Request{Index: i, PromptTokens: a.cfg.InputLen, OutputTokens: a.outputs, FinishReason: "length"}
		if keepIDs {
			for k := range a.outputs {
				q.OutputIDs = append(q.OutputIDs, i+k)
			}
		}
		out = append(out, q)
	}
	for i := first; i < first+count; i++ {
		answer(i)
		if a.calls == a.B.ExtraOn {
			answer(i)
		}
	}
	if a.calls == a.B.ExtraOn {
		answer(first + count + 1000)
	}
	return worker.Collected{Requests: out}, nil
}

// programs answers a program batch: every program valid after one gen of 8
// tokens, 1 ms apart; with ProgramErrorOn, the
// first program of that call raises.
func (a *FakeAdapter) programs(first, count int) *results.ProgramBatch {
	const tokens = 8 // per program
	b := &results.ProgramBatch{OutputTokens: count * tokens, GenCalls: count}
	for i := first; i < first+count; i++ {
		lat, valid := float64(i-first+1)/1000, true
		rec := results.ProgramRecord{Index: i, LatencyS: &lat, Valid: &valid}
		if a.calls == a.B.ProgramErrorOn && i == first {
			rec.Valid, rec.Error = nil, "Traceback (most recent call last):\nValueError: fake program failure"
			b.OutputTokens -= tokens
		}
		b.Records = append(b.Records, rec)
	}
	return b
}

// Close implements worker.Adapter.
func (a *FakeAdapter) Close(context.Context) error {
	a.Closed = true
	return nil
}
