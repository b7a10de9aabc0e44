//go:build cgo

package nvmlsampler

import (
	"context"
	"errors"
	"fmt"
	"github.com/enginebench/enginebench/offline/sampling"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxa100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/gpus"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"

	"github.com/enginebench/enginebench/offline/gpu"
)

const gib = uint64(1) << 30

// noEnv is a LookupEnv with nothing set, so tests never see the real
// CUDA_VISIBLE_DEVICES.
func noEnv(string) (string, bool) { return "", false }

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// complete fills in what the preset devices leave nil (calling a nil mock
// Func panics): v2 memory, utilization, power, energy, processes, memory
// clock and bus width, with steady values.
func complete(srv *server.Server, memClockMHz uint32) *server.Server {
	for i, d := range srv.Devices {
		md := d.(*server.Device)
		used := uint64(i+1) * gib
		md.MemoryInfo.Used = used
		md.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
			return nvml.Memory_v2{Total: md.MemoryInfo.Total, Used: used}, nvml.SUCCESS
		}
		md.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) { return nvml.Utilization{Gpu: 50}, nvml.SUCCESS }
		md.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 300000, nvml.SUCCESS }
		md.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 1_000_000, nvml.SUCCESS }
		md.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
		md.GetMemoryBusWidthFunc = func() (uint32, nvml.Return) { return 5120, nvml.SUCCESS }
		md.GetMaxClockInfoFunc = func(c nvml.ClockType) (uint32, nvml.Return) {
			if c != nvml.CLOCK_MEM {
				return 0, nvml.ERROR_INVALID_ARGUMENT
			}
			return memClockMHz, nvml.SUCCESS
		}
	}
	return srv
}

func h100s(n int) *server.Server {
	srv := complete(dgxh100.New(), 2619)
	srv.Devices = srv.Devices[:n]
	return srv
}

func dev(srv *server.Server, i int) *server.Device { return srv.Devices[i].(*server.Device) }

func mustOpen(t *testing.T, lib nvml.Interface, opts Options) *Sampler {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = noEnv
	}
	s, err := Open(lib, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ns, ok := s.(*Sampler)
	if !ok {
		t.Fatalf("Open returned %T (%s), want *Sampler", s, s.Info().NoMetricsReason)
	}
	t.Cleanup(ns.Stop)
	return ns
}

func TestOpenReadsSystemAndDeviceInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		srv      *server.Server
		gpuName  string
		memTotal uint64
		peakBW   float64
	}{
		{"dgxh100", complete(dgxh100.New(), 2619), "NVIDIA H100 80GB HBM3", 80 * gib, 2619e6 * 5120 * 2 / 8},
		{"dgxa100", complete(dgxa100.New(), 1215), "Mock NVIDIA A100-SXM4-40GB", 40 * gib, 1215e6 * 5120 * 2 / 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, tt.srv, Options{})
			info := s.Info()
			if info.DriverVersion != "550.54.15" || info.CUDADriverVersion != "12.4" || info.NVMLVersion != "12.550.54.15" {
				t.Errorf("versions = %q %q %q", info.DriverVersion, info.CUDADriverVersion, info.NVMLVersion)
			}
			if info.NoMetricsReason != "" || len(info.Warnings) != 0 {
				t.Errorf("reason %q warnings %v", info.NoMetricsReason, info.Warnings)
			}
			if len(info.Devices) != 8 {
				t.Fatalf("%d devices, want 8", len(info.Devices))
			}
			for i, d := range info.Devices {
				if d.Index != i || d.Name != tt.gpuName || d.UUID != dev(tt.srv, i).UUID || d.MemoryTotalBytes != tt.memTotal {
					t.Errorf("device %d = %+v", i, d)
				}
				if d.MemoryAPI != gpu.MemoryAPIv2 || d.Unavailable != nil {
					t.Errorf("device %d: api %q unavailable %v", i, d.MemoryAPI, d.Unavailable)
				}
				if d.PeakBandwidthBytesPerS == nil || *d.PeakBandwidthBytesPerS != tt.peakBW {
					t.Errorf("device %d peak bandwidth = %v, want %v", i, d.PeakBandwidthBytesPerS, tt.peakBW)
				}
			}
		})
	}
}

// TestScriptedCurve drives readings one at a time (no goroutine) with
// values scripted by reading number, so windows are exact.
func TestScriptedCurve(t *testing.T) {
	t.Parallel()
	srv := h100s(1)
	curveGiB := []uint64{10, 50, 30, 20, 40}
	var step atomic.Int64 // which reading the script is at
	md := dev(srv, 0)
	md.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) {
		return nvml.Memory_v2{Total: 80 * gib, Used: curveGiB[step.Load()] * gib}, nvml.SUCCESS
	}
	md.GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return 5_000_000 + 1500*uint64(step.Load()), nvml.SUCCESS }
	md.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		return nvml.Utilization{Gpu: uint32(10 * step.Load())}, nvml.SUCCESS
	}
	s := mustOpen(t, srv, Options{})

	var at []time.Time
	for k := range curveGiB {
		step.Store(int64(k))
		smp := s.Baseline(fmt.Sprintf("reading %d", k))
		if len(smp) != 1 || smp[0].UsedBytes == nil || *smp[0].UsedBytes != curveGiB[k]*gib {
			t.Fatalf("reading %d = %+v", k, smp)
		}
		at = append(at, smp[0].At)
	}
	tests := []struct {
		name     string
		from, to time.Time
		samples  int
		peak     uint64
		mean     uint64
		util     float64
		joules   *float64
	}{
		{"all", at[0], at[4], 5, 50 * gib, 30 * gib, 20, gpu.Ptr(6.0)},
		{"middle", at[1], at[3], 3, 50 * gib, (100*gib + 1) / 3, 20, gpu.Ptr(3.0)},
		{"tail", at[3], at[4], 2, 40 * gib, 30 * gib, 35, gpu.Ptr(1.5)},
		// One sample: no span to measure energy over, so nil, not 0.
		{"single", at[2], at[2], 1, 30 * gib, 30 * gib, 20, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := s.Stats(tt.from, tt.to)
			if len(st) != 1 {
				t.Fatalf("%d stats", len(st))
			}
			g := st[0]
			if g.Samples != tt.samples || *g.PeakUsedBytes != tt.peak || *g.MeanUsedBytes != tt.mean || *g.MeanUtilPercent != tt.util {
				t.Errorf("samples=%d peak=%d mean=%d util=%v, want %d %d %d %v",
					g.Samples, *g.PeakUsedBytes, *g.MeanUsedBytes, *g.MeanUtilPercent, tt.samples, tt.peak, tt.mean, tt.util)
			}
			switch {
			case tt.joules == nil && g.EnergyJoules != nil:
				t.Errorf("EnergyJoules = %v, want nil", *g.EnergyJoules)
			case tt.joules != nil && (g.EnergyJoules == nil || math.Abs(*g.EnergyJoules-*tt.joules) > 1e-9):
				t.Errorf("EnergyJoules = %v, want %v", g.EnergyJoules, *tt.joules)
			case tt.joules != nil:
				want := *tt.joules / tt.to.Sub(tt.from).Seconds()
				if g.MeanPowerWatts == nil || math.Abs(*g.MeanPowerWatts-want) > 1e-6*want {
					t.Errorf("MeanPowerWatts = %v, want %v", g.MeanPowerWatts, want)
				}
			}
		})
	}
	if got := len(s.Marks()); got != len(curveGiB) {
		t.Errorf("%d marks, want %d", got, len(curveGiB))
	}
}

// TestBackgroundSampling runs the real goroutine against an energy counter
// that grows at a steady 300 W of wall time.
func TestBackgroundSampling(t *testing.T) {
	t.Parallel()
	srv := h100s(2)
	origin := time.Now()
	for i := range srv.Devices {
		dev(srv, i).GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) {
			return uint64(time.Since(origin).Seconds() * 300_000), nvml.SUCCESS
		}
	}
	s := mustOpen(t, srv, Options{Interval: 5 * time.Millisecond})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); !errors.Is(err, sampling.ErrStarted) {
		t.Fatalf("second Start = %v, want errStarted", err)
	}
	time.Sleep(30 * time.Millisecond)
	t0 := s.Mark("batch")
	time.Sleep(80 * time.Millisecond)
	t1 := time.Now()
	st := s.Stats(t0, t1)
	if len(st) != 2 {
		t.Fatalf("%d stats, want 2", len(st))
	}
	for i, g := range st {
		if g.Samples == 0 || g.PeakUsedBytes == nil || *g.PeakUsedBytes != uint64(i+1)*gib || *g.MeanUsedBytes != uint64(i+1)*gib {
			t.Fatalf("device %d: %+v", i, g)
		}
		if g.EnergyJoules == nil || g.MeanPowerWatts == nil {
			t.Fatalf("device %d: no energy: %+v", i, g)
		}
		// The counter is read a few µs after each sample's timestamp; that
		// offset cancels in a difference, unless the machine stalls the
		// sampler between the two reads (a few ms is 5 % of this window):
		// ±20 % still catches a unit or interpolation error (1000×).
		if w := *g.MeanPowerWatts; w < 240 || w > 360 {
			t.Errorf("device %d mean power %.1f W, want ≈300", i, w)
		}
	}
	s.Stop()
	s.Stop() // idempotent
	calls := len(dev(srv, 0).GetMemoryInfo_v2Calls())
	if b := s.Baseline("after stop"); b != nil {
		t.Errorf("Baseline after Stop = %v, want nil", b)
	}
	if st := s.Stats(t0, time.Now()); len(st) != 2 || st[0].Samples == 0 {
		t.Errorf("Stats after Stop lost data: %+v", st)
	}
	if got := len(dev(srv, 0).GetMemoryInfo_v2Calls()); got != calls {
		t.Errorf("NVML called after Stop: %d calls, then %d", calls, got)
	}
	if n := len(srv.ShutdownCalls()); n != 1 {
		t.Errorf("Shutdown called %d times, want 1", n)
	}
	if err := s.Start(context.Background()); !errors.Is(err, sampling.ErrStopped) {
		t.Errorf("Start after Stop = %v, want errStopped", err)
	}
}

func TestStatsTakesAReadingAtTheEnd(t *testing.T) {
	t.Parallel()
	srv := h100s(1)
	var mj atomic.Uint64
	dev(srv, 0).GetTotalEnergyConsumptionFunc = func() (uint64, nvml.Return) { return mj.Add(1000), nvml.SUCCESS }
	s := mustOpen(t, srv, Options{})
	from := s.Baseline("start")[0].At
	to := time.Now()
	st := s.Stats(from, to)[0]
	// The reading Stats took is after to, so it brackets the end edge: the
	// energy is interpolated, positive and at most the one step of 1 J.
	if st.Samples != 1 || st.EnergyJoules == nil || *st.EnergyJoules <= 0 || *st.EnergyJoules > 1 {
		t.Fatalf("stats = %+v (energy %v)", st, st.EnergyJoules)
	}
	if last, _ := s.rec.Latest(0); last.At.Before(to) {
		t.Fatalf("no reading at or after the window end")
	}
}

func TestMissingV2SymbolFallsBackWithoutCallingIt(t *testing.T) {
	t.Parallel()
	srv := h100s(2)
	srv.LookupSymbolFunc = func(sym string) error {
		if sym == "nvmlDeviceGetMemoryInfo_v2" {
			return errors.New("undefined symbol: " + sym)
		}
		return nil
	}
	s := mustOpen(t, srv, Options{Interval: 5 * time.Millisecond})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Baseline("x")
	time.Sleep(20 * time.Millisecond)
	s.Stop()
	for i := range srv.Devices {
		md := dev(srv, i)
		if n := len(md.GetMemoryInfo_v2Calls()); n != 0 {
			t.Errorf("device %d: GetMemoryInfo_v2 called %d times without the symbol", i, n)
		}
		if n := len(md.GetMemoryInfoCalls()); n < 2 {
			t.Errorf("device %d: GetMemoryInfo called %d times", i, n)
		}
		if api := s.Info().Devices[i].MemoryAPI; api != gpu.MemoryAPIv1 {
			t.Errorf("device %d MemoryAPI = %q, want v1", i, api)
		}
		last, _ := s.rec.Latest(i)
		if last.UsedBytes == nil || *last.UsedBytes != uint64(i+1)*gib {
			t.Errorf("device %d used = %v", i, last.UsedBytes)
		}
	}
}

func TestUnsupportedMetricsAreDecidedOnce(t *testing.T) {
	t.Parallel()
	srv := h100s(1)
	md := dev(srv, 0)
	md.GetMemoryInfo_v2Func = func() (nvml.Memory_v2, nvml.Return) { return nvml.Memory_v2{}, nvml.ERROR_NOT_SUPPORTED }
	md.GetPowerUsageFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	md.GetMemoryBusWidthFunc = func() (uint32, nvml.Return) { return 0, nvml.ERROR_NOT_SUPPORTED }
	var utilCalls atomic.Int64
	md.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
		if utilCalls.Add(1)%2 == 1 { // transient failure on odd calls, the probe included
			return nvml.Utilization{}, nvml.ERROR_UNKNOWN
		}
		return nvml.Utilization{Gpu: 70}, nvml.SUCCESS
	}
	srv.LookupSymbolFunc = func(sym string) error {
		if sym == "nvmlDeviceGetTotalEnergyConsumption" {
			return errors.New("undefined symbol")
		}
		return nil
	}
	s := mustOpen(t, srv, Options{})
	var readings [][]gpu.Sample
	for range 4 {
		readings = append(readings, s.Baseline("r"))
	}
	di := s.Info().Devices[0]
	wantUnavailable := map[string]string{
		"power":  "ERROR_NOT_SUPPORTED",
		"energy": "driver lacks nvmlDeviceGetTotalEnergyConsumption",
	}
	if fmt.Sprint(di.Unavailable) != fmt.Sprint(wantUnavailable) {
		t.Errorf("Unavailable = %v, want %v", di.Unavailable, wantUnavailable)
	}
	if di.MemoryAPI != gpu.MemoryAPIv1 || di.MemoryBusWidthBits != nil || di.PeakBandwidthBytesPerS != nil {
		t.Errorf("device info = %+v", di)
	}
	if n := len(md.GetMemoryInfo_v2Calls()); n != 1 {
		t.Errorf("GetMemoryInfo_v2 called %d times, want 1 (the probe)", n)
	}
	if n := len(md.GetPowerUsageCalls()); n != 1 {
		t.Errorf("GetPowerUsage called %d times, want 1 (the probe)", n)
	}
	if n := len(md.GetTotalEnergyConsumptionCalls()); n != 0 {
		t.Errorf("GetTotalEnergyConsumption called %d times without its symbol", n)
	}
	var utils []string
	for _, r := range readings {
		if r[0].PowerMilliwatts != nil || r[0].EnergyMillijoules != nil || r[0].UsedBytes == nil {
			t.Errorf("reading %+v", r[0])
		}
		utils = append(utils, fmtPtr(r[0].UtilPercent))
	}
	// Probe was call 1 (failed, transient: kept); readings alternate.
	if got := strings.Join(utils, ","); got != "70,nil,70,nil" {
		t.Errorf("utilization readings = %s, want 70,nil,70,nil", got)
	}
}

func TestProcessTreeAttribution(t *testing.T) {
	t.Parallel()
	na := uint64(math.MaxUint64) // NVML_VALUE_NOT_AVAILABLE
	tests := []struct {
		name    string
		watch   gpu.WatchPIDs
		procs   [2][]nvml.ProcessInfo
		want    [2]string
		queried bool
	}{
		{
			name:  "parent and children counted, strangers not",
			watch: func() []int { return []int{100, 101, 102} },
			procs: [2][]nvml.ProcessInfo{
				{{Pid: 100, UsedGpuMemory: 1 * gib}, {Pid: 101, UsedGpuMemory: 2 * gib}, {Pid: 999, UsedGpuMemory: 5 * gib}},
				{{Pid: 999, UsedGpuMemory: 4 * gib}},
			},
			want:    [2]string{fmt.Sprint(3 * gib), "0"},
			queried: true,
		},
		{
			name:  "an unknown member makes the sum unknown",
			watch: func() []int { return []int{100, 101} },
			procs: [2][]nvml.ProcessInfo{
				{{Pid: 100, UsedGpuMemory: 1 * gib}, {Pid: 101, UsedGpuMemory: na}},
				{{Pid: 999, UsedGpuMemory: na}},
			},
			want:    [2]string{"nil", "0"},
			queried: true,
		},
		{
			name:  "no watched PIDs: nil, and NVML is not asked",
			watch: nil,
			procs: [2][]nvml.ProcessInfo{{{Pid: 100, UsedGpuMemory: 1 * gib}}, nil},
			want:  [2]string{"nil", "nil"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := h100s(2)
			for i := range 2 {
				procs := tt.procs[i]
				dev(srv, i).GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return procs, nvml.SUCCESS }
			}
			s := mustOpen(t, srv, Options{WatchPIDs: tt.watch})
			r := s.Baseline("x")
			for i := range 2 {
				if got := fmtPtr(r[i].ProcessUsedBytes); got != tt.want[i] {
					t.Errorf("device %d ProcessUsedBytes = %s, want %s", i, got, tt.want[i])
				}
				if called := len(dev(srv, i).GetComputeRunningProcessesCalls()) > 0; called != tt.queried {
					t.Errorf("device %d GetComputeRunningProcesses called = %v, want %v", i, called, tt.queried)
				}
			}
			st := s.Stats(r[0].At, r[0].At)
			if got := fmtPtr(st[0].PeakProcessUsedBytes); got != tt.want[0] {
				t.Errorf("PeakProcessUsedBytes = %s, want %s", got, tt.want[0])
			}
		})
	}
}

func TestDeviceSelection(t *testing.T) {
	t.Parallel()
	srv := h100s(8)
	uuid := func(i int) string { return dev(srv, i).UUID }
	tests := []struct {
		name    string
		env     map[string]string
		devices []string
		want    []int
		warn    string // substring of the single warning, "" for none
		noGPU   string // substring of the no-GPU reason
		err     string // substring of the Open error
	}{
		{name: "unset: all", want: []int{0, 1, 2, 3, 4, 5, 6, 7}},
		{name: "indexes keep CUDA order", env: map[string]string{"CUDA_VISIBLE_DEVICES": "2,0"}, want: []int{2, 0}},
		{name: "spaces", env: map[string]string{"CUDA_VISIBLE_DEVICES": " 3 , 4 "}, want: []int{3, 4}},
		{name: "full UUID", env: map[string]string{"CUDA_VISIBLE_DEVICES": uuid(5)}, want: []int{5}},
		{name: "UUID prefix, lower case", env: map[string]string{"CUDA_VISIBLE_DEVICES": strings.ToLower(uuid(3)[:16]) + "," + uuid(6)}, want: []int{3, 6}},
		{name: "invalid entry ends the list", env: map[string]string{"CUDA_VISIBLE_DEVICES": "1,9,2"}, want: []int{1}, warn: `entry "9" ignored`},
		{name: "repeat ends the list", env: map[string]string{"CUDA_VISIBLE_DEVICES": "1,1,2"}, want: []int{1}, warn: "listed twice"},
		{name: "empty selects nothing", env: map[string]string{"CUDA_VISIBLE_DEVICES": ""}, noGPU: `CUDA_VISIBLE_DEVICES="" selects no GPU`},
		{name: "first invalid selects nothing", env: map[string]string{"CUDA_VISIBLE_DEVICES": "-1"}, noGPU: `entry "-1" ignored`},
		{name: "MIG refused", env: map[string]string{"CUDA_VISIBLE_DEVICES": "MIG-4f6d6d2a-0000-0000-0000-000000000000"}, noGPU: "MIG instances are not supported"},
		{name: "explicit overrides env", env: map[string]string{"CUDA_VISIBLE_DEVICES": "0"}, devices: []string{"7", uuid(1)}, want: []int{7, 1}},
		{name: "explicit is strict", devices: []string{"0", "8"}, err: `device selection entry "8": index 8 out of range: 8 GPU(s)`},
		{name: "explicit unknown UUID", devices: []string{"GPU-ffffffff-nope"}, err: "no GPU has this UUID"},
		{name: "ambiguous prefix", devices: []string{"GPU-"}, err: "matches more than one GPU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(srv, Options{LookupEnv: env(tt.env), Devices: tt.devices})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Open error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Stop()
			info := s.Info()
			if tt.noGPU != "" {
				if _, ok := s.(*gpu.None); !ok || !strings.Contains(info.NoMetricsReason, tt.noGPU) {
					t.Fatalf("got %T with reason %q, want none with %q", s, info.NoMetricsReason, tt.noGPU)
				}
				return
			}
			var got []int
			for _, d := range info.Devices {
				got = append(got, d.Index)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("devices = %v, want %v", got, tt.want)
			}
			switch {
			case tt.warn == "" && len(info.Warnings) != 0:
				t.Errorf("warnings = %v", info.Warnings)
			case tt.warn != "" && (len(info.Warnings) != 1 || !strings.Contains(info.Warnings[0], tt.warn)):
				t.Errorf("warnings = %v, want one with %q", info.Warnings, tt.warn)
			}
			// Stats come back in selection order.
			var order []int
			for _, st := range s.Stats(time.Now(), time.Now()) {
				order = append(order, st.Device)
			}
			if !slices.Equal(order, tt.want) {
				t.Errorf("stats order = %v, want %v", order, tt.want)
			}
		})
	}
}

func TestMixedModelsWarnAboutCUDAOrdering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		warn bool
	}{
		{"index on mixed machine", map[string]string{"CUDA_VISIBLE_DEVICES": "0,1"}, true},
		{"PCI_BUS_ID order", map[string]string{"CUDA_VISIBLE_DEVICES": "0,1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, false},
		{"all devices, no index given", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := complete(dgxh100.NewWithGPUs(gpus.H100_SXM5_80GB, gpus.A100_SXM4_40GB), 2619)
			s := mustOpen(t, srv, Options{LookupEnv: env(tt.env)})
			w := s.Info().Warnings
			if got := len(w) == 1 && strings.Contains(w[0], "CUDA_DEVICE_ORDER=PCI_BUS_ID"); got != tt.warn {
				t.Errorf("warnings = %v, want warning: %v", w, tt.warn)
			}
		})
	}
}

func TestInitFailureGivesNoGPU(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ret    nvml.Return
		reason string
	}{
		{nvml.ERROR_LIBRARY_NOT_FOUND, "no GPU metrics: NVML library not found (libnvidia-ml.so.1)"},
		{nvml.ERROR_DRIVER_NOT_LOADED, "no GPU metrics: the NVIDIA kernel driver is not loaded (NVML: ERROR_DRIVER_NOT_LOADED)"},
		{nvml.ERROR_NO_PERMISSION, "no GPU metrics: no permission to access the GPU driver (NVML: ERROR_NO_PERMISSION)"},
		{nvml.ERROR_UNKNOWN, "no GPU metrics: NVML init failed: ERROR_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.ret.Error(), func(t *testing.T) {
			// Only InitFunc is set: any other call would panic, which proves
			// nothing but Init is called before Init succeeds.
			lib := &mock.Interface{InitFunc: func() nvml.Return { return tt.ret }}
			s, err := Open(lib, Options{LookupEnv: noEnv})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if _, ok := s.(*gpu.None); !ok {
				t.Fatalf("Open returned %T, want *gpu.None", s)
			}
			if got := s.Info().NoMetricsReason; got != tt.reason {
				t.Errorf("reason = %q, want %q", got, tt.reason)
			}
			if err := s.Start(context.Background()); err != nil || s.Stats(time.Now(), time.Now()) != nil {
				t.Errorf("none sampler misbehaves: %v", err)
			}
			s.Stop()

			_, err = Open(lib, Options{LookupEnv: noEnv, RequireGPU: true})
			if !errors.Is(err, ErrNoGPU) || !errors.Is(err, tt.ret) || err.Error() != tt.reason {
				t.Errorf("RequireGPU error = %v; want %q matching ErrNoGPU and %v", err, tt.reason, tt.ret)
			}
		})
	}
}

func TestNoDevicesAfterInit(t *testing.T) {
	t.Parallel()
	srv := h100s(8)
	srv.Devices = nil
	s, err := Open(srv, Options{LookupEnv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Info().NoMetricsReason; got != "no GPU metrics: NVML found no GPU" {
		t.Fatalf("reason = %q", got)
	}
	// The successful Init is balanced by a Shutdown.
	if n := len(srv.ShutdownCalls()); n != 1 {
		t.Fatalf("Shutdown called %d times, want 1", n)
	}
}

func TestNegativeInterval(t *testing.T) {
	t.Parallel()
	if _, err := Open(h100s(1), Options{Interval: -time.Second}); err == nil {
		t.Fatal("negative interval accepted")
	}
}

// TestRealNVMLOnThisMachine uses the real go-nvml library. On a machine
// without the driver it must give the no-GPU path with a readable reason,
// and must not crash (a device call before a successful Init would exit the
// test binary with status 127).
func TestRealNVMLOnThisMachine(t *testing.T) {
	s, err := OpenSystem(Options{})
	if err != nil {
		t.Fatalf("OpenSystem: %v", err)
	}
	defer s.Stop()
	if _, ok := s.(*Sampler); ok {
		t.Skipf("this machine has a working NVML (%d GPUs); the no-GPU path is not exercised", len(s.Info().Devices))
	}
	reason := s.Info().NoMetricsReason
	if !strings.HasPrefix(reason, "no GPU metrics: ") || !strings.Contains(reason, "libnvidia-ml.so.1") {
		t.Errorf("reason = %q", reason)
	}
	t.Logf("reason: %s", reason)
	_, err = OpenSystem(Options{RequireGPU: true, LibraryPath: "/nonexistent/libnvidia-ml.so.1"})
	if !errors.Is(err, ErrNoGPU) || !errors.Is(err, nvml.ERROR_LIBRARY_NOT_FOUND) || !strings.Contains(err.Error(), "/nonexistent/libnvidia-ml.so.1") {
		t.Errorf("RequireGPU error = %v", err)
	}
}

func TestSelectHelpers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   int
		want string
	}{{12040, "12.4"}, {11080, "11.8"}, {12090, "12.9"}, {13000, "13.0"}} {
		if got := cudaVersion(tt.in); got != tt.want {
			t.Errorf("cudaVersion(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		in   string
		want int
	}{{"", 0}, {"  ", 0}, {"0", 1}, {"0,1", 2}, {"0,", 2}} {
		if got := len(splitVisible(tt.in)); got != tt.want {
			t.Errorf("splitVisible(%q) has %d entries, want %d", tt.in, got, tt.want)
		}
	}
}

func fmtPtr[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}
