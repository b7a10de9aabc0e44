// Package modelinfo reads a local Hugging Face model directory in Go,
// before any interpreter or engine loads: the architecture from
// config.json, generation defaults from generation_config.json, the special
// token IDs (which benchmark prompts must avoid), a hash of the config for
// the reproducibility record, and exact parameter counts and bytes from the
// safetensors headers (without reading tensor data).
package modelinfo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// maxConfigBytes bounds config.json and generation_config.json reads; real
// ones are a few KiB.
const maxConfigBytes = 16 << 20

// Info describes a model directory.
type Info struct {
	// Dir is the directory read.
	Dir string `json:"dir"`
	// Architectures is config.json "architectures", e.g. ["LlamaForCausalLM"].
	Architectures []string `json:"architectures"`
	// ModelType is config.json "model_type", e.g. "llama".
	ModelType string `json:"model_type"`
	// VocabSize is the vocabulary size (token IDs are in [0, VocabSize)).
	VocabSize int `json:"vocab_size"`
	// HiddenSize is the model width.
	HiddenSize int `json:"hidden_size"`
	// NumHiddenLayers is the number of transformer layers.
	NumHiddenLayers int `json:"num_hidden_layers"`
	// NumAttentionHeads is the number of query heads.
	NumAttentionHeads int `json:"num_attention_heads"`
	// NumKeyValueHeads is the number of KV heads (NumAttentionHeads when
	// the config does not say: multi-head attention).
	NumKeyValueHeads int `json:"num_key_value_heads"`
	// HeadDim is the per-head dimension (HiddenSize/NumAttentionHeads when
	// the config does not say).
	HeadDim int `json:"head_dim"`
	// IntermediateSize is the MLP width (0 if absent).
	IntermediateSize int `json:"intermediate_size,omitempty"`
	// MaxPositionEmbeddings is the context length the config declares.
	MaxPositionEmbeddings int `json:"max_position_embeddings,omitempty"`
	// Dtype is config.json "dtype" or, for older files, "torch_dtype".
	Dtype string `json:"dtype,omitempty"`
	// BOSTokenID is config.json "bos_token_id" (nil if absent or null).
	BOSTokenID *int `json:"bos_token_id"`
	// EOSTokenIDs is config.json "eos_token_id", which may be a number or
	// a list there.
	EOSTokenIDs []int `json:"eos_token_ids"`
	// PadTokenID is config.json "pad_token_id" (nil if absent or null).
	PadTokenID *int `json:"pad_token_id"`
	// TieWordEmbeddings says whether the LM head shares the input embedding
	// matrix: from config.json when it says so, else inferred from the
	// weights (tied when no separate LM head tensor is stored), else nil.
	TieWordEmbeddings *bool `json:"tie_word_embeddings"`
	// NumExperts is the number of routed experts of a mixture-of-experts
	// model (num_local_experts, num_experts or n_routed_experts); 0 for a
	// dense model.
	NumExperts int `json:"num_experts,omitempty"`
	// NumExpertsPerToken is num_experts_per_tok (or moe_top_k).
	NumExpertsPerToken int `json:"num_experts_per_token,omitempty"`
	// SlidingWindow is the attention window when the config declares one.
	SlidingWindow *int `json:"sliding_window,omitempty"`
	// KVLoraRank is set for multi-head latent attention (DeepSeek MLA),
	// whose KV cache is not 2 × kv_heads × head_dim per token.
	KVLoraRank int `json:"kv_lora_rank,omitempty"`
	// Generation is generation_config.json, nil when absent.
	Generation *GenerationConfig `json:"generation_config,omitempty"`
	// SpecialTokenIDs is the sorted union of special token IDs from
	// tokenizer.json (added_tokens with "special": true),
	// tokenizer_config.json (added_tokens_decoder entries with "special":
	// true) and the bos/eos/pad IDs of both configs.
	SpecialTokenIDs []int `json:"special_token_ids"`
	// ConfigSHA256 is the hex SHA-256 of config.json's bytes as stored.
	//
	// The raw bytes are hashed, not a canonical form: the file is exactly
	// what every engine reads, anyone can check the value with sha256sum,
	// and canonical JSON would need a number-formatting rule that Go's and
	// Python's encoders do not share (1e-05 vs 0.00001). The cost is that
	// a whitespace-only edit changes the hash.
	ConfigSHA256 string `json:"config_sha256"`
	// Weights summarizes the safetensors weights; nil when the directory
	// has none (see Warnings).
	Weights *Weights `json:"weights,omitempty"`
	// Warnings are non-fatal findings worth showing in a report.
	Warnings []string `json:"warnings,omitempty"`
}

// GenerationConfig is the part of generation_config.json a benchmark
// report needs: the token IDs and the model's default sampling settings,
// which some engines (vLLM's generation_config="auto") apply unless told
// otherwise. Pointer fields are nil when the file does not set them.
type GenerationConfig struct {
	// BOSTokenID is "bos_token_id".
	BOSTokenID *int `json:"bos_token_id"`
	// EOSTokenIDs is "eos_token_id" (a number or a list in the file).
	EOSTokenIDs []int `json:"eos_token_ids"`
	// PadTokenID is "pad_token_id".
	PadTokenID *int `json:"pad_token_id"`
	// DoSample is "do_sample".
	DoSample *bool `json:"do_sample,omitempty"`
	// Temperature is "temperature".
	Temperature *float64 `json:"temperature,omitempty"`
	// TopP is "top_p".
	TopP *float64 `json:"top_p,omitempty"`
	// TopK is "top_k".
	TopK *int `json:"top_k,omitempty"`
	// RepetitionPenalty is "repetition_penalty".
	RepetitionPenalty *float64 `json:"repetition_penalty,omitempty"`
	// MaxNewTokens is "max_new_tokens".
	MaxNewTokens *int `json:"max_new_tokens,omitempty"`
}

// Load reads the model directory dir. It fails when dir is missing, has no
// config.json, or any file it reads is malformed (including corrupt
// safetensors headers); a directory without safetensors weights loads with
// Weights nil and a warning.
func Load(dir string) (*Info, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("modelinfo: model directory %s does not exist: %w", dir, err)
	case err != nil:
		return nil, fmt.Errorf("modelinfo: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("modelinfo: %s is not a directory: expected a local Hugging Face model directory (config.json, tokenizer files, *.safetensors)", dir)
	}
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := readSmall(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("modelinfo: %s has no config.json: expected a local Hugging Face model directory (config.json, tokenizer files, *.safetensors): %w", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	sum := sha256.Sum256(raw)
	info := &Info{Dir: dir, ConfigSHA256: hex.EncodeToString(sum[:])}
	if err := info.parseConfig(cfgPath, raw); err != nil {
		return nil, err
	}

	special := map[int]bool{}
	addIDs := func(ids ...*int) {
		for _, id := range ids {
			if id != nil && *id >= 0 {
				special[*id] = true
			}
		}
	}
	addIDs(info.BOSTokenID, info.PadTokenID)
	for _, id := range info.EOSTokenIDs {
		addIDs(&id)
	}

	genPath := filepath.Join(dir, "generation_config.json")
	if graw, err := readSmall(genPath); err == nil {
		g, err := parseGeneration(genPath, graw)
		if err != nil {
			return nil, err
		}
		info.Generation = g
		addIDs(g.BOSTokenID, g.PadTokenID)
		for _, id := range g.EOSTokenIDs {
			addIDs(&id)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("modelinfo: %w", err)
	}

	ids, err := tokenizerSpecialIDs(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		special[id] = true
	}
	ids, err = tokenizerConfigSpecialIDs(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		special[id] = true
	}
	info.SpecialTokenIDs = make([]int, 0, len(special))
	for id := range special {
		info.SpecialTokenIDs = append(info.SpecialTokenIDs, id)
	}
	sort.Ints(info.SpecialTokenIDs)
	for _, id := range info.SpecialTokenIDs {
		if id >= info.VocabSize {
			info.Warnings = append(info.Warnings, fmt.Sprintf("special token ID %d is outside vocab_size %d", id, info.VocabSize))
			break
		}
	}

	w, err := LoadWeights(dir)
	switch {
	case errors.Is(err, ErrNoSafetensors):
		info.Warnings = append(info.Warnings, "no safetensors weights: parameter counts and the roofline are unavailable")
	case err != nil:
		return nil, err
	default:
		w.identify(info.VocabSize, info.HiddenSize)
		info.Weights = w
		if info.TieWordEmbeddings == nil && w.EmbeddingTensor != "" {
			tied := w.LMHeadTensor == ""
			info.TieWordEmbeddings = &tied
			info.Warnings = append(info.Warnings, fmt.Sprintf("tie_word_embeddings not in config.json; inferred %v from the weights", tied))
		}
	}
	return info, nil
}

// readSmall reads a config-sized file.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a config file", path, maxConfigBytes)
	}
	return b, nil
}

// object is a decoded JSON object with typed accessors.
type object map[string]json.RawMessage

func decodeObject(path string, b []byte) (object, error) {
	var o object
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&o); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("modelinfo: %s: invalid JSON at byte %d: %w", path, se.Offset, err)
		}
		return nil, fmt.Errorf("modelinfo: %s: %w", path, err)
	}
	if o == nil {
		return nil, fmt.Errorf("modelinfo: %s: expected a JSON object", path)
	}
	return o, nil
}

// present reports whether key is set to something other than null.
func (o object) present(key string) bool {
	r, ok := o[key]
	return ok && string(bytes.TrimSpace(r)) != "null"
}

// int returns the first present key among keys as an int. JSON numbers
// written as 4096.0 are accepted when integral.
func (o object) int(path string, keys ...string) (int, string, error) {
	for _, k := range keys {
		if !o.present(k) {
			continue
		}
		v, err := toInt(o[k])
		if err != nil {
			return 0, k, fmt.Errorf("modelinfo: %s: %q: %w", path, k, err)
		}
		return v, k, nil
	}
	return 0, "", nil
}

func toInt(r json.RawMessage) (int, error) {
	var n json.Number
	if err := json.Unmarshal(r, &n); err != nil {
		return 0, fmt.Errorf("not a number: %s", r)
	}
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return int(i), nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("not an integer: %s", n)
	}
	return int(f), nil
}

func (o object) str(keys ...string) string {
	for _, k := range keys {
		var s string
		if o.present(k) && json.Unmarshal(o[k], &s) == nil {
			return s
		}
	}
	return ""
}

// optInt returns a present integer key, or nil.
func (o object) optInt(path, key string) (*int, error) {
	if !o.present(key) {
		return nil, nil
	}
	v, err := toInt(o[key])
	if err != nil {
		return nil, fmt.Errorf("modelinfo: %s: %q: %w", path, key, err)
	}
	return &v, nil
}

// intList reads a key holding a number or a list of numbers (eos_token_id).
func (o object) intList(path, key string) ([]int, error) {
	if !o.present(key) {
		return nil, nil
	}
	if v, err := toInt(o[key]); err == nil {
		return []int{v}, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(o[key], &list); err != nil {
		return nil, fmt.Errorf("modelinfo: %s: %q is neither a number nor a list of numbers", path, key)
	}
	out := make([]int, 0, len(list))
	for _, r := range list {
		v, err := toInt(r)
		if err != nil {
			return nil, fmt.Errorf("modelinfo: %s: %q: %w", path, key, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseConfig fills the architecture fields. Field names differ between
// model families; the aliases tried are listed in order. Multimodal
// configs that keep the language model's fields in "text_config" (LLaVA,
// Gemma 3, Mllama) are read from there when the top level lacks them.
func (info *Info) parseConfig(path string, raw []byte) error {
	top, err := decodeObject(path, raw)
	if err != nil {
		return err
	}
	cfg := top
	if !top.present("num_hidden_layers") && !top.present("n_layer") && top.present("text_config") {
		text, err := decodeObject(path+" text_config", top["text_config"])
		if err != nil {
			return err
		}
		cfg = text
		info.Warnings = append(info.Warnings, "architecture read from config.json text_config (multimodal model)")
	}
	if top.present("architectures") {
		if err := json.Unmarshal(top["architectures"], &info.Architectures); err != nil {
			return fmt.Errorf("modelinfo: %s: \"architectures\" is not a list of strings: %w", path, err)
		}
	}
	info.ModelType = top.str("model_type")
	info.Dtype = top.str("dtype", "torch_dtype")
	if info.Dtype == "" {
		info.Dtype = cfg.str("dtype", "torch_dtype")
	}

	ints := []struct {
		dst  *int
		keys []string
	}{
		{&info.VocabSize, []string{"vocab_size", "padded_vocab_size"}},
		{&info.HiddenSize, []string{"hidden_size", "n_embd", "d_model"}},
		{&info.NumHiddenLayers, []string{"num_hidden_layers", "n_layer", "num_layers"}},
		{&info.NumAttentionHeads, []string{"num_attention_heads", "n_head", "num_heads"}},
		{&info.NumKeyValueHeads, []string{"num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num"}},
		{&info.HeadDim, []string{"head_dim"}},
		{&info.IntermediateSize, []string{"intermediate_size", "n_inner", "ffn_dim"}},
		{&info.MaxPositionEmbeddings, []string{"max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"}},
		{&info.NumExperts, []string{"num_local_experts", "num_experts", "n_routed_experts"}},
		{&info.NumExpertsPerToken, []string{"num_experts_per_tok", "moe_top_k"}},
		{&info.KVLoraRank, []string{"kv_lora_rank"}},
	}
	for _, f := range ints {
		v, _, err := cfg.int(path, f.keys...)
		if err != nil {
			return err
		}
		if v < 0 {
			return fmt.Errorf("modelinfo: %s: %q is negative (%d)", path, f.keys[0], v)
		}
		*f.dst = v
	}
	if info.VocabSize == 0 {
		return fmt.Errorf("modelinfo: %s: no vocab_size: the token ID range of the model is unknown", path)
	}
	if info.NumHiddenLayers == 0 || info.HiddenSize == 0 || info.NumAttentionHeads == 0 {
		info.Warnings = append(info.Warnings, "config.json lacks num_hidden_layers, hidden_size or num_attention_heads: KV-cache and roofline figures are unavailable")
	}
	if info.NumKeyValueHeads == 0 {
		info.NumKeyValueHeads = info.NumAttentionHeads
		if v, ok := cfg["multi_query"]; ok && string(v) == "true" { // Falcon-7B style
			info.NumKeyValueHeads = 1
		}
	}
	if info.HeadDim == 0 && info.NumAttentionHeads > 0 {
		if info.HiddenSize%info.NumAttentionHeads != 0 {
			info.Warnings = append(info.Warnings, fmt.Sprintf("hidden_size %d is not a multiple of num_attention_heads %d and head_dim is absent", info.HiddenSize, info.NumAttentionHeads))
		}
		info.HeadDim = info.HiddenSize / info.NumAttentionHeads
	}
	if info.SlidingWindow, err = cfg.optInt(path, "sliding_window"); err != nil {
		return err
	}
	if info.BOSTokenID, err = top.optInt(path, "bos_token_id"); err != nil {
		return err
	}
	if info.PadTokenID, err = top.optInt(path, "pad_token_id"); err != nil {
		return err
	}
	if info.EOSTokenIDs, err = top.intList(path, "eos_token_id"); err != nil {
		return err
	}
	if top.present("tie_word_embeddings") || cfg.present("tie_word_embeddings") {
		src := top
		if !top.present("tie_word_embeddings") {
			src = cfg
		}
		var tied bool
		if err := json.Unmarshal(src["tie_word_embeddings"], &tied); err != nil {
			return fmt.Errorf("modelinfo: %s: \"tie_word_embeddings\" is not a boolean", path)
		}
		info.TieWordEmbeddings = &tied
	}
	return nil
}

// parseGeneration reads generation_config.json.
func parseGeneration(path string, raw []byte) (*GenerationConfig, error) {
	o, err := decodeObject(path, raw)
	if err != nil {
		return nil, err
	}
	g := &GenerationConfig{}
	if g.BOSTokenID, err = o.optInt(path, "bos_token_id"); err != nil {
		return nil, err
	}
	if g.PadTokenID, err = o.optInt(path, "pad_token_id"); err != nil {
		return nil, err
	}
	if g.EOSTokenIDs, err = o.intList(path, "eos_token_id"); err != nil {
		return nil, err
	}
	if g.TopK, err = o.optInt(path, "top_k"); err != nil {
		return nil, err
	}
	if g.MaxNewTokens, err = o.optInt(path, "max_new_tokens"); err != nil {
		return nil, err
	}
	for key, dst := range map[string]**float64{"temperature": &g.Temperature, "top_p": &g.TopP, "repetition_penalty": &g.RepetitionPenalty} {
		if o.present(key) {
			var v float64
			if err := json.Unmarshal(o[key], &v); err != nil {
				return nil, fmt.Errorf("modelinfo: %s: %q is not a number", path, key)
			}
			*dst = &v
		}
	}
	if o.present("do_sample") {
		var v bool
		if err := json.Unmarshal(o["do_sample"], &v); err != nil {
			return nil, fmt.Errorf("modelinfo: %s: \"do_sample\" is not a boolean", path)
		}
		g.DoSample = &v
	}
	return g, nil
}

// addedToken is an entry of tokenizer.json added_tokens or
// tokenizer_config.json added_tokens_decoder.
type addedToken struct {
	ID      *int   `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

// tokenizerSpecialIDs returns the IDs of tokenizer.json's special added
// tokens. tokenizer.json can be tens of MB (the vocabulary), so it is
// streamed and reading stops at "added_tokens", which the tokenizers
// library writes before the model.
func tokenizerSpecialIDs(path string) ([]int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	fail := func(err error) ([]int, error) {
		return nil, fmt.Errorf("modelinfo: %s: invalid tokenizer JSON at byte %d: %w", path, dec.InputOffset(), err)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err == nil {
			err = fmt.Errorf("expected an object")
		}
		return fail(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fail(err)
		}
		key, _ := tok.(string)
		if key != "added_tokens" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fail(err)
			}
			continue
		}
		var added []addedToken
		if err := dec.Decode(&added); err != nil {
			return fail(err)
		}
		var ids []int
		for _, t := range added {
			if t.Special && t.ID != nil {
				ids = append(ids, *t.ID)
			}
		}
		return ids, nil
	}
	return nil, nil
}

// tokenizerConfigSpecialIDs returns the IDs of tokenizer_config.json's
// added_tokens_decoder entries marked special.
func tokenizerConfigSpecialIDs(path string) ([]int, error) {
	raw, err := readSmall(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	o, err := decodeObject(path, raw)
	if err != nil {
		return nil, err
	}
	if !o.present("added_tokens_decoder") {
		return nil, nil
	}
	var dec map[string]addedToken
	if err := json.Unmarshal(o["added_tokens_decoder"], &dec); err != nil {
		return nil, fmt.Errorf("modelinfo: %s: added_tokens_decoder: %w", path, err)
	}
	var ids []int
	for k, t := range dec {
		if !t.Special {
			continue
		}
		id, err := strconv.Atoi(k)
		if err != nil {
			return nil, fmt.Errorf("modelinfo: %s: added_tokens_decoder key %q is not a token ID", path, k)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
