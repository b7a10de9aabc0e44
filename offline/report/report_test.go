package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/roofline"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func f(x float64) *float64 { return &x }

func fixture() (*results.Manifest, []results.Row) {
	kv := int64(4096)
	m := &results.Manifest{
		Tool:     results.Tool{Version: "test"},
		Model:    results.Model{Path: "/models/tiny", Dtype: "float32"},
		Workload: results.Workload{SHA256: "0123456789abcdef0123456789abcdef", Seed: 7, InputLen: 32, OutputLen: 16, BatchSizes: []int{1, 4}, Reps: 3, Warmup: 1},
		Sampling: results.Sampling{Temperature: 0, TopP: 1},
		Engines: []results.Engine{
			{Name: "transformers", Status: results.EngineDone, Versions: map[string]string{"transformers": "5.19.0", "torch": "2.13.0"}, LoadS: f(1.25), Notes: []string{"no fixed KV capacity"}},
			{Name: "vllm", Status: results.EngineFailed, Error: "engine vllm: killed by signal 9 (killed)", Versions: map[string]string{"vllm": "0.32.0"}, LoadS: f(10.5), KVCacheTokens: &kv, Reservation: map[string]any{"kv_cache_memory_bytes": float64(1073741824), "gpu_memory_utilization": 0.92}},
		},
	}
	m.GPU.NoMetricsReason = "no GPU metrics: NVML library not found (libnvidia-ml.so.1)"
	row := func(engine string, bs, rep int, wall, engineS float64, out int, flags ...string) results.Row {
		over := wall - engineS
		if flags == nil {
			flags = []string{}
		}
		return results.Row{Engine: engine, BatchSize: bs, Rep: rep, StartedAt: time.Unix(0, 0), WallS: wall, EngineS: &engineS, HostOverheadS: &over,
			PromptTokens: bs * 32, OutputTokens: out, Requests: bs, WorkloadSHA256: m.Workload.SHA256, Flags: flags}
	}
	rows := []results.Row{
		{Engine: "transformers", BatchSize: 1, Warmup: true, WallS: 9, OutputTokens: 16, Requests: 1, WorkloadSHA256: m.Workload.SHA256},
		row("transformers", 1, 0, 0.20, 0.199, 16),
		row("transformers", 1, 1, 0.25, 0.249, 16),
		row("transformers", 1, 2, 0.22, 0.219, 16),
		row("transformers", 4, 0, 0.40, 0.398, 64),
		row("transformers", 4, 1, 0.42, 0.418, 63, results.FlagShortOutput),
		row("transformers", 4, 2, 0.41, 0.408, 64),
		row("vllm", 1, 0, 0.05, 0.049, 16),
		row("vllm", 1, 1, 0.04, 0.039, 16, results.FlagCachedTokens),
		row("vllm", 1, 2, 0.06, 0.059, 16),
		{Engine: "vllm", BatchSize: 4, Rep: 0, WorkloadSHA256: m.Workload.SHA256, Error: "killed by signal 9", Flags: []string{results.FlagError}},
		// Another workload's row is never mixed in.
		row("vllm", 4, 0, 0.01, 0.01, 64),
	}
	rows[len(rows)-1].WorkloadSHA256 = "other"
	// vLLM's batches of one report each request's latency.
	for i, ttft := range []float64{0.010, 0.008, 0.012} {
		r := &rows[7+i]
		r.Detail = []results.Request{{Index: i, PromptTokens: 32, OutputTokens: 16,
			Latency: &results.Latency{TTFTS: f(ttft), TPOTS: f((r.WallS - ttft) / 15), E2ES: f(r.WallS)}}}
	}
	return m, rows
}

func TestTableGolden(t *testing.T) {
	m, rows := fixture()
	var buf bytes.Buffer
	if err := Table(&buf, m, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "table.golden", buf.Bytes())
}

func TestSummarize(t *testing.T) {
	m, rows := fixture()
	cells := CellStatsOf(m, rows)
	if len(cells) != 4 {
		t.Fatalf("%d cells, want 4", len(cells))
	}
	tr1 := cells[0]
	if len(tr1.Rows) != 3 || tr1.Wall.Median != 0.22 || tr1.Wall.Min != 0.20 || tr1.Wall.Max != 0.25 {
		t.Errorf("transformers bs=1: %d rows, wall %+v (the warm-up must be excluded)", len(tr1.Rows), tr1.Wall)
	}
	if got := cells[1].Flags[results.FlagShortOutput]; got != 1 {
		t.Errorf("short_output count = %d", got)
	}
	v4 := cells[3]
	if len(v4.Rows) != 0 || v4.Failed != 1 {
		t.Errorf("vllm bs=4: %d rows, %d failed; the other workload's row must not count", len(v4.Rows), v4.Failed)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestResourcesWithGPU(t *testing.T) {
	m, rows := fixture()
	bw := 1e12 // 1 TB/s
	m.GPU = gpu.SystemInfo{DriverVersion: "550.54", Devices: []gpu.DeviceInfo{{Index: 0, Name: "Test GPU", MemoryTotalBytes: 80 << 30, PeakBandwidthBytesPerS: &bw, MemoryAPI: gpu.MemoryAPIv2}}}
	// 1 GB of weights and a 2-byte KV entry per token: the bound is B × BW /
	// 1 GB, less a few parts per billion for the KV reads.
	m.Model.Roofline = &roofline.Model{WeightBytes: 1e9, Layers: 1, KVHeads: 1, HeadDim: 1, KVBytesPerElement: 1}
	u := func(v uint64) *uint64 { return &v }
	for i := range rows {
		r := &rows[i]
		if r.Engine != "transformers" || r.BatchSize != 4 || r.Warmup {
			continue
		}
		r.GPU = []gpu.Stats{{Device: 0, Samples: 5, PeakUsedBytes: u(uint64(10+r.Rep) << 30), PeakProcessUsedBytes: u(8 << 30),
			MeanUtilPercent: f(90), EnergyJoules: f(32)}}
	}
	cells := CellStatsOf(m, rows)
	res := resources(m, cells[1])
	if res.GPUPeakBytes == nil || *res.GPUPeakBytes != float64(12<<30) {
		t.Errorf("GPU peak = %v, want the maximum over reps, 12 GiB", res.GPUPeakBytes)
	}
	// Output tokens 64, 63, 64 over 32 J each: median 2 tok/J.
	if res.EnergyJ == nil || *res.EnergyJ != 32 || res.TokensPerJ == nil || *res.TokensPerJ != 2 {
		t.Errorf("energy %v J, %v tok/J", res.EnergyJ, res.TokensPerJ)
	}
	// Bound: 4 × 1e12 / 1e9 = 4000 tok/s; medians: 156.1 tok/s → 3.9 %.
	if res.Bound == nil || *res.Bound < 3999.99 || *res.Bound > 4000 {
		t.Fatalf("bound = %v, want 4000", res.Bound)
	}
	if want := cells[1].OutputTPS.Median / 4000; res.MBU == nil || *res.MBU < want*0.99 || *res.MBU > want*1.01 {
		t.Errorf("MBU = %v, want about %v", res.MBU, want)
	}
	// Without GPU stats a cell reports nothing measured, not zeros.
	if r := resources(m, cells[0]); r.GPUPeakBytes != nil || r.EnergyJ != nil || r.TokensPerJ != nil {
		t.Errorf("a cell without GPU samples got GPU figures: %+v", r)
	}
	var buf bytes.Buffer
	if err := Table(&buf, m, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "table_gpu.golden", buf.Bytes())
}

func TestExportsGolden(t *testing.T) {
	m, rows := fixture()
	var c, j bytes.Buffer
	if err := CSV(&c, m, rows); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&j, m, rows); err != nil {
		t.Fatal(err)
	}
	golden(t, "summary.csv.golden", c.Bytes())
	golden(t, "summary.json.golden", j.Bytes())
}

func TestChart(t *testing.T) {
	m, rows := fixture()
	dir := t.TempDir()
	for _, name := range []string{"t.svg", "t.pdf", "t.png"} {
		path := filepath.Join(dir, name)
		if err := Chart(path, m, rows); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v, %v bytes", name, err, fi)
		}
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "t.svg"))
	for _, want := range []string{"transformers", "vllm", "batch size", "output tokens/s"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	if err := Chart(filepath.Join(dir, "t.txt"), m, rows); err == nil {
		t.Error("an unknown extension must be refused")
	}
}

// A sweep of one batch size (or of one engine's one cell) still draws: the
// log axis needs a range that excludes 0.
func TestChartOneBatchSize(t *testing.T) {
	for _, bs := range []int{1, 64} {
		m, rows := fixture()
		m.Workload.BatchSizes = []int{bs}
		var keep []results.Row
		for _, r := range rows {
			if r.BatchSize == 1 {
				r.BatchSize = bs
				keep = append(keep, r)
			}
		}
		path := filepath.Join(t.TempDir(), "one.svg")
		if err := Chart(path, m, keep); err != nil {
			t.Fatalf("batch %d: %v", bs, err)
		}
		svg, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(svg, []byte(">"+strconv.Itoa(bs)+"<")) {
			t.Errorf("batch %d: the SVG has no tick labelled %d", bs, bs)
		}
	}
}

// The throughput–interactivity chart draws the engines that report
// per-request latency and leaves the others out; with none it says so.
func TestTradeoffChart(t *testing.T) {
	m, rows := fixture()
	path := filepath.Join(t.TempDir(), "tradeoff.svg")
	if err := TradeoffChart(path, m, rows); err != nil {
		t.Fatal(err)
	}
	svg, _ := os.ReadFile(path)
	for _, want := range []string{"vllm", "per-user output tokens/s", "total output tokens/s", "bs 1"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("the SVG lacks %q", want)
		}
	}
	if bytes.Contains(svg, []byte("transformers")) {
		t.Error("transformers reports no latency and must not be drawn")
	}
	for i := range rows {
		rows[i].Detail = nil
	}
	if err := TradeoffChart(path, m, rows); !errors.Is(err, ErrNoLatency) {
		t.Errorf("no latency at all: %v, want ErrNoLatency", err)
	}
}
