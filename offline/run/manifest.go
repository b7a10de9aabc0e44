package run

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// newManifest is the manifest of a fresh run of p over wl.
func newManifest(p *Plan, wl *workload.Workload) *results.Manifest {
	m := &results.Manifest{
		Tool:        p.Tool,
		CommandLine: p.CommandLine,
		StartedAt:   time.Now().UTC(),
		Host:        p.Host,
		Model:       p.Model.Info,
		Workload: results.Workload{
			SHA256: wl.SHA256, Seed: p.Spec.Seed, InputLen: p.Spec.InputLen, OutputLen: p.Spec.OutputLen,
			BatchSizes: p.Spec.BatchSizes, Reps: p.Spec.Reps, Warmup: p.Spec.Warmup, Prompts: len(wl.Prompts),
			VocabSize: p.Spec.VocabSize, ExcludedTokens: wl.Spec.Exclude,
			Dataset: workload.DatasetRandom, SharedPrefixLen: p.Spec.SharedPrefix, PrefixGroups: p.Spec.PrefixGroups,
		},
		Sampling: results.Sampling{Temperature: p.Sampling.Temperature, TopP: p.Sampling.TopP, Seed: p.Sampling.Seed, IgnoreEOS: true},
		Baseline: p.Baseline,
	}
	if p.Spec.SharesPrefixes() {
		m.Workload.Dataset = workload.DatasetSharedPrefix
	}
	if s := wl.Spec; s.IsShareGPT() {
		mw := &m.Workload
		mw.Dataset, mw.MinInputLen, mw.MaxInputLen, mw.ReferenceOutput = workload.DatasetShareGPT, s.MinInputLen, s.MaxInputLen, s.ReferenceOutput
		mw.Source = &results.Source{File: s.Source.File, SHA256: s.Source.SHA256, Entries: s.Source.Entries}
		mw.Skipped = wl.Skipped
		if mw.Skipped == nil {
			mw.Skipped = map[string]int{}
		}
		if t := wl.Tokenizer; t != nil {
			mw.Tokenizer = &results.Tokenizer{Class: t.Class, Transformers: t.Transformers, VocabSize: t.VocabSize}
		}
		l := wl.LengthStats()
		mw.PromptTokens = &results.LengthStats{Min: l.MinPrompt, Mean: l.MeanPrompt, Max: l.MaxPrompt}
		mw.OutputTokens = &results.LengthStats{Min: l.MinOutput, Mean: l.MeanOutput, Max: l.MaxOutput}
	}
	if s := wl.Spec; s.IsProgram() {
		m.Workload.Dataset = workload.DatasetProgram
		m.Workload.Prompts = len(wl.Arguments)
		m.Workload.Program = &results.Program{File: s.Program.File, SHA256: s.Program.SHA256, Features: wl.Features, ContextLen: p.Model.ContextLen}
		// A program's gens set their own lengths and stop conditions.
		m.Sampling.IgnoreEOS = false
	}
	if m.Workload.ExcludedTokens == nil {
		m.Workload.ExcludedTokens = []int{}
	}
	for _, e := range p.Engines {
		m.Engines = append(m.Engines, results.Engine{
			Name: e.Name, Status: results.EngineQueued, Python: e.Python, UserArgs: e.UserArgs, UserEnv: e.UserEnv, Env: e.Env, LogFile: LogFile(e.Name),
		})
	}
	return m
}

// resumeManifest merges the manifest of a fresh run (m) into the earlier
// run's it continues, after checking that every setting that changes what
// is measured is the same. measured names the engines with rows in the
// directory. The result keeps the earlier run's command line and start,
// adds this one to Resumed, and keeps every earlier engine's record (an
// engine left out of this run keeps its rows and its record); an engine
// that runs again keeps what was learnt of it until it loads.
func resumeManifest(out string, m, earlier *results.Manifest, measured map[string]bool) (*results.Manifest, error) {
	if len(measured) > 0 {
		if diffs := settingsDiff(earlier, m, measured); len(diffs) > 0 {
			return nil, fmt.Errorf("--resume: %s was measured with other settings; resuming would mix them in one table:\n  %s\nrun with the earlier settings, or choose another --out",
				out, strings.Join(diffs, "\n  "))
		}
	}
	merged := *m
	merged.CommandLine, merged.StartedAt, merged.GPU = earlier.CommandLine, earlier.StartedAt, earlier.GPU
	merged.Resumed = append(slices.Clone(earlier.Resumed), results.Invocation{CommandLine: m.CommandLine, StartedAt: m.StartedAt})
	if merged.Baseline == "" {
		merged.Baseline = earlier.Baseline
	}
	merged.Engines = slices.Clone(earlier.Engines)
	for _, e := range m.Engines {
		i := slices.IndexFunc(merged.Engines, func(o results.Engine) bool { return o.Name == e.Name })
		if i < 0 {
			merged.Engines = append(merged.Engines, e)
			continue
		}
		old := merged.Engines[i]
		old.Status, old.Error, old.FailedBatches = results.EngineQueued, "", nil
		old.Python, old.UserArgs, old.UserEnv, old.Env, old.LogFile = e.Python, e.UserArgs, e.UserEnv, e.Env, e.LogFile
		const note = "resumed from an earlier run"
		if !slices.Contains(old.Notes, note) {
			old.Notes = append(old.Notes, note)
		}
		merged.Engines[i] = old
	}
	return &merged, nil
}

// settingsDiff lists, one line each, the settings that changed what is
// measured between an earlier run and this one: the model, the workload
// (its lengths, seed, batch sizes and their order, repetitions, warm-up),
// the sampling, and, for each engine measured before, its python, engine
// arguments and environment.
func settingsDiff(earlier, now *results.Manifest, measured map[string]bool) []string {
	var diffs []string
	add := func(name string, was, is any) {
		if fmt.Sprint(was) != fmt.Sprint(is) {
			diffs = append(diffs, fmt.Sprintf("%s: %v before, %v now", name, show(was), show(is)))
		}
	}
	add("--model", earlier.Model.Path, now.Model.Path)
	add("the model's config.json (sha256)", earlier.Model.ConfigSHA256, now.Model.ConfigSHA256)
	add("--dtype", earlier.Model.Dtype, now.Model.Dtype)
	ew, nw := earlier.Workload, now.Workload
	add("--input-len", ew.InputLen, nw.InputLen)
	add("--output-len", ew.OutputLen, nw.OutputLen)
	add("--seed", ew.Seed, nw.Seed)
	add("--batch-sizes (and their order)", joinInts(ew.BatchSizes), joinInts(nw.BatchSizes))
	add("--reps", ew.Reps, nw.Reps)
	add("--warmup", ew.Warmup, nw.Warmup)
	if ew.Dataset != "" || nw.Dataset != workload.DatasetRandom {
		add("--dataset", ew.Dataset, nw.Dataset)
	}
	add("--prefix-len", ew.SharedPrefixLen, nw.SharedPrefixLen)
	add("--prefix-groups", ew.PrefixGroups, nw.PrefixGroups)
	sourceOf := func(s *results.Source) string {
		if s == nil {
			return ""
		}
		return s.SHA256
	}
	add("the ShareGPT file (sha256)", sourceOf(ew.Source), sourceOf(nw.Source))
	add("--min-input-len", ew.MinInputLen, nw.MinInputLen)
	add("--max-input-len", ew.MaxInputLen, nw.MaxInputLen)
	add("--output-len reference", ew.ReferenceOutput, nw.ReferenceOutput)
	programOf := func(p *results.Program) string {
		if p == nil {
			return ""
		}
		return p.File + " " + p.SHA256
	}
	add("--program (file sha256)", programOf(ew.Program), programOf(nw.Program))
	if len(diffs) == 0 && ew.SHA256 != nw.SHA256 {
		add("the workload's prompts (sha256)", ew.SHA256, nw.SHA256)
	}
	es, ns := earlier.Sampling, now.Sampling
	add("--temperature", es.Temperature, ns.Temperature)
	add("--top-p", es.TopP, ns.TopP)
	add("ignore_eos", es.IgnoreEOS, ns.IgnoreEOS)
	for _, e := range now.Engines {
		if !measured[e.Name] {
			continue
		}
		i := slices.IndexFunc(earlier.Engines, func(o results.Engine) bool { return o.Name == e.Name })
		if i < 0 {
			continue
		}
		old := earlier.Engines[i]
		add("--engine "+e.Name+" (python)", old.Python, e.Python)
		add("--engine-arg '"+e.Name+": ...'", canonicalJSON(old.UserArgs), canonicalJSON(e.UserArgs))
		add("--engine-env '"+e.Name+": ...'", envString(old.UserEnv), envString(e.UserEnv))
	}
	return diffs
}

// versionsDiff lists the engines measured before whose python or package
// versions (from the pre-flight) differ from those they were measured with.
func versionsDiff(earlier *results.Manifest, checked map[string]*protocol.EngineInfo, measured map[string]bool) []string {
	var diffs []string
	for _, old := range earlier.Engines {
		info := checked[old.Name]
		if !measured[old.Name] || info == nil {
			continue
		}
		if old.PythonVersion != "" && info.PythonVersion != old.PythonVersion {
			diffs = append(diffs, fmt.Sprintf("%s: python %s before, %s now", old.Name, old.PythonVersion, info.PythonVersion))
		}
		for _, k := range slices.Sorted(maps.Keys(old.Versions)) {
			if v, ok := info.Versions[k]; ok && v != old.Versions[k] {
				diffs = append(diffs, fmt.Sprintf("%s: %s %s before, %s now", old.Name, k, old.Versions[k], v))
			}
		}
	}
	return diffs
}

func show(v any) any {
	if s, ok := v.(string); ok && s == "" {
		return "(none)"
	}
	return v
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = itoa(x)
	}
	return strings.Join(parts, ",")
}

// canonicalJSON renders a JSON object with sorted keys, so equal arguments
// compare equal however they were spelt.
func canonicalJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return "{}"
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v) // encoding/json sorts map keys
	return string(b)
}

func envString(env map[string]string) string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + env[k]
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
