// Package roofline computes the decode memory-bandwidth bound of a
// generate call and the model bandwidth utilization (MBU) a measured
// throughput achieves against it.
//
// # The bound (README text)
//
// In decode, each step produces one token for each of the B sequences in the
// batch, and every step must at least read the model's weights once and the
// KV cache of every sequence from GPU memory. Step j (j = 0 … O−1, for O output
// tokens after an I-token prompt) therefore moves at least
//
//	bytes_j = W_step + B × KV_token × (I + j)
//	KV_token = 2 × layers × kv_heads × head_dim × kv_bytes      (K and V)
//
// where W_step is every weight byte except the input embedding table, plus
// the B embedding rows actually gathered: the LM head is read whole each
// step, the embedding table is not. With tied embeddings the one matrix is
// read whole (as the LM head) and the B rows once more. The lower bound on
// the call's time is T_min = Σ_j bytes_j / BW, with BW the peak bandwidth of
// all GPUs used, and the bound on output throughput is B × O / T_min
// (= B × BW / mean step bytes). That is the time-weighted average over the
// steps; averaging the per-step bounds B × BW / bytes_j instead would
// overstate it, since short-context steps are fast. MBU = achieved output
// tokens/s ÷ that bound = T_min ÷ T_measured.
//
// What it includes: weights, the KV cache at each step's true context
// length, the embedding gather, K/V replication when tensor parallelism
// exceeds the KV head count. What it leaves out, and which way that moves
// MBU:
//
//   - Prefill. The first output token comes out of the prefill, which this
//     bound treats as one decode-like step (weights + the prompt's KV,
//     which prefill must at least write). Real prefill is compute-bound and
//     slower, so for short outputs the measured call is dominated by
//     prefill and MBU understates decode efficiency. Measure decode alone
//     (long outputs, or decode-step timing) to judge the kernels.
//   - Chunked prefill. Engines that mix prefill chunks into decode steps
//     make steps slower than pure decode; MBU understates again.
//   - Tensor parallelism. Pass the summed bandwidth of all GPUs used;
//     weights are split across them, all-reduce time is not modelled.
//   - Activations, logits, sampling, attention scratch and kernel launch
//     gaps: not counted (small per step, or not memory traffic).
//   - Mixture of experts: all expert weights are counted as read every
//     step; at small batch only the routed experts are, so the bound is too
//     low and MBU too high (it can exceed 100%).
//   - Sliding-window attention reads at most the window of KV per layer,
//     and multi-head latent attention (DeepSeek MLA) caches a compressed
//     latent instead of K and V; both make the KV term too large, the bound
//     too low and MBU too high.
//   - Quantized weights: W is the stored bytes, but dequantization may read
//     scales and zeros more than once.
//
// Bound.Caveats lists the ones that apply to a given model.
package roofline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/enginebench/enginebench/offline/modelinfo"
)

// Model holds what the bound needs from a model and the engine's KV cache.
type Model struct {
	// WeightBytes is every stored weight byte (modelinfo Weights.Bytes).
	WeightBytes uint64 `json:"weight_bytes"`
	// EmbeddingBytes is the input embedding table's size, included in
	// WeightBytes; 0 when it was not identified.
	EmbeddingBytes uint64 `json:"embedding_bytes"`
	// EmbeddingRows is its number of rows (the vocabulary, maybe padded).
	EmbeddingRows uint64 `json:"embedding_rows"`
	// LMHeadBytes is a separately stored LM head, included in WeightBytes.
	LMHeadBytes uint64 `json:"lm_head_bytes"`
	// TiedEmbeddings means the LM head is the embedding matrix. A stored
	// LM head is then a duplicate the engines drop at load, so it is not
	// counted twice.
	TiedEmbeddings bool `json:"tied_embeddings"`
	// Layers is the number of transformer layers.
	Layers int `json:"layers"`
	// KVHeads is the number of KV heads (num_key_value_heads).
	KVHeads int `json:"kv_heads"`
	// HeadDim is the per-head dimension.
	HeadDim int `json:"head_dim"`
	// KVBytesPerElement is the KV-cache element size (2 for bf16/fp16, 1
	// for fp8); see KVBytesPerElement.
	KVBytesPerElement float64 `json:"kv_bytes_per_element"`
	// Caveats are model-specific limits of the bound (MoE, sliding window,
	// MLA), copied into every Bound.
	Caveats []string `json:"caveats,omitempty"`
}

// Workload is one generate call.
type Workload struct {
	// Batch is the number of sequences (B).
	Batch int `json:"batch"`
	// InputLen is the prompt length in tokens (I).
	InputLen int `json:"input_len"`
	// OutputLen is the number of generated tokens per sequence (O).
	OutputLen int `json:"output_len"`
	// TensorParallel is the number of GPUs the model is split across; 0
	// or 1 means one. It only matters for K/V replication: with more GPUs
	// than KV heads each GPU still holds at least one head.
	TensorParallel int `json:"tensor_parallel,omitempty"`
}

// Bound is the decode memory-bandwidth bound of one workload.
type Bound struct {
	// BandwidthBytesPerS is the peak bandwidth used (all GPUs).
	BandwidthBytesPerS float64 `json:"bandwidth_bytes_per_s"`
	// WeightBytesPerStep is the weight traffic of one step (W_step).
	WeightBytesPerStep float64 `json:"weight_bytes_per_step"`
	// KVBytesPerToken is the KV cache of one token, all layers (all GPUs).
	KVBytesPerToken float64 `json:"kv_bytes_per_token"`
	// Steps is the number of steps, OutputLen.
	Steps int `json:"steps"`
	// TotalBytes is Σ bytes over the steps.
	TotalBytes float64 `json:"total_bytes"`
	// MeanBytesPerStep is TotalBytes / Steps.
	MeanBytesPerStep float64 `json:"mean_bytes_per_step"`
	// MinSeconds is TotalBytes / BandwidthBytesPerS: no call can be faster.
	MinSeconds float64 `json:"min_seconds"`
	// MaxOutputTokensPerS is Batch × OutputLen / MinSeconds.
	MaxOutputTokensPerS float64 `json:"max_output_tokens_per_s"`
	// Caveats say where the bound is known to be loose for this model.
	Caveats []string `json:"caveats,omitempty"`
}

// DecodeBound computes the bound of workload w on model m with peak
// bandwidth bandwidth (bytes/s, summed over the GPUs used).
func DecodeBound(m Model, w Workload, bandwidth float64) (Bound, error) {
	var errs []string
	check := func(bad bool, msg string) {
		if bad {
			errs = append(errs, msg)
		}
	}
	check(w.Batch <= 0, fmt.Sprintf("batch %d", w.Batch))
	check(w.InputLen < 0, fmt.Sprintf("input length %d", w.InputLen))
	check(w.OutputLen <= 0, fmt.Sprintf("output length %d", w.OutputLen))
	check(w.TensorParallel < 0, fmt.Sprintf("tensor parallel %d", w.TensorParallel))
	check(!(bandwidth > 0), fmt.Sprintf("bandwidth %v", bandwidth))
	check(m.WeightBytes == 0, "weight bytes 0")
	check(m.Layers <= 0 || m.KVHeads <= 0 || m.HeadDim <= 0, fmt.Sprintf("KV shape layers=%d kv_heads=%d head_dim=%d", m.Layers, m.KVHeads, m.HeadDim))
	check(!(m.KVBytesPerElement > 0), fmt.Sprintf("KV element size %v", m.KVBytesPerElement))
	check(m.EmbeddingBytes+m.LMHeadBytes > m.WeightBytes, "embedding and LM head larger than all weights")
	check(m.EmbeddingBytes > 0 && m.EmbeddingRows == 0, "embedding rows 0")
	if len(errs) > 0 {
		return Bound{}, fmt.Errorf("roofline: invalid input: %s", strings.Join(errs, ", "))
	}

	caveats := append([]string(nil), m.Caveats...)
	B, I, O := float64(w.Batch), float64(w.InputLen), float64(w.OutputLen)

	// Weights read per step.
	weights := float64(m.WeightBytes)
	if m.EmbeddingBytes > 0 {
		row := float64(m.EmbeddingBytes) / float64(m.EmbeddingRows)
		gather := min(B*row, float64(m.EmbeddingBytes)) // B rows, never more than the table
		if m.TiedEmbeddings {
			// The matrix is read whole as the LM head; a stored copy of
			// it is dropped by the loader.
			weights += gather - float64(m.LMHeadBytes)
		} else {
			weights += gather - float64(m.EmbeddingBytes)
		}
	} else {
		caveats = append(caveats, "input embedding not identified: its table is counted as read whole each step, so the bound is low and MBU high by up to its share of the weights")
	}

	// KV heads actually stored across GPUs: each GPU holds at least one.
	kvHeads := m.KVHeads
	if tp := w.TensorParallel; tp > 1 {
		kvHeads = tp * ((m.KVHeads + tp - 1) / tp)
	}
	kvTok := 2 * float64(m.Layers) * float64(kvHeads) * float64(m.HeadDim) * m.KVBytesPerElement

	// Σ_{j=0}^{O-1} (I + j) = O·I + O(O−1)/2 token-contexts per sequence.
	contexts := O*I + O*(O-1)/2
	total := O*weights + B*kvTok*contexts
	minSec := total / bandwidth
	return Bound{
		BandwidthBytesPerS:  bandwidth,
		WeightBytesPerStep:  weights,
		KVBytesPerToken:     kvTok,
		Steps:               w.OutputLen,
		TotalBytes:          total,
		MeanBytesPerStep:    total / O,
		MinSeconds:          minSec,
		MaxOutputTokensPerS: B * O / minSec,
		Caveats:             caveats,
	}, nil
}

// MBU returns achieved output tokens/s as a fraction of the bound
// (equivalently MinSeconds / measured seconds). It is not capped at 1: a
// value above 1 means the bound's assumptions do not hold (see Caveats).
func (b Bound) MBU(achievedOutputTokensPerS float64) (float64, error) {
	if !(b.MaxOutputTokensPerS > 0) {
		return 0, errors.New("roofline: MBU of an empty bound")
	}
	if achievedOutputTokensPerS < 0 {
		return 0, fmt.Errorf("roofline: negative throughput %v", achievedOutputTokensPerS)
	}
	return achievedOutputTokensPerS / b.MaxOutputTokensPerS, nil
}

// KVBytesPerElement returns the KV-cache element size for an engine's
// kv_cache_dtype setting; "auto" (or empty) means the model's dtype.
func KVBytesPerElement(kvCacheDtype, modelDtype string) (float64, error) {
	d := strings.ToLower(strings.TrimSpace(kvCacheDtype))
	if d == "" || d == "auto" {
		d = strings.ToLower(strings.TrimSpace(modelDtype))
		if d == "" || d == "auto" {
			return 0, fmt.Errorf("roofline: kv cache dtype %q follows the model, whose dtype is unknown", kvCacheDtype)
		}
	}
	if bits, ok := modelinfo.TorchDtypeBits(d); ok {
		return float64(bits) / 8, nil
	}
	if d = strings.TrimPrefix(d, "torch."); strings.HasPrefix(d, "fp8") || strings.HasPrefix(d, "float8") {
		return 1, nil // engines' own fp8 variants (vLLM's "fp8_inc", ...)
	}
	return 0, fmt.Errorf("roofline: unknown KV cache dtype %q", d)
}

// FromModelInfo builds a Model from a loaded model directory and the KV
// element size. It needs the safetensors weights and the attention shape.
func FromModelInfo(info *modelinfo.Info, kvBytesPerElement float64) (Model, error) {
	if info.Weights == nil {
		return Model{}, errors.New("roofline: the model has no safetensors weights, so its weight bytes are unknown")
	}
	m := Model{
		WeightBytes:       info.Weights.Bytes,
		EmbeddingBytes:    info.Weights.EmbeddingBytes,
		LMHeadBytes:       info.Weights.LMHeadBytes,
		Layers:            info.NumHiddenLayers,
		KVHeads:           info.NumKeyValueHeads,
		HeadDim:           info.HeadDim,
		KVBytesPerElement: kvBytesPerElement,
	}
	if len(info.Weights.EmbeddingShape) > 0 {
		m.EmbeddingRows = info.Weights.EmbeddingShape[0]
	}
	if info.TieWordEmbeddings != nil {
		m.TiedEmbeddings = *info.TieWordEmbeddings
	} else {
		m.Caveats = append(m.Caveats, "whether embeddings are tied is unknown; assumed untied")
	}
	if info.NumExperts > 0 {
		m.Caveats = append(m.Caveats, fmt.Sprintf("mixture of experts (%d experts, %d per token): all experts are counted as read every step, so the bound is low and MBU high, most at small batch", info.NumExperts, info.NumExpertsPerToken))
	}
	if info.SlidingWindow != nil && *info.SlidingWindow > 0 {
		m.Caveats = append(m.Caveats, fmt.Sprintf("sliding-window attention (%d tokens): KV reads beyond the window are counted, so the bound is low and MBU high for long contexts", *info.SlidingWindow))
	}
	if info.KVLoraRank > 0 {
		m.Caveats = append(m.Caveats, "multi-head latent attention: the KV cache holds a compressed latent, not K and V per head, so the KV term is wrong")
	}
	if m.Layers <= 0 || m.KVHeads <= 0 || m.HeadDim <= 0 {
		return Model{}, fmt.Errorf("roofline: the config lacks the attention shape (layers=%d kv_heads=%d head_dim=%d)", m.Layers, m.KVHeads, m.HeadDim)
	}
	return m, nil
}
