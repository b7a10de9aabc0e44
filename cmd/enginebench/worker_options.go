package main

import (
	"os"
	"time"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/gpu/nvmlsampler"
	"github.com/enginebench/enginebench/offline/hostmon"
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/worker"
)

// workerOptions wires the real samplers into the worker: NVML for GPUs (or
// the "no GPU metrics" sampler with its reason) and /proc for the host.
func workerOptions() worker.Options {
	return worker.Options{
		NewGPUSampler: func(req *protocol.LoadRequest, watch gpu.WatchPIDs) (gpu.Sampler, error) {
			return nvmlsampler.OpenSystem(nvmlsampler.Options{
				Interval:   req.SampleInterval,
				Devices:    req.GPUs,
				RequireGPU: req.RequireGPU,
				WatchPIDs:  watch,
				// An NVML other than the system's, e.g. a driver in a
				// container's non-standard path.
				LibraryPath: os.Getenv("ENGINEBENCH_NVML_LIBRARY"),
			})
		},
		NewHostMonitor: func(pid int, interval time.Duration) (worker.HostMonitor, error) {
			return hostmon.New(pid, hostmon.Options{Interval: interval})
		},
	}
}
