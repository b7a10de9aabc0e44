// Package engine lists the engines enginebench drives and what each needs
// from its environment. The engines themselves are Python adapters in
// pyhost's embedded package (enginebench_host.engines.<name>).
package engine

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is one engine enginebench knows: its name, the call it drives, its
// environment, how it ends itself.
type Kind struct {
	// Name is the engine's name on the command line and in results.
	Name string
	// API is the offline call the adapter drives, for the help text.
	API string
	// Env is set in the worker before the interpreter starts; a user's
	// --engine-env overrides it.
	Env map[string]string
	// SelfKill, when set, recognises a worker the engine ended itself.
	SelfKill *SelfKill
}

// SelfKill describes an engine that kills its own process when one of its
// children fails, so the parent sees a signal where it would expect a
// traceback; the reason is only in the engine's log.
type SelfKill struct {
	// Signal is the signal the engine sends itself.
	Signal int
	// Markers are log substrings, any of which shows the engine did it.
	Markers []string
	// Why are log substrings that start the lines saying why, e.g. the
	// header of a child's traceback; a line holding one is kept with the
	// traceback under it.
	Why []string
	// Says is the sentence the report gives.
	Says string
}

// sigkill is SIGKILL's number on Linux.
const sigkill = 9

// ExplainExit tells whether a worker killed by signal sig was ended by the
// engine itself, judging by its log; it returns the report's sentence and
// the log lines that say why, or "" when the engine did not do it.
func (e Kind) ExplainExit(sig int, log string) (string, []string) {
	k := e.SelfKill
	if k == nil || sig != k.Signal {
		return "", nil
	}
	lines := strings.Split(strings.ReplaceAll(log, "\r", "\n"), "\n")
	marked := false
	for _, l := range lines {
		if containsAny(l, k.Markers) {
			marked = true
			break
		}
	}
	if !marked {
		return "", nil
	}
	return k.Says, whyLines(lines, k)
}

// whyLines keeps each line that holds a marker or a why-substring, and the
// traceback that follows a why line (indented lines, up to its exception
// line), so the report shows the child's own error, not the engine's
// warnings.
func whyLines(lines []string, k *SelfKill) []string {
	const maxLines = 40
	var out []string
	for i := 0; i < len(lines) && len(out) < maxLines; i++ {
		l := strings.TrimRight(lines[i], " ")
		switch {
		case containsAny(l, k.Why):
			out = append(out, l)
			// The traceback: indented lines and "Traceback", up to and
			// including the first unindented line (the exception).
			for i+1 < len(lines) && len(out) < maxLines {
				next := strings.TrimRight(lines[i+1], " ")
				if next == "" || containsAny(next, k.Markers) || containsAny(next, k.Why) {
					break
				}
				i++
				out = append(out, next)
				if !strings.HasPrefix(next, " ") && !strings.HasPrefix(next, "Traceback") {
					break
				}
			}
		case containsAny(l, k.Markers):
			out = append(out, l)
		}
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// common is set for every engine: nothing should phone home from a
// benchmark.
var common = map[string]string{
	"HF_HUB_DISABLE_TELEMETRY": "1",
	"DO_NOT_TRACK":             "1",
	"TOKENIZERS_PARALLELISM":   "false",
}

var known = []Kind{
	{
		Name: "vllm",
		API:  "vllm.LLM(...).generate([{prompt_token_ids}], SamplingParams(...))",
		Env: map[string]string{
			// The Go worker is multi-threaded: forking it is unsafe, so
			// vLLM's engine core must start with spawn, which runs the
			// embedded interpreter's own python.
			"VLLM_WORKER_MULTIPROC_METHOD": "spawn",
			"VLLM_NO_USAGE_STATS":          "1",
		},
	},
	{
		Name: "sglang",
		API:  "sglang.Engine(...).generate(input_ids=[...], sampling_params={...})",
		Env:  map[string]string{"SGLANG_DISABLE_REQUEST_LOGGING": "1"},
		// When a child (scheduler, detokenizer) fails, SGLang's
		// kill_process_tree SIGKILLs its whole process tree, the worker
		// included (srt/utils: kill_process_tree; the engine's SIGQUIT
		// handler). Its log lines from 0.5.23.
		SelfKill: &SelfKill{
			Signal:  sigkill,
			Markers: []string{"Received sigquit from a child process", "SIGQUIT received", "crashed with exit code"},
			Why:     []string{"hit an exception", "crashed with exit code"},
			Says:    "SGLang ended its own worker (SIGKILL from its kill_process_tree after one of its child processes failed)",
		},
	},
	{
		Name: "transformers",
		API:  "transformers AutoModelForCausalLM.generate on equal-length batches (reference baseline)",
		Env:  map[string]string{},
	},
}

// Names returns the known engine names, sorted.
func Names() []string {
	var ns []string
	for _, e := range known {
		ns = append(ns, e.Name)
	}
	sort.Strings(ns)
	return ns
}

// Lookup returns the engine called name.
func Lookup(name string) (Kind, error) {
	for _, e := range known {
		if e.Name == name {
			return e, nil
		}
	}
	return Kind{}, fmt.Errorf("unknown engine %q: known engines are %s", name, strings.Join(Names(), ", "))
}

// OfflineEnv keeps Hugging Face libraries off the network; set when the
// model is a local directory, so nothing is fetched during a timed load.
var OfflineEnv = map[string]string{"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

// Environment returns the engine's environment: the common settings, the
// extra ones given, the engine's own, then the user's overrides.
func (e Kind) Environment(extra, user map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range common {
		env[k] = v
	}
	for k, v := range e.Env {
		env[k] = v
	}
	for k, v := range user {
		env[k] = v
	}
	return env
}
