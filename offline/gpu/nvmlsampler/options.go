// Package nvmlsampler implements gpu.Sampler over NVML (github.com/NVIDIA/go-nvml).
//
// It is the only GPU code that needs cgo. Built with CGO_ENABLED=0, only
// OpenSystem exists and it returns the "no GPU metrics" sampler.
//
// # Safety against the driver
//
// go-nvml resolves NVML symbols lazily: calling a device function before a
// successful Init, or one the installed driver does not export, kills the
// process (exit 127, no panic to recover). So Open calls nothing but Init
// until Init succeeds, checks every device function it will call with
// lib.Extensions().LookupSymbol once, and never calls a function whose
// symbol is missing. After Stop (which calls Shutdown) no NVML call is made.
//
// # What is sampled
//
// Every Interval, per device: memory used (nvmlDeviceGetMemoryInfo_v2 when
// the driver has it, else nvmlDeviceGetMemoryInfo), utilization, power, the
// cumulative energy counter, and the memory of the watched process tree
// (nvmlDeviceGetComputeRunningProcesses filtered to Options.WatchPIDs).
// Whether a device supports each metric is decided once, at Open: a metric
// the driver answers with NOT_SUPPORTED, NO_PERMISSION or FUNCTION_NOT_FOUND
// is recorded in DeviceInfo.Unavailable and never asked again. Any other
// failure makes that value nil for that one sample. Nothing is ever
// replaced by zero.
//
// # Device selection
//
// Options.Devices, if set, selects devices explicitly; otherwise
// CUDA_VISIBLE_DEVICES does, if set; otherwise all devices are sampled.
// Entries are NVML indexes ("0") or GPU UUIDs ("GPU-8932f937-..."), and a
// UUID may be abbreviated to any unique prefix, as CUDA allows. For
// CUDA_VISIBLE_DEVICES the CUDA rules apply: an empty value selects no GPU,
// and an entry that matches no GPU ends the list (only the entries before it
// count), reported as a warning. A repeated entry is treated as invalid.
// MIG instances ("MIG-...") are refused: whole-device memory and power
// would be misattributed to one slice. Explicit Options.Devices are strict:
// any bad entry is an error.
//
// Index entries are NVML indexes, which follow PCI bus order. CUDA numbers
// devices fastest-first unless CUDA_DEVICE_ORDER=PCI_BUS_ID; the two orders
// agree when all GPUs are the same model. On a mixed machine without
// CUDA_DEVICE_ORDER=PCI_BUS_ID a warning is added to SystemInfo.Warnings;
// UUIDs avoid the ambiguity.
package nvmlsampler

import (
	"errors"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
)

// DefaultInterval is the default sampling interval. NVML's utilization is
// itself averaged over 1/6 s to 1 s, so sampling much faster adds no
// utilization information, but it does sharpen memory peaks and window
// edges.
const DefaultInterval = 50 * time.Millisecond

// DefaultLibrary is the NVML library go-nvml loads by default.
const DefaultLibrary = "libnvidia-ml.so.1"

// ErrNoGPU is matched (errors.Is) by every error that means "no GPU metrics"
// (library missing, driver not loaded, no device selected).
var ErrNoGPU = errors.New("no GPU metrics")

// NoGPUError says why there are no GPU metrics. Its message is the reason
// shown in reports; it wraps the underlying cause (often an nvml.Return).
type NoGPUError struct {
	// Reason is the full human-readable message, starting with
	// "no GPU metrics: ".
	Reason string
	// Err is the underlying cause, if any.
	Err error
}

// Error returns Reason.
func (e *NoGPUError) Error() string { return e.Reason }

// Unwrap returns the underlying cause.
func (e *NoGPUError) Unwrap() error { return e.Err }

// Is reports whether target is ErrNoGPU.
func (e *NoGPUError) Is(target error) bool { return target == ErrNoGPU }

// Options configure a sampler. The zero value samples all visible devices
// every DefaultInterval and degrades to "no GPU metrics" when NVML is absent.
type Options struct {
	// Interval between periodic readings; DefaultInterval when zero.
	Interval time.Duration
	// Devices selects devices explicitly (NVML indexes or GPU UUID
	// prefixes) and overrides CUDA_VISIBLE_DEVICES.
	Devices []string
	// LookupEnv reads CUDA_VISIBLE_DEVICES and CUDA_DEVICE_ORDER;
	// os.LookupEnv when nil.
	LookupEnv func(string) (string, bool)
	// RequireGPU makes Open return an error (matching ErrNoGPU) instead of
	// the "no GPU metrics" sampler.
	RequireGPU bool
	// WatchPIDs returns the process tree whose GPU memory is reported as
	// Sample.ProcessUsedBytes. It is called once per reading, from the
	// sampling goroutine or from Stats/Baseline, never concurrently with
	// itself. Nil means no per-process memory.
	WatchPIDs gpu.WatchPIDs
	// Capacity is the number of samples kept per device;
	// gpu.DefaultCapacity when zero.
	Capacity int
	// LibraryPath is the NVML library OpenSystem loads (DefaultLibrary when
	// empty); it also names the library in the "not found" reason.
	LibraryPath string
}

func (o Options) library() string {
	if o.LibraryPath != "" {
		return o.LibraryPath
	}
	return DefaultLibrary
}

// noGPU returns the "no GPU metrics" sampler for err, or err itself when the
// caller requires a GPU.
func noGPU(err *NoGPUError, opts Options) (gpu.Sampler, error) {
	if opts.RequireGPU {
		return nil, err
	}
	return gpu.NewNone(err.Reason), nil
}
