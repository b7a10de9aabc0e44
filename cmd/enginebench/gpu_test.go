//go:build gpu

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/enginebench/enginebench/offline/results"
)

// The GPU tier (`make test-gpu`): the real vLLM and SGLang on a GPU, with
// NVML. It needs a small local model and the engines' pythons:
//
//	ENGINEBENCH_GPU_MODEL=/models/Qwen2.5-0.5B-Instruct
//	ENGINEBENCH_GPU_VLLM_PYTHON=/venvs/vllm/bin/python
//	ENGINEBENCH_GPU_SGLANG_PYTHON=/venvs/sglang/bin/python
func TestGPUTierRealEngines(t *testing.T) {
	model := os.Getenv("ENGINEBENCH_GPU_MODEL")
	if model == "" {
		t.Skip("ENGINEBENCH_GPU_MODEL is not set")
	}
	args := []string{"run", "--model", model, "--batch-sizes", "1,8", "--input-len", "64", "--output-len", "32",
		"--reps", "2", "--warmup", "1", "--require-gpu", "--sample-interval", "20ms"}
	var engines []string
	for _, e := range []struct{ name, env string }{{"vllm", "ENGINEBENCH_GPU_VLLM_PYTHON"}, {"sglang", "ENGINEBENCH_GPU_SGLANG_PYTHON"}} {
		if py := os.Getenv(e.env); py != "" {
			args = append(args, "--engine", e.name+"="+py)
			engines = append(engines, e.name)
		}
	}
	if len(engines) == 0 {
		t.Skip("neither ENGINEBENCH_GPU_VLLM_PYTHON nor ENGINEBENCH_GPU_SGLANG_PYTHON is set")
	}
	if len(engines) == 2 {
		// Two engines must fit one after the other, not together.
		args = append(args, "--engine-arg", "vllm: gpu_memory_utilization=0.5", "--engine-arg", "sglang: mem_fraction_static=0.5")
	}
	out := filepath.Join(t.TempDir(), "run")
	r := enginebench(t, []string{"PYTHONPATH="}, append(args, "--out", out)...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	m := readManifest(t, out)
	if m.GPU.NoMetricsReason != "" || len(m.GPU.Devices) == 0 || m.GPU.DriverVersion == "" {
		t.Fatalf("GPU info: %+v", m.GPU)
	}
	for _, e := range m.Engines {
		if e.Status != results.EngineDone || e.KVCacheTokens == nil || *e.KVCacheTokens <= 0 || len(e.GPUAfterLoad) == 0 {
			t.Errorf("engine %s: %+v", e.Name, e)
		}
	}
	for _, row := range readRows(t, out) {
		if row.Error != "" || len(row.Flags) != 0 {
			t.Errorf("%s bs=%d: flags %v error %q", row.Engine, row.BatchSize, row.Flags, row.Error)
		}
		if len(row.GPU) == 0 || row.GPU[0].PeakUsedBytes == nil || *row.GPU[0].PeakUsedBytes == 0 {
			t.Errorf("%s bs=%d: no GPU memory measured: %+v", row.Engine, row.BatchSize, row.GPU)
		}
		if row.GPU[0].PeakProcessUsedBytes == nil || *row.GPU[0].PeakProcessUsedBytes == 0 {
			t.Errorf("%s bs=%d: the worker's process tree holds no GPU memory: %+v", row.Engine, row.BatchSize, row.GPU[0])
		}
	}
}
