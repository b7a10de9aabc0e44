package main

import (
	"encoding/json"
	"fmt"

	"github.com/enginebench/enginebench/offline/engine"
	"github.com/enginebench/enginebench/offline/engineargs"
)

// parseEngineArgs parses every --engine-arg value as Python literal keyword
// arguments, in Go, before any interpreter or model starts, and returns
// each engine's arguments as a JSON object for its adapter.
func parseEngineArgs(values []string) (map[string]json.RawMessage, error) {
	all, err := engineargs.ParseAll(values, engine.Names())
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for name, kw := range all {
		b, err := json.Marshal(kw)
		if err != nil {
			return nil, fmt.Errorf("--engine-arg for %s: %w", name, err)
		}
		out[name] = b
	}
	return out, nil
}
