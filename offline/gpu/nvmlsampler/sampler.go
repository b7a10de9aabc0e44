//go:build cgo

package nvmlsampler

import (
	"context"
	"fmt"
	"github.com/enginebench/enginebench/offline/sampling"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/enginebench/enginebench/offline/gpu"
)

// Sampler is the NVML implementation of gpu.Sampler.
type Sampler struct {
	lib  nvml.Interface
	opts Options
	info gpu.SystemInfo
	devs []*device
	rec  *gpu.Recorder

	// readMu serializes readings and guards closed. It is held for one
	// reading of all devices at most, never while waiting on the caller.
	readMu sync.Mutex
	closed bool

	loop sampling.Loop

	stopOnce sync.Once
	nudge    chan struct{} // Mark asks the loop for an early reading
}

var _ gpu.Sampler = (*Sampler)(nil)

// device is one selected GPU and what it supports, decided at Open.
type device struct {
	index  int
	h      nvml.Device
	memV2  bool
	util   bool
	power  bool
	energy bool
	procs  bool
}

// OpenSystem opens the system NVML library (Options.LibraryPath, or
// DefaultLibrary) and calls Open.
func OpenSystem(opts Options) (gpu.Sampler, error) {
	var lib nvml.Interface
	if opts.LibraryPath != "" {
		lib = nvml.New(nvml.WithLibraryPath(opts.LibraryPath))
	} else {
		lib = nvml.New()
	}
	return Open(lib, opts)
}

// Open initializes NVML through lib, selects devices, reads their static
// facts and probes which metrics they support. It does not start sampling;
// call Start. When NVML cannot be used (library missing, driver not loaded,
// no device selected) it returns gpu.None carrying the reason, or, with
// Options.RequireGPU, a *NoGPUError. A bad Options.Devices entry or a
// negative Interval is always an error.
func Open(lib nvml.Interface, opts Options) (gpu.Sampler, error) {
	if opts.Interval < 0 {
		return nil, fmt.Errorf("nvmlsampler: negative interval %v", opts.Interval)
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	// Nothing but Init may be called before Init succeeds (see package doc).
	if ret := lib.Init(); ret != nvml.SUCCESS {
		return noGPU(initError(ret, opts.library()), opts)
	}
	s, noGPUErr, err := open(lib, opts)
	if err != nil || noGPUErr != nil {
		lib.Shutdown() // balance the successful Init; its result changes nothing
		if err != nil {
			return nil, err
		}
		return noGPU(noGPUErr, opts)
	}
	return s, nil
}

// initError turns an Init failure into the reason shown to users.
func initError(ret nvml.Return, library string) *NoGPUError {
	var why string
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		why = fmt.Sprintf("NVML library not found (%s)", library)
	case nvml.ERROR_DRIVER_NOT_LOADED:
		why = "the NVIDIA kernel driver is not loaded (NVML: ERROR_DRIVER_NOT_LOADED)"
	case nvml.ERROR_NO_PERMISSION:
		why = "no permission to access the GPU driver (NVML: ERROR_NO_PERMISSION)"
	case nvml.ERROR_LIB_RM_VERSION_MISMATCH:
		why = "the NVML library and the loaded kernel driver have different versions; reload the driver or reboot (NVML: ERROR_LIB_RM_VERSION_MISMATCH)"
	default:
		why = fmt.Sprintf("NVML init failed: %v", ret)
	}
	return &NoGPUError{Reason: "no GPU metrics: " + why, Err: ret}
}

// open does everything after a successful Init. It returns exactly one of:
// a sampler, a no-GPU reason, or a hard error.
func open(lib nvml.Interface, opts Options) (*Sampler, *NoGPUError, error) {
	ext := lib.Extensions()
	has := func(names ...string) bool {
		for _, n := range names {
			if ext.LookupSymbol(n) == nil {
				return true
			}
		}
		return false
	}
	for _, req := range [][]string{
		{"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"},
		{"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"},
		{"nvmlDeviceGetUUID"}, {"nvmlDeviceGetName"}, {"nvmlDeviceGetMemoryInfo"},
	} {
		if !has(req...) {
			return nil, &NoGPUError{Reason: fmt.Sprintf("no GPU metrics: the NVML library lacks %s (driver too old?)", req[len(req)-1])}, nil
		}
	}

	var info gpu.SystemInfo
	if has("nvmlSystemGetDriverVersion") {
		if v, ret := lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
			info.DriverVersion = v
		}
	}
	if has("nvmlSystemGetNVMLVersion") {
		if v, ret := lib.SystemGetNVMLVersion(); ret == nvml.SUCCESS {
			info.NVMLVersion = v
		}
	}
	if has("nvmlSystemGetCudaDriverVersion") {
		if v, ret := lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS {
			info.CUDADriverVersion = cudaVersion(v)
		}
	}

	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, &NoGPUError{Reason: fmt.Sprintf("no GPU metrics: NVML cannot count devices: %v", ret), Err: ret}, nil
	}
	if count == 0 {
		return nil, &NoGPUError{Reason: "no GPU metrics: NVML found no GPU"}, nil
	}
	handles := make([]nvml.Device, count)
	uuids := make([]string, count)
	names := make([]string, count)
	for i := range count {
		h, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, &NoGPUError{Reason: fmt.Sprintf("no GPU metrics: NVML cannot open GPU %d: %v", i, ret), Err: ret}, nil
		}
		handles[i] = h
		uuids[i], _ = h.GetUUID() // "" on failure: such a GPU only matches by index
		names[i], _ = h.GetName()
	}

	sel, noGPUErr, err := chooseDevices(opts, uuids, names)
	if err != nil || noGPUErr != nil {
		return nil, noGPUErr, err
	}
	info.Warnings = sel.warnings

	s := &Sampler{lib: lib, opts: opts, nudge: make(chan struct{}, 1)}
	for _, idx := range sel.indexes {
		d, di := probe(idx, handles[idx], has, opts.WatchPIDs != nil)
		di.UUID, di.Name = uuids[idx], names[idx]
		s.devs = append(s.devs, d)
		info.Devices = append(info.Devices, di)
	}
	s.info = info
	idx := make([]int, len(s.devs))
	for i, d := range s.devs {
		idx[i] = d.index
	}
	s.rec = gpu.NewRecorder(idx, opts.Capacity)
	return s, nil, nil
}

// chooseDevices applies Options.Devices or CUDA_VISIBLE_DEVICES.
func chooseDevices(opts Options, uuids, names []string) (selection, *NoGPUError, error) {
	all := func() selection {
		s := selection{}
		for i := range uuids {
			s.indexes = append(s.indexes, i)
		}
		return s
	}
	var sel selection
	switch visible, set := opts.LookupEnv("CUDA_VISIBLE_DEVICES"); {
	case len(opts.Devices) > 0:
		var err error
		if sel, err = selectDevices(opts.Devices, uuids, true, "device selection"); err != nil {
			return selection{}, nil, fmt.Errorf("nvmlsampler: %w", err)
		}
	case set:
		var err error
		if sel, err = selectDevices(splitVisible(visible), uuids, false, "CUDA_VISIBLE_DEVICES"); err != nil {
			return selection{}, &NoGPUError{Reason: "no GPU metrics: " + err.Error(), Err: err}, nil
		}
		if len(sel.indexes) == 0 {
			reason := fmt.Sprintf("no GPU metrics: CUDA_VISIBLE_DEVICES=%q selects no GPU", visible)
			if len(sel.warnings) > 0 {
				reason += ": " + sel.warnings[0]
			}
			return selection{}, &NoGPUError{Reason: reason}, nil
		}
	default:
		sel = all()
	}
	// Bare indexes mean NVML (PCI) order; CUDA agrees only with
	// CUDA_DEVICE_ORDER=PCI_BUS_ID or when every GPU is the same model.
	if order, _ := opts.LookupEnv("CUDA_DEVICE_ORDER"); sel.usedIdx && order != "PCI_BUS_ID" {
		models := map[string]bool{}
		for _, n := range names {
			models[n] = true
		}
		if len(models) > 1 {
			list := make([]string, 0, len(models))
			for n := range models {
				list = append(list, n)
			}
			sort.Strings(list)
			sel.warnings = append(sel.warnings, fmt.Sprintf(
				"GPUs were selected by index on a machine with different models (%s) and CUDA_DEVICE_ORDER is not PCI_BUS_ID: CUDA may number them differently from NVML; set CUDA_DEVICE_ORDER=PCI_BUS_ID or select by UUID",
				strings.Join(list, ", ")))
		}
	}
	return sel, nil, nil
}

// unsupported reports whether ret means "this device will never answer".
func unsupported(ret nvml.Return) bool {
	return ret == nvml.ERROR_NOT_SUPPORTED || ret == nvml.ERROR_NO_PERMISSION || ret == nvml.ERROR_FUNCTION_NOT_FOUND
}

// retName names the codes unsupported accepts without calling
// ret.Error(), which asks the C library once one has been loaded and so
// would make the text depend on the machine.
func retName(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_NOT_SUPPORTED:
		return "ERROR_NOT_SUPPORTED"
	case nvml.ERROR_NO_PERMISSION:
		return "ERROR_NO_PERMISSION"
	case nvml.ERROR_FUNCTION_NOT_FOUND:
		return "ERROR_FUNCTION_NOT_FOUND"
	}
	return ret.Error()
}

// probe reads the static facts of a device and decides, once, which
// metrics to sample on it.
func probe(idx int, h nvml.Device, has func(...string) bool, watch bool) (*device, gpu.DeviceInfo) {
	d := &device{index: idx, h: h}
	di := gpu.DeviceInfo{Index: idx, Unavailable: map[string]string{}}
	missing := func(metric, symbol string) { di.Unavailable[metric] = "driver lacks " + symbol }
	check := func(metric string, ret nvml.Return) bool {
		if ret == nvml.SUCCESS {
			return true
		}
		if unsupported(ret) {
			di.Unavailable[metric] = retName(ret)
			return false
		}
		return true // transient: keep asking, that sample gets nil
	}

	// Memory: v2 if the symbol exists and the device answers it, else v1.
	if has("nvmlDeviceGetMemoryInfo_v2") {
		m, ret := h.GetMemoryInfo_v2()
		if ret == nvml.SUCCESS {
			d.memV2, di.MemoryTotalBytes = true, m.Total
		}
	}
	if !d.memV2 {
		if m, ret := h.GetMemoryInfo(); ret == nvml.SUCCESS {
			di.MemoryTotalBytes = m.Total
		} else {
			// MemoryTotalBytes stays 0; say why so it is not read as a size.
			di.Unavailable["memory_total"] = retName(ret)
		}
	}
	di.MemoryAPI = gpu.MemoryAPIv1
	if d.memV2 {
		di.MemoryAPI = gpu.MemoryAPIv2
	}

	if has("nvmlDeviceGetMemoryBusWidth") {
		if w, ret := h.GetMemoryBusWidth(); ret == nvml.SUCCESS && w > 0 {
			di.MemoryBusWidthBits = gpu.Ptr(w)
		}
	}
	if has("nvmlDeviceGetMaxClockInfo") {
		if c, ret := h.GetMaxClockInfo(nvml.CLOCK_MEM); ret == nvml.SUCCESS && c > 0 {
			di.MaxMemoryClockMHz = gpu.Ptr(c)
		}
	}
	if di.MemoryBusWidthBits != nil && di.MaxMemoryClockMHz != nil {
		di.PeakBandwidthBytesPerS = gpu.Ptr(gpu.PeakBandwidth(*di.MaxMemoryClockMHz, *di.MemoryBusWidthBits))
	}

	if has("nvmlDeviceGetUtilizationRates") {
		_, ret := h.GetUtilizationRates()
		d.util = check("utilization", ret)
	} else {
		missing("utilization", "nvmlDeviceGetUtilizationRates")
	}
	if has("nvmlDeviceGetPowerUsage") {
		_, ret := h.GetPowerUsage()
		d.power = check("power", ret)
	} else {
		missing("power", "nvmlDeviceGetPowerUsage")
	}
	if has("nvmlDeviceGetTotalEnergyConsumption") {
		_, ret := h.GetTotalEnergyConsumption()
		d.energy = check("energy", ret)
	} else {
		missing("energy", "nvmlDeviceGetTotalEnergyConsumption")
	}
	if watch {
		// go-nvml picks _v3, _v2 or v1 of this call at Init, whichever
		// the library has.
		if has("nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2", "nvmlDeviceGetComputeRunningProcesses") {
			_, ret := h.GetComputeRunningProcesses()
			d.procs = check("process_memory", ret)
		} else {
			missing("process_memory", "nvmlDeviceGetComputeRunningProcesses")
		}
	}
	if len(di.Unavailable) == 0 {
		di.Unavailable = nil
	}
	return d, di
}

// notAvailable is NVML's VALUE_NOT_AVAILABLE for an unsigned long long field.
const notAvailable = math.MaxUint64

// read takes one reading of d. Failed calls leave their value nil.
func (d *device) read(watched map[uint32]bool) gpu.Sample {
	smp := gpu.Sample{At: time.Now(), Device: d.index}
	if d.memV2 {
		if m, ret := d.h.GetMemoryInfo_v2(); ret == nvml.SUCCESS {
			smp.UsedBytes = gpu.Ptr(m.Used)
		}
	} else if m, ret := d.h.GetMemoryInfo(); ret == nvml.SUCCESS {
		smp.UsedBytes = gpu.Ptr(m.Used)
	}
	if d.util {
		if u, ret := d.h.GetUtilizationRates(); ret == nvml.SUCCESS {
			smp.UtilPercent = gpu.Ptr(u.Gpu)
		}
	}
	if d.power {
		if p, ret := d.h.GetPowerUsage(); ret == nvml.SUCCESS {
			smp.PowerMilliwatts = gpu.Ptr(p)
		}
	}
	if d.energy {
		if e, ret := d.h.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
			smp.EnergyMillijoules = gpu.Ptr(e)
		}
	}
	if d.procs && watched != nil {
		if procs, ret := d.h.GetComputeRunningProcesses(); ret == nvml.SUCCESS {
			var sum uint64
			known := true
			for _, p := range procs {
				if !watched[p.Pid] {
					continue
				}
				if p.UsedGpuMemory == notAvailable {
					// One unknown member makes the sum unknown, not smaller.
					known = false
					break
				}
				sum += p.UsedGpuMemory
			}
			if known {
				// A zero here is measured: no watched process holds memory
				// on this device.
				smp.ProcessUsedBytes = gpu.Ptr(sum)
			}
		}
	}
	return smp
}

// read takes one reading of every device and records it. It returns nil
// after Stop.
func (s *Sampler) read() []gpu.Sample {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.closed {
		return nil
	}
	var watched map[uint32]bool
	if s.opts.WatchPIDs != nil {
		pids := s.opts.WatchPIDs()
		watched = make(map[uint32]bool, len(pids))
		for _, p := range pids {
			if p > 0 && p <= math.MaxUint32 {
				watched[uint32(p)] = true
			}
		}
	}
	out := make([]gpu.Sample, 0, len(s.devs))
	for _, d := range s.devs {
		smp := d.read(watched)
		s.rec.Add(smp)
		out = append(out, smp)
	}
	return out
}

// Start takes a first reading and then one every Interval (and at each
// Mark) until ctx is done or Stop is called.
func (s *Sampler) Start(ctx context.Context) error {
	return s.loop.Start(ctx, s.opts.Interval, s.nudge, func() bool {
		s.read()
		return true
	})
}

// Stop ends sampling, waits for the sampling goroutine, and shuts NVML
// down. Recorded data stays readable. It is idempotent.
func (s *Sampler) Stop() {
	s.stopOnce.Do(func() {
		s.loop.Stop()
		s.readMu.Lock()
		s.closed = true
		s.lib.Shutdown() // nothing useful to do with a failure here
		s.readMu.Unlock()
	})
}

// Info returns the driver and device description.
func (s *Sampler) Info() gpu.SystemInfo {
	info := s.info
	info.Devices = append([]gpu.DeviceInfo(nil), s.info.Devices...)
	info.Warnings = append([]string(nil), s.info.Warnings...)
	return info
}

// Baseline stamps a mark and returns an immediate reading of every device
// (nil after Stop).
func (s *Sampler) Baseline(label string) []gpu.Sample {
	s.rec.Mark(label)
	return s.read()
}

// Mark stamps a phase boundary and asks the sampling goroutine for an early
// reading without waiting for it, so even a batch shorter than Interval gets
// a sample near its start.
func (s *Sampler) Mark(label string) time.Time {
	at := s.rec.Mark(label)
	select {
	case s.nudge <- struct{}{}:
	default: // a reading is already pending
	}
	return at
}

// Marks returns the retained marks.
func (s *Sampler) Marks() []gpu.Mark { return s.rec.Marks() }

// Stats returns per-device statistics for [from, to]. If no device has a
// reading at or after to yet, it takes one first (unless stopped), so the
// energy counter is bracketed at the end of the window.
func (s *Sampler) Stats(from, to time.Time) []gpu.Stats {
	for _, d := range s.devs {
		if last, ok := s.rec.Latest(d.index); !ok || last.At.Before(to) {
			s.read()
			break
		}
	}
	return s.rec.Window(from, to)
}

// Samples returns the recorded readings in [from, to].
func (s *Sampler) Samples(from, to time.Time) []gpu.Sample { return s.rec.Samples(from, to) }
