package run

import (
	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// rowOf builds the result row of cell cl from what the worker reported.
// Only answers to the batch's own prompts count, each prompt once, matched
// by the prompt index the adapter read from the engine's request id or
// echoed prompt; any other answer is left out of every figure and flagged
// (results.FlagExtraRequests). The cell is the parent's, never the
// worker's echo of it.
func rowOf(engine string, wl *workload.Workload, res *protocol.BatchResult, cl workload.Cell, maxCached *int) *results.Row {
	row := &results.Row{
		Engine:         engine,
		BatchSize:      cl.BatchSize,
		Rep:            cl.Rep,
		Warmup:         cl.Warmup,
		FirstPrompt:    cl.First,
		StartedAt:      res.StartedAt,
		WallS:          res.WallS,
		EngineS:        res.EngineS,
		WorkloadSHA256: wl.SHA256,
		Error:          res.Error,
		GPU:            res.GPU,
		Host:           res.Host,
	}
	if res.Error == "" && res.EngineS != nil {
		overhead := res.WallS - *res.EngineS
		row.HostOverheadS = &overhead
	}
	if wl.Spec.IsProgram() {
		row.TallyPrograms(res.Programs)
		return row
	}
	counts := results.FirstAnswers(cl.First, cl.BatchSize)
	for _, q := range res.Requests {
		if !counts(q.Index) {
			row.ExtraRequests++
			continue
		}
		row.Detail = append(row.Detail, q)
	}
	row.MaxCachedTokens = maxCached
	row.Tally(func(i int) (int, int) {
		if i < 0 || i >= len(wl.Prompts) {
			return 0, 0
		}
		return len(wl.Prompts[i]), wl.OutputLenOf(i)
	}, wl.Spec.SharesPrefixes())
	return row
}
