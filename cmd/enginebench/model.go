package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/enginebench/enginebench/offline/modelinfo"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/roofline"
)

// modelSpec is what the parent knows of the model before any engine starts.
type modelSpec struct {
	path      string
	local     bool
	dtype     string
	vocabSize int
	special   []int
	maxLen    int
	outputLen int
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
		r.Warnings = m.info.Warnings
		if g := m.info.Generation; g != nil && g.MaxNewTokens != nil && *g.MaxNewTokens < m.outputLen {
			// vLLM applies generation_config.json's max_new_tokens as a cap
			// (generation_config="auto"); short outputs would then be flagged.
			r.Warnings = append(r.Warnings, fmt.Sprintf("generation_config.json sets max_new_tokens=%d, below --output-len %d: vLLM caps outputs at it unless given --engine-arg 'vllm: generation_config=\"vllm\"'", *g.MaxNewTokens, m.outputLen))
		}
		rm, err := rooflineModel(m.info, m.dtype)
		if err != nil {
			r.RooflineUnavailable = err.Error()
		} else {
			r.Roofline = &rm
		}
	}
	return r
}

// rooflineModel describes the model for the decode bound at the dtype the
// engines run: a checkpoint stored in float32 and run in bfloat16 reads half
// its stored bytes per step. The KV cache is taken to be in the run dtype
// (an fp8 KV cache, set through an engine argument, halves it again).
func rooflineModel(info *modelinfo.Info, dtype string) (roofline.Model, error) {
	kv, err := roofline.KVBytesPerElement("auto", dtype)
	if err != nil {
		return roofline.Model{}, err
	}
	m, err := roofline.FromModelInfo(info, kv)
	if err != nil {
		return roofline.Model{}, err
	}
	runBits, ok := modelinfo.TorchDtypeBits(dtype)
	if !ok {
		return m, nil
	}
	var storedBits uint64
	for d := range info.Weights.ByDtype {
		b, ok := modelinfo.DtypeBits(d)
		if !ok || (storedBits != 0 && b != storedBits) || !strings.HasPrefix(d, "F") && !strings.HasPrefix(d, "BF") {
			// Mixed or integer (quantized) storage: the engines keep it as is.
			return m, nil
		}
		storedBits = b
	}
	if storedBits != 0 && storedBits != runBits {
		scale := func(b uint64) uint64 { return b * runBits / storedBits }
		m.WeightBytes, m.EmbeddingBytes, m.LMHeadBytes = scale(m.WeightBytes), scale(m.EmbeddingBytes), scale(m.LMHeadBytes)
		m.Caveats = append(m.Caveats, fmt.Sprintf("weights are stored at %d bits and run at %d: weight bytes scaled to the run dtype", storedBits, runBits))
	}
	return m, nil
}
