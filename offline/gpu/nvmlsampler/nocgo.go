//go:build !cgo

package nvmlsampler

import "github.com/enginebench/enginebench/offline/gpu"

// OpenSystem returns the "no GPU metrics" sampler (or, with
// Options.RequireGPU, an error): go-nvml needs cgo, and this binary was
// built without it.
func OpenSystem(opts Options) (gpu.Sampler, error) {
	return noGPU(&NoGPUError{Reason: "no GPU metrics: enginebench was built with CGO_ENABLED=0, and NVML needs cgo"}, opts)
}
