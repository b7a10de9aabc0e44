// Package engine lists the engines enginebench drives and what each needs
// from its environment. The engines themselves are Python adapters in
// pyhost's embedded package (enginebench_host.engines.<name>).
package engine

import (
	"fmt"
	"sort"
	"strings"
)

// Engine describes one engine.
type Engine struct {
	// Name is the engine's name on the command line and in results.
	Name string
	// API is the offline call the adapter drives, for the help text.
	API string
	// Env is set in the worker before the interpreter starts; a user's
	// --engine-env overrides it.
	Env map[string]string
}

// common is set for every engine: nothing should phone home from a
// benchmark.
var common = map[string]string{
	"HF_HUB_DISABLE_TELEMETRY": "1",
	"DO_NOT_TRACK":             "1",
	"TOKENIZERS_PARALLELISM":   "false",
}

var known = []Engine{
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
func Lookup(name string) (Engine, error) {
	for _, e := range known {
		if e.Name == name {
			return e, nil
		}
	}
	return Engine{}, fmt.Errorf("unknown engine %q: known engines are %s", name, strings.Join(Names(), ", "))
}

// OfflineEnv keeps Hugging Face libraries off the network; set when the
// model is a local directory, so nothing is fetched during a timed load.
var OfflineEnv = map[string]string{"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

// Environment returns the engine's environment: the common settings, the
// extra ones given, the engine's own, then the user's overrides.
func (e Engine) Environment(extra, user map[string]string) map[string]string {
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
