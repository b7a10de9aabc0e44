package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/report"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/roofline"
	"github.com/enginebench/enginebench/pyhost/pyhosttest"
)

// scripts/gpu-check.sh on a machine without a GPU stops with a clear
// message, before building anything. The test binary plays the enginebench
// binary the script is given.
func TestGPUCheckScriptWithoutGPU(t *testing.T) {
	script, _ := filepath.Abs("../../scripts/gpu-check.sh")
	self, _ := os.Executable()
	py := pyhosttest.DefaultPython(t).Executable
	noTorch := t.TempDir() // a python that cannot import torch
	os.WriteFile(filepath.Join(noTorch, "python3"), []byte("#!/bin/sh\necho 'ModuleNotFoundError: No module named torch' >&2; exit 1\n"), 0o755)
	fakeSMI := func(body string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte("#!/bin/sh\n"+body+"\n"), 0o755)
		return dir
	}
	bare := "/usr/bin:/bin" // no nvidia-smi on these machines
	if _, err := exec.LookPath("nvidia-smi"); err == nil {
		t.Skip("this machine has nvidia-smi: the no-GPU path is not what it would take")
	}
	tests := []struct {
		name string
		args []string
		path string
		want string
	}{
		{"no binary", nil, bare, "--enginebench BIN is required"},
		{"binary that does not run", []string{"--enginebench", "/bin/false"}, bare, "/bin/false does not run here"},
		{"no driver", []string{"--enginebench", self, "--python", py}, bare, "no NVIDIA GPU here: nvidia-smi is not installed"},
		{"driver that finds no GPU", []string{"--enginebench", self, "--python", py}, fakeSMI("echo 'No devices were found'; exit 6") + ":" + bare, "nvidia-smi -L says: No devices were found"},
		{"python without torch", []string{"--enginebench", self, "--python", filepath.Join(noTorch, "python3")}, fakeSMI("echo 'GPU 0: NVIDIA H200'") + ":" + bare, "cannot import torch and transformers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command("bash", append([]string{script, "--out", filepath.Join(dir, "out")}, tt.args...)...)
			cmd.Env = append(os.Environ(), "PATH="+tt.path, asMainEnv+"=1")
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %v, want 2 saying %q:\n%s", err, tt.want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "out", "model-1b")); err == nil {
				t.Error("a model was built")
			}
		})
	}
}

// scripts/gpu_check.py on a run whose GPU fields are set the way the NVML
// sampler sets them (the Go types write them): it passes a complete run and
// names each missing measurement.
func TestGPUCheckerOnARun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	model, _ := filepath.Abs("testdata/model")
	r := enginebench(t, nil, "run", "--engine", "vllm", "--model", model, "--batch-sizes", "1,4", "--input-len", "12", "--output-len", "6",
		"--reps", "2", "--warmup", "1", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	checker, _ := filepath.Abs("../../scripts/gpu_check.py")
	py := pyhosttest.DefaultPython(t).Executable
	u := func(v uint64) *uint64 { return &v }
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		edit func(m *results.Manifest, rows []results.Row)
		note string
		code int
		want []string
	}{
		{"complete", nil, "", 0, []string{"GPU in the manifest: NVIDIA H200", "NVML peak memory above 0", "energy above 0", "process tree holds GPU memory", "MBU 0.", "all checks passed"}},
		{"no GPU", func(m *results.Manifest, _ []results.Row) {
			m.GPU = gpu.SystemInfo{NoMetricsReason: "no GPU metrics: NVML library not found"}
		}, "", 1, []string{"records no GPU: no GPU metrics: NVML library not found"}},
		{"no peak memory", func(_ *results.Manifest, rows []results.Row) { rows[len(rows)-1].GPU[0].PeakUsedBytes = u(0) }, "", 1, []string{"no NVML peak memory in vllm bs=4 rep 1"}},
		{"no energy counter", func(m *results.Manifest, rows []results.Row) {
			m.GPU.Devices[0].Unavailable = map[string]string{"energy": "NOT_SUPPORTED"}
			for i := range rows {
				rows[i].GPU[0].EnergyJoules = nil
			}
		}, "", 0, []string{"energy not checked: the driver has no energy counter here (NOT_SUPPORTED)"}},
		{"no process memory, no reason", func(_ *results.Manifest, rows []results.Row) { rows[len(rows)-1].GPU[0].PeakProcessUsedBytes = nil }, "", 1, []string{"process-tree GPU memory absent in", "no reason is known"}},
		{"no process memory, a container", func(_ *results.Manifest, rows []results.Row) { rows[len(rows)-1].GPU[0].PeakProcessUsedBytes = nil }, "a container without the host's PID namespace", 0, []string{"absent in 1 rows: a container without the host's PID namespace"}},
		{"MBU above 1", func(m *results.Manifest, _ []results.Row) { m.GPU.Devices[0].PeakBandwidthBytesPerS = f(1) }, "", 1, []string{"outside (0, 1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := readManifest(t, out)
			rows := readRows(t, out)
			m.GPU = gpu.SystemInfo{DriverVersion: "570.124.06", CUDADriverVersion: "12.8", Devices: []gpu.DeviceInfo{{
				Name: "NVIDIA H200", MemoryTotalBytes: 150 << 30, PeakBandwidthBytesPerS: f(4.8e12), MemoryAPI: "v2",
			}}}
			// A model of 1 MB of weights: the fakes' speed stays well under
			// its decode bound.
			m.Model.Roofline = &roofline.Model{WeightBytes: 1 << 20, Layers: 2, KVHeads: 1, HeadDim: 64, KVBytesPerElement: 2}
			for i := range rows {
				rows[i].GPU = []gpu.Stats{{Samples: 3, PeakUsedBytes: u(4 << 30), EnergyJoules: f(12.5), PeakProcessUsedBytes: u(3 << 30)}}
			}
			if tt.edit != nil {
				tt.edit(m, rows)
			}
			dir := t.TempDir()
			if err := results.WriteManifest(filepath.Join(dir, "manifest.json"), m); err != nil {
				t.Fatal(err)
			}
			w, err := results.Append(filepath.Join(dir, "results.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				if err := w.Write(&rows[i]); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			sf, err := os.Create(filepath.Join(dir, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := report.JSON(sf, m, rows); err != nil {
				t.Fatal(err)
			}
			sf.Close()
			got, err := exec.Command(py, checker, dir, "--process-memory-note", tt.note).CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit %d, want %d:\n%s", code, tt.code, got)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("output lacks %q:\n%s", w, got)
				}
			}
		})
	}
}
