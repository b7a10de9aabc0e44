package modelinfo

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNoSafetensors is returned (wrapped) by LoadWeights for a directory
// without .safetensors weights.
var ErrNoSafetensors = errors.New("no .safetensors files")

// DtypeTotal is the parameter count and bytes of one dtype.
type DtypeTotal struct {
	// Params is the number of stored elements.
	Params uint64 `json:"params"`
	// Bytes is their size.
	Bytes uint64 `json:"bytes"`
}

// Weights summarizes a checkpoint's safetensors files.
//
// Params counts stored elements. For plain checkpoints that is the exact
// parameter count (plus any buffers the checkpoint stores). For packed
// quantized formats (GPTQ/AWQ store eight int4 values per I32 element,
// plus scales and zeros) it is not the logical parameter count; Bytes is
// exact in every case, and Bytes is what a roofline needs.
type Weights struct {
	// Files are the weight files read, relative to the model directory.
	Files []string `json:"files"`
	// Tensors is the number of tensors.
	Tensors int `json:"tensors"`
	// Params is the total number of stored elements.
	Params uint64 `json:"params"`
	// Bytes is the total tensor data size.
	Bytes uint64 `json:"bytes"`
	// ByDtype splits Params and Bytes by safetensors dtype.
	ByDtype map[string]DtypeTotal `json:"by_dtype"`
	// EmbeddingTensor is the input embedding table, if identified.
	EmbeddingTensor string `json:"embedding_tensor,omitempty"`
	// EmbeddingShape is its shape ([rows, hidden]).
	EmbeddingShape []uint64 `json:"embedding_shape,omitempty"`
	// EmbeddingBytes is its size.
	EmbeddingBytes uint64 `json:"embedding_bytes,omitempty"`
	// LMHeadTensor is a separately stored output projection, if any.
	LMHeadTensor string `json:"lm_head_tensor,omitempty"`
	// LMHeadBytes is its size.
	LMHeadBytes uint64 `json:"lm_head_bytes,omitempty"`
	// Warnings are non-fatal oddities (index total_size mismatch, ...).
	Warnings []string `json:"warnings,omitempty"`

	tensors []Tensor // all tensors, for identification
}

// LoadWeights reads the safetensors headers of the model in dir. It uses,
// in order: model.safetensors.index.json (the shards its weight_map names),
// model.safetensors, or every *.safetensors file in dir (with a warning).
// It returns an error wrapping ErrNoSafetensors when there are none.
func LoadWeights(dir string) (*Weights, error) {
	indexPath := filepath.Join(dir, "model.safetensors.index.json")
	switch _, err := os.Stat(indexPath); {
	case err == nil:
		return loadIndexed(dir, indexPath)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	single := filepath.Join(dir, "model.safetensors")
	switch _, err := os.Stat(single); {
	case err == nil:
		return summarize(dir, []string{"model.safetensors"}, nil)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil {
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	if len(matches) == 0 {
		return nil, fmt.Errorf("modelinfo: %s: %w (looked for model.safetensors.index.json, model.safetensors, *.safetensors)", dir, ErrNoSafetensors)
	}
	var names []string
	for _, m := range matches {
		names = append(names, filepath.Base(m))
	}
	sort.Strings(names)
	w, err := summarize(dir, names, nil)
	if err != nil {
		return nil, err
	}
	w.Warnings = append(w.Warnings, fmt.Sprintf("no model.safetensors or index: counted every *.safetensors file (%s)", strings.Join(names, ", ")))
	return w, nil
}

// loadIndexed reads a sharded checkpoint through its index.
func loadIndexed(dir, indexPath string) (*Weights, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("modelinfo: %w", err)
	}
	var idx struct {
		Metadata struct {
			TotalSize *json.Number `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("modelinfo: %s: invalid index: %w", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("modelinfo: %s: empty or missing weight_map", indexPath)
	}
	seen := map[string]bool{}
	var files []string
	for tensor, file := range idx.WeightMap {
		// Shards must be plain files next to the index: a path that climbs
		// out of the model directory is a broken (or hostile) index.
		if file == "" || filepath.Base(file) != file || file == "." || file == ".." {
			return nil, fmt.Errorf("modelinfo: %s: tensor %q maps to %q, which is not a file name in the model directory", indexPath, tensor, file)
		}
		if !seen[file] {
			seen[file] = true
			files = append(files, file)
		}
	}
	sort.Strings(files)
	w, err := summarize(dir, files, idx.WeightMap)
	if err != nil {
		return nil, err
	}
	if ts := idx.Metadata.TotalSize; ts != nil {
		if v, err := ts.Float64(); err != nil || uint64(v) != w.Bytes {
			w.Warnings = append(w.Warnings, fmt.Sprintf("index metadata.total_size is %s, but the shards hold %d bytes of tensors", ts.String(), w.Bytes))
		}
	}
	return w, nil
}

// summarize reads the headers of files and totals them. With a weight map,
// every mapped tensor must be in the file the map names.
func summarize(dir string, files []string, weightMap map[string]string) (*Weights, error) {
	w := &Weights{Files: files, ByDtype: map[string]DtypeTotal{}}
	where := map[string]string{}
	for _, name := range files {
		sf, err := ReadSafetensors(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("modelinfo: %w", err)
		}
		for _, t := range sf.Tensors {
			if prev, dup := where[t.Name]; dup {
				return nil, fmt.Errorf("modelinfo: tensor %q is in both %s and %s", t.Name, prev, name)
			}
			where[t.Name] = name
			if weightMap != nil {
				if _, ok := weightMap[t.Name]; !ok {
					w.Warnings = append(w.Warnings, fmt.Sprintf("tensor %q in %s is not in the index weight_map (loaders read it anyway)", t.Name, name))
				}
			}
			e, by := t.Elements(), t.Bytes()
			w.Tensors++
			w.Params += e
			w.Bytes += by
			d := w.ByDtype[t.Dtype]
			d.Params += e
			d.Bytes += by
			w.ByDtype[t.Dtype] = d
			w.tensors = append(w.tensors, t)
		}
	}
	var missing []string
	for tensor, file := range weightMap {
		if where[tensor] != file {
			missing = append(missing, fmt.Sprintf("%q (index says %s)", tensor, file))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("and %d more", len(missing)-5))
		}
		return nil, fmt.Errorf("modelinfo: %s: index maps tensors to shards that do not hold them: %s", dir, strings.Join(missing, ", "))
	}
	return w, nil
}

// Name patterns of input embeddings and separate output projections across
// common architectures (Llama/Qwen/Mistral: embed_tokens, lm_head; GPT-2:
// wte; BLOOM/Falcon: word_embeddings; InternLM/Llama-orig: tok_embeddings,
// output; GPT-NeoX: embed_out).
var (
	embeddingSuffixes = []string{"embed_tokens.weight", "wte.weight", "word_embeddings.weight", "tok_embeddings.weight"}
	lmHeadSuffixes    = []string{"lm_head.weight", "embed_out.weight"}
	lmHeadExact       = []string{"output.weight"}
)

// identify finds the input embedding and a separate LM head among the
// tensors, using names first and, among several candidates, the shape
// [≥ vocab, hidden].
func (w *Weights) identify(vocab, hidden int) {
	pick := func(role string, match func(string) bool) (Tensor, bool) {
		var cands []Tensor
		for _, t := range w.tensors {
			if len(t.Shape) == 2 && match(t.Name) {
				cands = append(cands, t)
			}
		}
		if len(cands) > 1 {
			var fit []Tensor
			for _, t := range cands {
				if t.Shape[0] >= uint64(vocab) && t.Shape[1] == uint64(hidden) {
					fit = append(fit, t)
				}
			}
			cands = fit
		}
		switch len(cands) {
		case 1:
			return cands[0], true
		case 0:
			return Tensor{}, false
		}
		var names []string
		for _, t := range cands {
			names = append(names, t.Name)
		}
		w.Warnings = append(w.Warnings, fmt.Sprintf("several %s candidates (%s); none chosen", role, strings.Join(names, ", ")))
		return Tensor{}, false
	}
	if t, ok := pick("input embedding", func(n string) bool { return hasSuffix(n, embeddingSuffixes) }); ok {
		w.EmbeddingTensor, w.EmbeddingShape, w.EmbeddingBytes = t.Name, t.Shape, t.Bytes()
	}
	if t, ok := pick("LM head", func(n string) bool { return hasSuffix(n, lmHeadSuffixes) || contains(lmHeadExact, n) }); ok {
		w.LMHeadTensor, w.LMHeadBytes = t.Name, t.Bytes()
	}
}

func hasSuffix(name string, suffixes []string) bool {
	for _, s := range suffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
