package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/offline/results"
)

// The CPU tier runs the real engines: the transformers baseline and vLLM's
// CPU build, on the tiny model scripts/build_tiny_model.py builds. `make test`
// sets it up and points these variables at it.
const (
	cpuVenvEnv  = "ENGINEBENCH_CPU_VENV"
	vllmVenvEnv = "ENGINEBENCH_VLLM_CPU_VENV"
	modelEnv    = "ENGINEBENCH_TINY_MODEL"
)

func cpuTier(t *testing.T, env string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the real engines take minutes")
	}
	dir := os.Getenv(env)
	if dir == "" {
		t.Skipf("%s is not set: run `make test`, which builds the CPU tier", env)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s=%s: %v (run `make setup`)", env, dir, err)
	}
	return dir
}

func TestCPUTierRealEngines(t *testing.T) {
	model := cpuTier(t, modelEnv)
	tf := cpuTier(t, cpuVenvEnv)
	args := []string{"run", "--engine", "transformers=" + tf}
	engines := []string{"transformers"}
	if v := os.Getenv(vllmVenvEnv); v != "" {
		if _, err := os.Stat(v); err == nil {
			// A step budget of 32 prompt tokens: the batch of 4 prompts of 16
			// is prefilled in two steps, for real, and the report says so.
			args = append(args, "--engine", "vllm="+v,
				"--engine-env", "vllm: VLLM_CPU_KVCACHE_SPACE=1", "--engine-env", "vllm: VLLM_CPU_OMP_THREADS_BIND=nobind",
				"--engine-arg", "vllm: max_num_batched_tokens=32")
			engines = append(engines, "vllm")
		}
	}
	if len(engines) == 1 {
		t.Logf("%s is not set: vLLM's CPU build is not tested", vllmVenvEnv)
	}
	out := filepath.Join(t.TempDir(), "run")
	args = append(args, "--model", model, "--batch-sizes", "1,4", "--input-len", "16", "--output-len", "8",
		"--reps", "2", "--warmup", "1", "--out", out, "--load-timeout", "10m", "--batch-timeout", "5m")
	// No fakes on the path: the real packages of each venv.
	r := enginebench(t, []string{"PYTHONPATH="}, args...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	rows := readRows(t, out)
	if len(rows) != len(engines)*6 {
		t.Fatalf("%d rows, want %d", len(rows), len(engines)*6)
	}
	for _, row := range rows {
		if row.Error != "" || len(row.Flags) != 0 || row.OutputTokens != row.BatchSize*8 || row.PromptTokens != row.BatchSize*16 {
			t.Errorf("%s bs=%d rep=%d: output %d prompt %d flags %v error %q", row.Engine, row.BatchSize, row.Rep, row.OutputTokens, row.PromptTokens, row.Flags, row.Error)
		}
		if row.Host == nil || row.Host.PeakRSSBytes == nil {
			t.Errorf("%s bs=%d: no host memory measured", row.Engine, row.BatchSize)
		}
	}
	m := readManifest(t, out)
	for _, e := range m.Engines {
		v := e.Versions[e.Name]
		if e.Status != results.EngineDone || v == "" || strings.Contains(v, "fake") || e.LoadS == nil {
			t.Errorf("engine %s: status %s version %q load %v", e.Name, e.Status, v, e.LoadS)
		}
		if e.Name == "vllm" && (e.KVCacheTokens == nil || *e.KVCacheTokens <= 0) {
			t.Errorf("vllm reports no KV capacity: %v", e.KVCacheTokens)
		}
	}
	if len(engines) == 2 {
		const chunked = "prefill over several steps: batches of more than 2 prompts of 16 tokens exceed max_num_batched_tokens=32"
		if !strings.Contains(r.stdout, chunked) {
			t.Errorf("the report does not note vLLM's prefill over several steps (%q):\n%s", chunked, r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "no GPU metrics:") {
		t.Errorf("the report does not say why there are no GPU metrics:\n%s", r.stdout)
	}
}
