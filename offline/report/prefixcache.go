package report

import (
	"fmt"
	"io"

	"github.com/enginebench/enginebench/offline/results"
)

// prefixCacheTable gives, in a shared-prefix workload, each engine's
// prefix-cache hit rate per batch size: the prompt tokens it reports served
// from its cache over the most the workload allows (every prompt whose
// group's prefix the engine has seen before), summed over the measured
// repetitions. An engine that reports no cache counts (transformers) shows
// "—", never 0.
func prefixCacheTable(w io.Writer, m *results.Manifest, cells []CellStats) error {
	if m.Workload.Dataset != "shared-prefix" {
		return nil
	}
	fmt.Fprintln(w, "\nPrefix cache (prompt tokens served from the engine's cache ÷ the most the workload allows, over the measured repetitions):")
	t := newTable(w)
	t.Header("engine", "batch", "cached tokens", "most allowed", "hit rate", "cache block", "most at its block", "hit rate at its block")
	block := map[string]int{}
	for _, e := range m.Engines {
		block[e.Name] = e.CacheBlockTokens
	}
	p := m.Workload.SharedPrefixLen
	for _, c := range cells {
		if len(c.Rows) == 0 {
			continue
		}
		cached, most, reported := 0, 0, false
		for _, r := range c.Rows {
			if r.MaxCachedTokens != nil {
				most += *r.MaxCachedTokens
			}
			cached += r.CachedTokens
			for _, q := range r.Detail {
				if q.CachedTokens != nil {
					reported = true
				}
			}
		}
		cachedText, rate, blockText, mostBlock, rateBlock := "—", "—", "—", "—", "—"
		if reported {
			cachedText = fmt.Sprint(cached)
			rate = percent(cached, most)
		}
		// A cache of b-token blocks can serve only whole blocks of a prefix.
		if b := block[c.Engine]; b > 0 && p > 0 {
			mb := most / p * (p / b * b)
			blockText, mostBlock = fmt.Sprint(b), fmt.Sprint(mb)
			if reported {
				rateBlock = percent(cached, mb)
			}
		}
		if err := t.Append(c.Engine, c.BatchSize, cachedText, most, rate, blockText, mostBlock, rateBlock); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	fmt.Fprintln(w, "A cache of blocks serves whole blocks only (vLLM's KV block: 16 tokens on a GPU by default, 128 on CPU; SGLang's page: 1): a prefix shorter than a block cannot hit.")
	return nil
}

func percent(n, of int) string {
	if of <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(of))
}
