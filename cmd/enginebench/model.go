package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/enginebench/enginebench/offline/modelinfo"
	"github.com/enginebench/enginebench/offline/results"
)

// modelSpec is what the parent knows of the model before any engine starts.
type modelSpec struct {
	path      string
	local     bool
	dtype     string
	vocabSize int
	special   []int
	maxLen    int
	info      *modelinfo.Info
}

// loadModel reads a local model directory in Go (config.json, tokenizer
// files, safetensors headers), or accepts a hub id when --vocab-size is
// given. Every engine is told the same explicit dtype: "auto" resolves
// differently per engine (vLLM downcasts float32 to bfloat16, transformers
// keeps it), which would compare different computations.
func loadModel(path, dtype string, vocabSize int) (*modelSpec, error) {
	if path == "" {
		return nil, errors.New("--model is empty: pass a model directory")
	}
	fi, err := os.Stat(path)
	if err != nil {
		if looksLikePath(path) || vocabSize == 0 {
			return nil, fmt.Errorf("--model %s: no such model directory (pass a local directory with config.json; a hub id also needs --vocab-size): %w", path, err)
		}
		if dtype == "" {
			return nil, fmt.Errorf("--model %s is not a local directory: pass --dtype too (enginebench cannot read its config)", path)
		}
		return &modelSpec{path: path, dtype: dtype, vocabSize: vocabSize}, nil
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("--model %s is a file: pass the model's directory", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("--model %s: %w", path, err)
	}
	info, err := modelinfo.Load(abs)
	if err != nil {
		return nil, fmt.Errorf("--model %s: %w", path, err)
	}
	m := &modelSpec{path: abs, local: true, info: info, vocabSize: info.VocabSize, special: info.SpecialTokenIDs, maxLen: info.MaxPositionEmbeddings}
	if vocabSize != 0 && vocabSize != m.vocabSize {
		return nil, fmt.Errorf("--vocab-size %d disagrees with %s's config.json (vocab_size %d): drop the flag", vocabSize, path, m.vocabSize)
	}
	m.dtype = dtype
	if m.dtype == "" {
		m.dtype = info.Dtype
	}
	if m.dtype == "" || m.dtype == "auto" {
		return nil, fmt.Errorf("--model %s: its config.json names no dtype: pass --dtype (e.g. bfloat16)", path)
	}
	return m, nil
}

func looksLikePath(p string) bool {
	return strings.HasPrefix(p, "/") || strings.HasPrefix(p, ".") || strings.HasPrefix(p, "~") || strings.Count(p, "/") != 1
}

func (m *modelSpec) manifest() results.Model {
	r := results.Model{Path: m.path, Dtype: m.dtype, VocabSize: m.vocabSize}
	if m.info != nil {
		r.ConfigSHA256 = m.info.ConfigSHA256
		r.Architecture = m.info.Architectures
		if w := m.info.Weights; w != nil {
			params, bytes := int64(w.Params), int64(w.Bytes)
			r.ParamCount, r.ParamBytes = &params, &bytes
		}
	}
	return r
}
