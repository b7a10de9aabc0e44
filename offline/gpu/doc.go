// Package gpu is the GPU metrics domain of enginebench: the types a GPU
// sampler produces (device facts, samples, per-window statistics), the
// arithmetic over them, and the Sampler interface the runner drives. It has
// no cgo and no NVML; the NVML implementation lives in
// offline/gpu/nvmlsampler and plugs in through Sampler.
//
// # Measurement rules
//
//   - A value the driver did not give is nil, never zero. A window with no
//     samples has Samples == 0 and every statistic nil.
//   - Device memory "used" is what NVML reports: with the v2 API it excludes
//     the driver/firmware reserve; with the v1 API it includes it.
//     DeviceInfo.MemoryAPI says which one a device used.
//   - Utilization is NVML's "percent of time one or more kernels was
//     executing" over the driver's own averaging period (1/6 s to 1 s,
//     depending on the product). It is not SM occupancy.
//   - Energy comes from the cumulative energy counter (mJ), not from power
//     samples multiplied by time; see Recorder.Window for how the counter is
//     read at the window edges.
//   - Peaks are sampled peaks: a spike shorter than the sampling interval can
//     be missed.
//
// # Memory use
//
// The Recorder keeps, per device, a bounded ring of compact records (48 bytes
// each, no pointers, so the garbage collector never scans it). With the
// default capacity of 65,536 records a device costs about 3 MiB and, at the
// default 50 ms interval, the ring holds about 55 minutes. Windows older than
// that are reported with Truncated set rather than silently shortened.
package gpu
