package modelinfo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// spec describes a tensor to write; the writer computes offsets.
type spec struct {
	name  string
	dtype string
	shape []uint64
}

// writeST writes a valid safetensors file the way the reference writer
// does (header padded with spaces to a multiple of 8, zero data).
func writeST(t *testing.T, path string, meta map[string]string, tensors ...spec) {
	t.Helper()
	hdr := map[string]any{}
	if meta != nil {
		hdr["__metadata__"] = meta
	}
	var off uint64
	for _, s := range tensors {
		n := uint64(1)
		for _, d := range s.shape {
			n *= d
		}
		size := n * dtypeBits[s.dtype] / 8
		shape := s.shape
		if shape == nil {
			shape = []uint64{}
		}
		hdr[s.name] = map[string]any{"dtype": s.dtype, "shape": shape, "data_offsets": []uint64{off, off + size}}
		off += size
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	writeRaw(t, path, uint64(len(h)), h, int(off))
}

// writeRaw writes an arbitrary (possibly corrupt) file: a header length,
// header bytes and dataLen zero bytes.
func writeRaw(t *testing.T, path string, n uint64, hdr []byte, dataLen int) {
	t.Helper()
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, n)
	b.Write(hdr)
	b.Write(make([]byte, dataLen))
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadSafetensorsValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tensors []spec
		params  uint64
		bytes   uint64
	}{
		{"mixed dtypes and a scalar", []spec{{"a", "BF16", []uint64{4, 8}}, {"b", "F32", []uint64{8}}, {"c", "I8", nil}}, 32 + 8 + 1, 64 + 32 + 1},
		{"sub-byte dtypes", []spec{{"q", "F4", []uint64{3, 2}}, {"r", "F6_E2M3", []uint64{4}}}, 6 + 4, 3 + 3},
		{"zero-size dimension", []spec{{"e", "F16", []uint64{0, 5}}, {"f", "U8", []uint64{2}}}, 0 + 2, 0 + 2},
		{"no tensors", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "x.safetensors")
			writeST(t, p, map[string]string{"format": "pt"}, tt.tensors...)
			f, err := ReadSafetensors(p)
			if err != nil {
				t.Fatal(err)
			}
			var params, size uint64
			for _, ts := range f.Tensors {
				params += ts.Elements()
				size += ts.Bytes()
			}
			if params != tt.params || size != tt.bytes || len(f.Tensors) != len(tt.tensors) || f.Metadata["format"] != "pt" {
				t.Fatalf("params=%d bytes=%d tensors=%d meta=%v; want %d %d %d", params, size, len(f.Tensors), f.Metadata, tt.params, tt.bytes, len(tt.tensors))
			}
		})
	}
}

func TestReadSafetensorsCorrupt(t *testing.T) {
	t.Parallel()
	ok := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	tests := []struct {
		name    string
		write   func(t *testing.T, p string)
		wantErr string
	}{
		{"shorter than the length prefix", func(t *testing.T, p string) { os.WriteFile(p, []byte{1, 2, 3}, 0o644) }, "truncated: 3 bytes"},
		{"absurd header length", func(t *testing.T, p string) { writeRaw(t, p, 1<<40, []byte(ok), 8) }, "exceeds the 100000000-byte limit"},
		{"header length beyond the file", func(t *testing.T, p string) { writeRaw(t, p, 5000, []byte(ok), 8) }, "truncated: header length 5000, but only"},
		{"bad JSON", func(t *testing.T, p string) { writeRaw(t, p, 10, []byte(`{"w":{"dty`), 0) }, "not a valid JSON object"},
		{"JSON array", func(t *testing.T, p string) { writeRaw(t, p, 2, []byte(`[]`), 0) }, "not a valid JSON object"},
		{"invalid UTF-8", func(t *testing.T, p string) { writeRaw(t, p, 4, []byte{'{', 0xff, 0xfe, '}'}, 0) }, "not valid UTF-8"},
		{"unknown dtype", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,8]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, `tensor "w": unknown dtype "Q4_K"`},
		{"truncated data", func(t *testing.T, p string) { writeRaw(t, p, uint64(len(ok)), []byte(ok), 5) }, "reach byte 8 of the data section, but the file has only 5 data bytes"},
		{"offsets outside the file", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "truncated file, or offsets outside the file"},
		{"trailing data", func(t *testing.T, p string) { writeRaw(t, p, uint64(len(ok)), []byte(ok), 12) }, "4 bytes of data after the last tensor"},
		{"gap", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 12)
		}, `tensor "v" starts at data offset 8, expected 4`},
		{"overlap", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "gap or overlap"},
		{"shape disagrees with offsets", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"BF16","shape":[3],"data_offsets":[0,8]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "hold 8 bytes, but BF16 [3] needs 6"},
		{"end before begin", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 4)
		}, "end before they begin"},
		{"half a byte", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 2)
		}, "not a whole number of bytes"},
		{"missing data_offsets", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[2]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "missing data_offsets"},
		{"three offsets", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "has 3 numbers"},
		{"negative dimension", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "negative dimension"},
		{"overflowing shape", func(t *testing.T, p string) {
			h := `{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 8)
		}, "overflows"},
		{"non-string metadata", func(t *testing.T, p string) {
			h := `{"__metadata__":{"n":1}}`
			writeRaw(t, p, uint64(len(h)), []byte(h), 0)
		}, "__metadata__ is not a map of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "bad.safetensors")
			tt.write(t, p)
			_, err := ReadSafetensors(p)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err = %v\nwant one naming %s and containing %q", err, p, tt.wantErr)
			}
		})
	}
	if _, err := ReadSafetensors(filepath.Join(t.TempDir(), "missing.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// model writes a model directory from a map of file name → content
// (string, or func for safetensors).
func model(t *testing.T, files map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	for name, c := range files {
		p := filepath.Join(dir, name)
		switch c := c.(type) {
		case string:
			if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		case []spec:
			writeST(t, p, map[string]string{"format": "pt"}, c...)
		default:
			t.Fatalf("bad content type %T", c)
		}
	}
	return dir
}

// A miniature Llama: vocab 16, hidden 8, 2 layers, 4 heads, 2 KV heads.
const llamaConfig = `{
  "architectures": ["LlamaForCausalLM"],
  "model_type": "llama",
  "vocab_size": 16, "hidden_size": 8, "intermediate_size": 24,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
  "max_position_embeddings": 128, "torch_dtype": "bfloat16",
  "bos_token_id": 1, "eos_token_id": [2, 3], "pad_token_id": null,
  "tie_word_embeddings": false
}`

func llamaTensors(withHead bool) []spec {
	ts := []spec{
		{"model.embed_tokens.weight", "BF16", []uint64{16, 8}},
		{"model.norm.weight", "BF16", []uint64{8}},
	}
	for l := range 2 {
		p := fmt.Sprintf("model.layers.%d.", l)
		ts = append(ts,
			spec{p + "self_attn.q_proj.weight", "BF16", []uint64{8, 8}},
			spec{p + "self_attn.k_proj.weight", "BF16", []uint64{4, 8}},
			spec{p + "self_attn.v_proj.weight", "BF16", []uint64{4, 8}},
			spec{p + "self_attn.o_proj.weight", "BF16", []uint64{8, 8}},
			spec{p + "mlp.up_proj.weight", "BF16", []uint64{24, 8}},
			spec{p + "mlp.gate_proj.weight", "BF16", []uint64{24, 8}},
			spec{p + "mlp.down_proj.weight", "BF16", []uint64{8, 24}},
			spec{p + "input_layernorm.weight", "F32", []uint64{8}},
		)
	}
	if withHead {
		ts = append(ts, spec{"lm_head.weight", "BF16", []uint64{16, 8}})
	}
	return ts
}

// Per layer: 64+32+32+64+192+192+192 BF16 params and 8 F32.
const (
	llamaBF16Params = 16*8 + 8 + 2*(64+32+32+64+192+192+192)
	llamaF32Params  = 2 * 8
)

func TestLoadLlama(t *testing.T) {
	t.Parallel()
	dir := model(t, map[string]any{
		"config.json":            llamaConfig,
		"generation_config.json": `{"bos_token_id": 1, "eos_token_id": [2, 9], "temperature": 0.6, "top_p": 0.9, "do_sample": true}`,
		"tokenizer.json": `{"version": "1.0", "truncation": null, "padding": null,
			"added_tokens": [
				{"id": 0, "content": "<unk>", "special": true},
				{"id": 1, "content": "<s>", "special": true},
				{"id": 12, "content": "<tool>", "special": false}
			], "model": {"type": "BPE", "vocab": {"a": 4}}}`,
		"tokenizer_config.json": `{"added_tokens_decoder": {"14": {"content": "<|eot|>", "special": true}, "13": {"content": "x", "special": false}}, "chat_template": "{{ x }}"}`,
		"model.safetensors":     llamaTensors(true),
	})
	info, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	sum := sha256.Sum256(raw)
	checks := []struct {
		name      string
		got, want any
	}{
		{"architectures", info.Architectures, []string{"LlamaForCausalLM"}},
		{"model_type", info.ModelType, "llama"},
		{"vocab", info.VocabSize, 16},
		{"hidden", info.HiddenSize, 8},
		{"layers", info.NumHiddenLayers, 2},
		{"heads", info.NumAttentionHeads, 4},
		{"kv heads", info.NumKeyValueHeads, 2},
		{"head_dim default", info.HeadDim, 2},
		{"intermediate", info.IntermediateSize, 24},
		{"max positions", info.MaxPositionEmbeddings, 128},
		{"dtype from torch_dtype", info.Dtype, "bfloat16"},
		{"bos", deref(info.BOSTokenID), "1"},
		{"eos list", info.EOSTokenIDs, []int{2, 3}},
		{"pad null", deref(info.PadTokenID), "nil"},
		{"tied", deref(info.TieWordEmbeddings), "false"},
		{"special IDs", info.SpecialTokenIDs, []int{0, 1, 2, 3, 9, 14}},
		{"config hash", info.ConfigSHA256, hex.EncodeToString(sum[:])},
		{"generation eos", info.Generation.EOSTokenIDs, []int{2, 9}},
		{"generation temperature", deref(info.Generation.Temperature), "0.6"},
		{"generation do_sample", deref(info.Generation.DoSample), "true"},
		{"generation top_k absent", deref(info.Generation.TopK), "nil"},
		{"files", info.Weights.Files, []string{"model.safetensors"}},
		{"params", info.Weights.Params, uint64(llamaBF16Params + llamaF32Params + 16*8)},
		{"bytes", info.Weights.Bytes, uint64(2*(llamaBF16Params+16*8) + 4*llamaF32Params)},
		{"BF16 params", info.Weights.ByDtype["BF16"].Params, uint64(llamaBF16Params + 16*8)},
		{"F32 bytes", info.Weights.ByDtype["F32"].Bytes, uint64(4 * llamaF32Params)},
		{"embedding", info.Weights.EmbeddingTensor, "model.embed_tokens.weight"},
		{"embedding bytes", info.Weights.EmbeddingBytes, uint64(16 * 8 * 2)},
		{"lm head", info.Weights.LMHeadTensor, "lm_head.weight"},
		{"warnings", len(info.Warnings) + len(info.Weights.Warnings), 0},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, err := json.Marshal(info); err != nil {
		t.Fatalf("Info does not marshal: %v", err)
	}
}

// The hash is over the bytes as stored: whitespace changes it, by design.
func TestConfigHashIsOverRawBytes(t *testing.T) {
	t.Parallel()
	a, err := Load(model(t, map[string]any{"config.json": `{"vocab_size": 16}`}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(model(t, map[string]any{"config.json": `{"vocab_size":16}`}))
	if err != nil {
		t.Fatal(err)
	}
	if a.ConfigSHA256 == b.ConfigSHA256 {
		t.Fatal("different bytes, same hash")
	}
	want := sha256.Sum256([]byte(`{"vocab_size":16}`))
	if b.ConfigSHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("hash = %s", b.ConfigSHA256)
	}
}

func TestLoadVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]any
		check func(t *testing.T, info *Info)
	}{
		{
			name: "GPT-2 names, no tie key: tied inferred from weights",
			files: map[string]any{
				"config.json": `{"model_type": "gpt2", "vocab_size": 10, "n_embd": 4, "n_layer": 1, "n_head": 2, "n_positions": 32, "eos_token_id": 9}`,
				"model.safetensors": []spec{
					{"transformer.wte.weight", "F32", []uint64{10, 4}},
					{"transformer.wpe.weight", "F32", []uint64{32, 4}},
				},
			},
			check: func(t *testing.T, info *Info) {
				if info.HiddenSize != 4 || info.NumHiddenLayers != 1 || info.NumKeyValueHeads != 2 || info.HeadDim != 2 || info.MaxPositionEmbeddings != 32 {
					t.Errorf("aliases not read: %+v", info)
				}
				if deref(info.TieWordEmbeddings) != "true" || info.Weights.EmbeddingTensor != "transformer.wte.weight" || info.Weights.LMHeadTensor != "" {
					t.Errorf("tie=%s emb=%q head=%q", deref(info.TieWordEmbeddings), info.Weights.EmbeddingTensor, info.Weights.LMHeadTensor)
				}
				if !slices.Equal(info.EOSTokenIDs, []int{9}) || !slices.Equal(info.SpecialTokenIDs, []int{9}) {
					t.Errorf("eos=%v special=%v", info.EOSTokenIDs, info.SpecialTokenIDs)
				}
				if !hasWarning(info.Warnings, "inferred true from the weights") {
					t.Errorf("warnings = %v", info.Warnings)
				}
			},
		},
		{
			name: "new dtype key, explicit head_dim, null head_dim elsewhere",
			files: map[string]any{
				"config.json": `{"vocab_size": 8, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "head_dim": 4, "dtype": "float16", "torch_dtype": "float32"}`,
			},
			check: func(t *testing.T, info *Info) {
				if info.HeadDim != 4 || info.Dtype != "float16" {
					t.Errorf("head_dim=%d dtype=%q", info.HeadDim, info.Dtype)
				}
				if info.Weights != nil || !hasWarning(info.Warnings, "no safetensors weights") {
					t.Errorf("weights=%v warnings=%v", info.Weights, info.Warnings)
				}
				if info.TieWordEmbeddings != nil {
					t.Errorf("tie = %v, want unknown", *info.TieWordEmbeddings)
				}
			},
		},
		{
			name: "null head_dim falls back",
			files: map[string]any{
				"config.json": `{"vocab_size": 8, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "head_dim": null}`,
			},
			check: func(t *testing.T, info *Info) {
				if info.HeadDim != 8 {
					t.Errorf("head_dim=%d, want 8", info.HeadDim)
				}
			},
		},
		{
			name: "multimodal text_config",
			files: map[string]any{
				"config.json": `{"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "torch_dtype": "bfloat16",
					"text_config": {"vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 3, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "sliding_window": 512}}`,
			},
			check: func(t *testing.T, info *Info) {
				if info.VocabSize != 20 || info.NumHiddenLayers != 3 || info.NumKeyValueHeads != 1 || info.HeadDim != 16 || deref(info.SlidingWindow) != "512" || info.Dtype != "bfloat16" {
					t.Errorf("text_config not read: %+v", info)
				}
				if !hasWarning(info.Warnings, "text_config") {
					t.Errorf("warnings = %v", info.Warnings)
				}
			},
		},
		{
			name: "mixture of experts and MLA",
			files: map[string]any{
				"config.json": `{"vocab_size": 8, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "n_routed_experts": 64, "num_experts_per_tok": 6, "kv_lora_rank": 512}`,
			},
			check: func(t *testing.T, info *Info) {
				if info.NumExperts != 64 || info.NumExpertsPerToken != 6 || info.KVLoraRank != 512 {
					t.Errorf("experts=%d per token=%d kv_lora_rank=%d", info.NumExperts, info.NumExpertsPerToken, info.KVLoraRank)
				}
			},
		},
		{
			name: "integral floats accepted",
			files: map[string]any{
				"config.json": `{"vocab_size": 32000.0, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2}`,
			},
			check: func(t *testing.T, info *Info) {
				if info.VocabSize != 32000 {
					t.Errorf("vocab = %d", info.VocabSize)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, err := Load(model(t, tt.files))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, info)
		})
	}
}

func TestShardedWeights(t *testing.T) {
	t.Parallel()
	all := llamaTensors(false)
	shard1, shard2 := all[:8], all[8:]
	index := func(totalSize int, extra string) string {
		m := map[string]string{}
		for _, s := range shard1 {
			m[s.name] = "model-00001-of-00002.safetensors"
		}
		for _, s := range shard2 {
			m[s.name] = "model-00002-of-00002.safetensors"
		}
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": totalSize}, "weight_map": m})
		if extra != "" {
			b = []byte(strings.Replace(string(b), `"weight_map":{`, `"weight_map":{`+extra+`,`, 1))
		}
		return string(b)
	}
	total := 2*llamaBF16Params + 4*llamaF32Params
	files := func(idx string) map[string]any {
		return map[string]any{
			"config.json":                      strings.Replace(llamaConfig, `"tie_word_embeddings": false`, `"tie_word_embeddings": true`, 1),
			"model-00001-of-00002.safetensors": shard1,
			"model-00002-of-00002.safetensors": shard2,
			"model.safetensors.index.json":     idx,
		}
	}
	t.Run("consistent", func(t *testing.T) {
		t.Parallel()
		info, err := Load(model(t, files(index(total, ""))))
		if err != nil {
			t.Fatal(err)
		}
		w := info.Weights
		if len(w.Files) != 2 || w.Bytes != uint64(total) || w.Tensors != len(all) || len(w.Warnings) != 0 {
			t.Fatalf("weights = %+v", w)
		}
		if deref(info.TieWordEmbeddings) != "true" || w.EmbeddingBytes != 16*8*2 || w.LMHeadTensor != "" {
			t.Fatalf("tie=%s emb=%d head=%q", deref(info.TieWordEmbeddings), w.EmbeddingBytes, w.LMHeadTensor)
		}
	})
	t.Run("total_size mismatch warns", func(t *testing.T) {
		t.Parallel()
		info, err := Load(model(t, files(index(total+2, ""))))
		if err != nil {
			t.Fatal(err)
		}
		if !hasWarning(info.Weights.Warnings, fmt.Sprintf("total_size is %d, but the shards hold %d", total+2, total)) {
			t.Fatalf("warnings = %v", info.Weights.Warnings)
		}
	})
	errCases := []struct {
		name, extra, want string
	}{
		{"index names a missing tensor", `"model.ghost.weight":"model-00001-of-00002.safetensors"`, `"model.ghost.weight" (index says model-00001-of-00002.safetensors)`},
		{"index names a missing shard", `"model.ghost.weight":"model-00003-of-00002.safetensors"`, "model-00003-of-00002.safetensors: no such file"},
		{"shard outside the directory", `"model.ghost.weight":"../evil.safetensors"`, "not a file name in the model directory"},
	}
	for _, c := range errCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(model(t, files(index(total, c.extra))))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
	t.Run("tensor in two shards", func(t *testing.T) {
		t.Parallel()
		f := files(index(total, ""))
		f["model-00002-of-00002.safetensors"] = append(append([]spec(nil), shard2...), shard1[0])
		_, err := Load(model(t, f))
		if err == nil || !strings.Contains(err.Error(), "is in both") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	tests := []struct {
		name string
		dir  func(t *testing.T) string
		want []string
		is   error
	}{
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, []string{"does not exist"}, fs.ErrNotExist},
		{"not a directory", func(*testing.T) string { return notDir }, []string{"is not a directory", "expected a local Hugging Face model directory"}, nil},
		{"no config.json", func(t *testing.T) string { return model(t, map[string]any{"tokenizer.json": "{}"}) },
			[]string{"has no config.json", "expected a local Hugging Face model directory (config.json"}, fs.ErrNotExist},
		{"config not JSON", func(t *testing.T) string { return model(t, map[string]any{"config.json": `{"vocab_size": 1,,}`}) },
			[]string{"config.json: invalid JSON at byte"}, nil},
		{"config is a list", func(t *testing.T) string { return model(t, map[string]any{"config.json": `[1]`}) },
			[]string{"config.json"}, nil},
		{"no vocab_size", func(t *testing.T) string { return model(t, map[string]any{"config.json": `{"hidden_size": 8}`}) },
			[]string{"no vocab_size"}, nil},
		{"eos not a number", func(t *testing.T) string {
			return model(t, map[string]any{"config.json": `{"vocab_size": 8, "eos_token_id": "</s>"}`})
		}, []string{`"eos_token_id" is neither a number nor a list`}, nil},
		{"corrupt weights", func(t *testing.T) string {
			dir := model(t, map[string]any{"config.json": `{"vocab_size": 8}`})
			writeRaw(t, filepath.Join(dir, "model.safetensors"), 1<<50, nil, 0)
			return dir
		}, []string{"model.safetensors", "exceeds the"}, nil},
		{"bad tokenizer.json", func(t *testing.T) string {
			return model(t, map[string]any{"config.json": `{"vocab_size": 8}`, "tokenizer.json": `{"added_tokens": [`})
		}, []string{"tokenizer.json: invalid tokenizer JSON"}, nil},
		{"bad generation_config.json", func(t *testing.T) string {
			return model(t, map[string]any{"config.json": `{"vocab_size": 8}`, "generation_config.json": `{"temperature": "hot"}`})
		}, []string{`generation_config.json: "temperature" is not a number`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.dir(t))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestLoadWeightsFallbacks(t *testing.T) {
	t.Parallel()
	if _, err := LoadWeights(t.TempDir()); !errors.Is(err, ErrNoSafetensors) {
		t.Fatalf("empty dir: %v", err)
	}
	dir := model(t, map[string]any{
		"b.safetensors": []spec{{"x", "F16", []uint64{2}}},
		"a.safetensors": []spec{{"y", "F16", []uint64{3}}},
	})
	w, err := LoadWeights(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Files, []string{"a.safetensors", "b.safetensors"}) || w.Params != 5 || !hasWarning(w.Warnings, "counted every *.safetensors") {
		t.Fatalf("weights = %+v", w)
	}
}

func TestDtypeBits(t *testing.T) {
	t.Parallel()
	for dtype, want := range map[string]uint64{"BF16": 16, "F8_E4M3": 8, "F4": 4, "C64": 64, "BOOL": 8} {
		if got, ok := DtypeBits(dtype); !ok || got != want {
			t.Errorf("DtypeBits(%s) = %d, %v", dtype, got, ok)
		}
	}
	if _, ok := DtypeBits("Q4_0"); ok {
		t.Error("unknown dtype accepted")
	}
}

func deref[T any](p *T) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}
