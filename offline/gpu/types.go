package gpu

import "time"

// Memory API names recorded in DeviceInfo.MemoryAPI.
const (
	// MemoryAPIv2 means UsedBytes came from nvmlDeviceGetMemoryInfo_v2,
	// which excludes the memory the driver and firmware reserve.
	MemoryAPIv2 = "v2"
	// MemoryAPIv1 means UsedBytes came from nvmlDeviceGetMemoryInfo, whose
	// "used" includes the driver/firmware reserve.
	MemoryAPIv1 = "v1"
)

// DeviceInfo describes one GPU as the driver reports it. Pointer fields are
// nil when the driver does not report the value.
type DeviceInfo struct {
	// Index is the NVML device index (PCI bus order), not the CUDA ordinal.
	Index int `json:"index"`
	// Name is the product name, e.g. "NVIDIA H100 80GB HBM3".
	Name string `json:"name"`
	// UUID is the GPU UUID, e.g. "GPU-8932f937-d72c-4106-c12f-20bd9faed9f6".
	UUID string `json:"uuid"`
	// MemoryTotalBytes is the device memory size.
	MemoryTotalBytes uint64 `json:"memory_total_bytes"`
	// MemoryBusWidthBits is the memory bus width.
	MemoryBusWidthBits *uint32 `json:"memory_bus_width_bits"`
	// MaxMemoryClockMHz is the maximum memory clock.
	MaxMemoryClockMHz *uint32 `json:"max_memory_clock_mhz"`
	// PeakBandwidthBytesPerS is PeakBandwidth(MaxMemoryClockMHz,
	// MemoryBusWidthBits), nil when either input is unknown.
	PeakBandwidthBytesPerS *float64 `json:"peak_bandwidth_bytes_per_s"`
	// MemoryAPI is MemoryAPIv2 or MemoryAPIv1: which NVML call produced
	// Sample.UsedBytes for this device, and so what "used" means.
	MemoryAPI string `json:"memory_api,omitempty"`
	// Unavailable maps a metric name ("utilization", "power", "energy",
	// "process_memory", ...) to the reason the driver does not provide it on
	// this device. Those metrics are nil in every sample.
	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// SystemInfo is the driver-level description of the GPUs being sampled.
type SystemInfo struct {
	// DriverVersion is the kernel driver version, e.g. "550.54.15".
	DriverVersion string `json:"driver_version"`
	// CUDADriverVersion is the CUDA version the driver supports, e.g. "12.4".
	CUDADriverVersion string `json:"cuda_driver_version"`
	// NVMLVersion is the NVML library version, e.g. "12.550.54.15".
	NVMLVersion string `json:"nvml_version"`
	// Devices are the sampled GPUs, in selection order (the order of
	// CUDA_VISIBLE_DEVICES when it is set, else NVML index order).
	Devices []DeviceInfo `json:"devices"`
	// NoMetricsReason is empty when GPU metrics are collected, and otherwise
	// says why not, e.g. "no GPU metrics: NVML library not found
	// (libnvidia-ml.so.1)".
	NoMetricsReason string `json:"no_metrics_reason,omitempty"`
	// Warnings are facts the report should show next to the GPU numbers,
	// e.g. an ambiguous CUDA_VISIBLE_DEVICES mapping.
	Warnings []string `json:"warnings,omitempty"`
}

// Sample is one reading of one device. A nil field means the value was not
// available for this reading; it is never replaced by zero.
type Sample struct {
	// At is when the reading started (time.Now, with its monotonic clock).
	At time.Time `json:"at"`
	// Device is the NVML device index.
	Device int `json:"device"`
	// UsedBytes is device memory in use (see DeviceInfo.MemoryAPI).
	UsedBytes *uint64 `json:"used_bytes"`
	// UtilPercent is the percent of time a kernel was running.
	UtilPercent *uint32 `json:"util_percent"`
	// PowerMilliwatts is the board power draw.
	PowerMilliwatts *uint32 `json:"power_milliwatts"`
	// EnergyMillijoules is the cumulative energy counter since the driver
	// was loaded.
	EnergyMillijoules *uint64 `json:"energy_millijoules"`
	// ProcessUsedBytes is the device memory used by the watched process
	// tree (sum over its PIDs). Nil when no PIDs are watched or the driver
	// cannot attribute memory to processes.
	ProcessUsedBytes *uint64 `json:"process_used_bytes"`
}

// Stats summarizes one device over one time window. Pointer fields are nil
// when the window holds no sample carrying that value.
type Stats struct {
	// Device is the NVML device index.
	Device int `json:"device"`
	// Samples is the number of samples taken inside [from, to].
	Samples int `json:"samples"`
	// PeakUsedBytes is the largest sampled UsedBytes.
	PeakUsedBytes *uint64 `json:"peak_used_bytes"`
	// MeanUsedBytes is the arithmetic mean of the sampled UsedBytes.
	MeanUsedBytes *uint64 `json:"mean_used_bytes"`
	// MeanUtilPercent is the arithmetic mean of the sampled UtilPercent.
	MeanUtilPercent *float64 `json:"mean_util_percent"`
	// EnergyJoules is the energy counter difference across the window; see
	// Recorder.Window.
	EnergyJoules *float64 `json:"energy_joules"`
	// MeanPowerWatts is EnergyJoules divided by the window length when the
	// energy counter is available, else the mean of the sampled power.
	MeanPowerWatts *float64 `json:"mean_power_watts"`
	// PeakProcessUsedBytes is the largest sampled ProcessUsedBytes.
	PeakProcessUsedBytes *uint64 `json:"peak_process_used_bytes"`
	// Truncated is true when samples inside the window were dropped from the
	// bounded history, so the statistics cover only its later part.
	Truncated bool `json:"truncated,omitempty"`
}

// Mark is a labelled phase boundary ("load start", "batch 3", ...).
type Mark struct {
	// Label names the boundary.
	Label string `json:"label"`
	// At is when the boundary was stamped.
	At time.Time `json:"at"`
}

// WatchPIDs returns the PIDs whose GPU memory is attributed to the
// benchmark: the worker process and all its descendants. It is called once
// per sampling tick from the sampling goroutine, so it should be cheap (for
// example, the cached tree of a host monitor).
type WatchPIDs func() []int

// PeakBandwidth returns the theoretical peak memory bandwidth in bytes/s of
// a device whose maximum memory clock is maxMemClockMHz and whose memory bus
// is busWidthBits wide:
//
//	clock (Hz) × bus width (bits) × 2 / 8
//
// The factor 2 is the double data rate: NVML reports the memory clock such
// that two transfers happen per reported cycle on HBM2/HBM2e/HBM3 and
// GDDR6/GDDR6X parts alike. Checked against datasheets: H100 SXM 2619 MHz ×
// 5120 bit → 3.35 TB/s, A100 40GB 1215 MHz × 5120 bit → 1.555 TB/s, RTX 4090
// 10501 MHz × 384 bit → 1.008 TB/s.
func PeakBandwidth(maxMemClockMHz, busWidthBits uint32) float64 {
	return float64(maxMemClockMHz) * 1e6 * float64(busWidthBits) * 2 / 8
}

// TotalPeakBandwidth sums the peak bandwidth of devs, the bandwidth
// available to a model split across them with tensor parallelism. It
// returns nil when devs is empty or any device's peak is unknown, because a
// partial sum would inflate a roofline bound's denominator silently.
func TotalPeakBandwidth(devs []DeviceInfo) *float64 {
	if len(devs) == 0 {
		return nil
	}
	var sum float64
	for _, d := range devs {
		if d.PeakBandwidthBytesPerS == nil {
			return nil
		}
		sum += *d.PeakBandwidthBytesPerS
	}
	return &sum
}

// Ptr returns a pointer to a copy of v. It is a convenience for building
// samples with optional fields.
func Ptr[T any](v T) *T { return &v }
