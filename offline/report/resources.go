package report

import (
	"fmt"
	"io"
	"strconv"

	"github.com/enginebench/enginebench/offline/gpu"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/roofline"
	"github.com/enginebench/enginebench/offline/stats"
)

// Resources are a cell's resource figures: medians over its measured rows of
// per-batch values, except peaks, which are maxima. A nil field was not
// measured (no GPU, or the driver does not report it).
type Resources struct {
	// GPUPeakBytes is the largest device memory in use during any batch,
	// summed over the sampled devices.
	GPUPeakBytes *float64
	// ProcessPeakBytes is the largest GPU memory held by the worker's
	// process tree.
	ProcessPeakBytes *float64
	// UtilPercent is NVML's "time a kernel was running" (not SM occupancy).
	UtilPercent *float64
	// EnergyJ is the energy of one batch, all devices.
	EnergyJ *float64
	// TokensPerJ is output tokens per joule.
	TokensPerJ *float64
	// Bound is the decode bandwidth bound on output tokens/s; MBU the
	// achieved fraction of it.
	Bound *float64
	MBU   *float64
	// HostPeakRSS is the worker tree's peak resident memory; HostCPUCores
	// its mean busy cores.
	HostPeakRSS  *float64
	HostCPUCores *float64
}

// resources computes a cell's resource figures.
func resources(m *results.Manifest, c CellStats) Resources {
	var r Resources
	var util, energy, perJ, mbu, cores []float64
	bound := decodeBound(m, c)
	for _, row := range c.Rows {
		var peak, proc, e, u float64
		var hasPeak, hasProc, hasE bool
		var nUtil int
		for _, d := range row.GPU {
			if d.PeakUsedBytes != nil {
				peak += float64(*d.PeakUsedBytes)
				hasPeak = true
			}
			if d.PeakProcessUsedBytes != nil {
				proc += float64(*d.PeakProcessUsedBytes)
				hasProc = true
			}
			if d.EnergyJoules != nil {
				e += *d.EnergyJoules
				hasE = true
			}
			if d.MeanUtilPercent != nil {
				u += *d.MeanUtilPercent
				nUtil++
			}
		}
		if hasPeak {
			r.GPUPeakBytes = maxp(r.GPUPeakBytes, peak)
		}
		if hasProc {
			r.ProcessPeakBytes = maxp(r.ProcessPeakBytes, proc)
		}
		if nUtil > 0 {
			util = append(util, u/float64(nUtil))
		}
		if hasE {
			energy = append(energy, e)
			if e > 0 {
				perJ = append(perJ, float64(row.OutputTokens)/e)
			}
		}
		if bound != nil {
			if v, err := bound.MBU(row.OutputTokensPerS()); err == nil {
				mbu = append(mbu, v)
			}
		}
		if h := row.Host; h != nil {
			if h.PeakRSSBytes != nil {
				r.HostPeakRSS = maxp(r.HostPeakRSS, float64(*h.PeakRSSBytes))
			}
			if h.MeanCPUCores != nil {
				cores = append(cores, *h.MeanCPUCores)
			}
		}
	}
	r.UtilPercent, r.EnergyJ, r.TokensPerJ = median(util), median(energy), median(perJ)
	r.MBU, r.HostCPUCores = median(mbu), median(cores)
	if bound != nil {
		r.Bound = &bound.MaxOutputTokensPerS
	}
	return r
}

// decodeBound is the cell's decode bandwidth bound, when the model's shape
// and the GPUs' peak bandwidth are known.
func decodeBound(m *results.Manifest, c CellStats) *roofline.Bound {
	if m.Model.Roofline == nil || len(m.GPU.Devices) == 0 {
		return nil
	}
	tp := tensorParallel(m, c.Engine)
	if tp > len(m.GPU.Devices) {
		return nil
	}
	bw := gpu.TotalPeakBandwidth(m.GPU.Devices[:tp])
	if bw == nil {
		return nil
	}
	b, err := roofline.DecodeBound(*m.Model.Roofline, roofline.Workload{
		Batch: c.BatchSize, InputLen: m.Workload.PromptLen(), OutputLen: int(m.Workload.MeanOutputLen() + 0.5), TensorParallel: tp,
	}, *bw)
	if err != nil {
		return nil
	}
	return &b
}

// tensorParallel is an engine's tensor-parallel size as its adapter
// reported it; 1 when absent.
func tensorParallel(m *results.Manifest, engine string) int {
	for _, e := range m.Engines {
		if e.Name == engine && e.TensorParallel >= 1 {
			return e.TensorParallel
		}
	}
	return 1
}

func maxp(p *float64, v float64) *float64 {
	if p == nil || v > *p {
		return &v
	}
	return p
}

func median(xs []float64) *float64 {
	s, err := stats.Summarize(xs)
	if err != nil {
		return nil
	}
	return &s.Median
}

// resourceTable writes GPU memory, utilization, energy and the roofline per
// cell, with the engines' memory settings side by side.
func resourceTable(w io.Writer, m *results.Manifest, cells []CellStats) error {
	fmt.Fprintln(w, "\nResources per batch (medians over repetitions; peaks are maxima):")
	t := newTable(w)
	t.Header("engine", "batch", "GPU mem peak GiB", "engine procs GiB", "GPU busy %", "energy J", "output tok/J", "decode bound tok/s", "MBU", "host RSS peak GiB", "host CPU cores")
	for _, c := range cells {
		if len(c.Rows) == 0 {
			continue
		}
		r := resources(m, c)
		if err := t.Append(c.Engine, c.BatchSize,
			opt(r.GPUPeakBytes, gib), opt(r.ProcessPeakBytes, gib), opt(r.UtilPercent, "%.0f"), opt(r.EnergyJ, "%.1f"),
			opt(r.TokensPerJ, "%.2f"), opt(r.Bound, "%.0f"), pct(r.MBU), opt(r.HostPeakRSS, gib), opt(r.HostCPUCores, "%.2f")); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nMemory as each engine sees it:")
	t = newTable(w)
	t.Header("engine", "reservation setting", "KV cache capacity (tokens)", "GPU used before load GiB", "GPU used after load GiB")
	for _, e := range m.Engines {
		kvCap := "—"
		if e.KVCacheTokens != nil {
			kvCap = strconv.FormatInt(*e.KVCacheTokens, 10)
		}
		res := "—"
		if len(e.Reservation) > 0 {
			res = kv(e.Reservation)
		}
		if err := t.Append(e.Name, res, kvCap, usedSum(e.GPUBeforeLoad), usedSum(e.GPUAfterLoad)); err != nil {
			return err
		}
	}
	return t.Render()
}

const gib = "gib"

func opt(p *float64, format string) string {
	if p == nil {
		return "—"
	}
	if format == gib {
		return fmt.Sprintf("%.2f", *p/(1<<30))
	}
	return fmt.Sprintf(format, *p)
}

func pct(p *float64) string {
	if p == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100**p)
}

// usedSum is the device memory in use over a set of readings, in GiB.
func usedSum(samples []gpu.Sample) string {
	var sum float64
	n := 0
	for _, s := range samples {
		if s.UsedBytes != nil {
			sum += float64(*s.UsedBytes)
			n++
		}
	}
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", sum/(1<<30))
}
