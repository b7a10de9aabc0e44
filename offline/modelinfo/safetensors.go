package modelinfo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxSafetensorsHeader is the largest header accepted, the limit the
// reference implementation (huggingface/safetensors) enforces.
const MaxSafetensorsHeader = 100_000_000

// dtypeBits is the element size of every dtype the safetensors format
// defines (huggingface/safetensors Dtype::bitsize).
var dtypeBits = map[string]uint64{
	"BOOL": 8, "U8": 8, "I8": 8,
	"F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
	"I16": 16, "U16": 16, "F16": 16, "BF16": 16,
	"I32": 32, "U32": 32, "F32": 32,
	"I64": 64, "U64": 64, "F64": 64, "C64": 64,
	"F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}

// torchDtypes maps the torch dtype names (and their usual aliases) users and
// engines give to safetensors names: the one dtype table of the project.
var torchDtypes = map[string]string{
	"float32": "F32", "float": "F32", "fp32": "F32",
	"float16": "F16", "half": "F16", "fp16": "F16",
	"bfloat16": "BF16", "bf16": "BF16",
	"float64": "F64", "double": "F64",
	"float8_e4m3fn": "F8_E4M3", "fp8_e4m3": "F8_E4M3", "fp8": "F8_E4M3",
	"float8_e5m2": "F8_E5M2", "fp8_e5m2": "F8_E5M2",
	"int8": "I8", "uint8": "U8",
}

// SafetensorsDtype returns the safetensors name of a torch dtype name
// ("bfloat16", "torch.float16", "fp8_e4m3"), and false for an unknown one.
func SafetensorsDtype(torch string) (string, bool) {
	s, ok := torchDtypes[strings.TrimPrefix(strings.ToLower(strings.TrimSpace(torch)), "torch.")]
	return s, ok
}

// TorchDtypeBits returns the element size in bits of a torch dtype name.
func TorchDtypeBits(torch string) (uint64, bool) {
	s, ok := SafetensorsDtype(torch)
	if !ok {
		return 0, false
	}
	return DtypeBits(s)
}

// DtypeBits returns the element size in bits of a safetensors dtype name
// ("BF16" → 16, "F4" → 4), and false for an unknown name.
func DtypeBits(dtype string) (uint64, bool) {
	b, ok := dtypeBits[dtype]
	return b, ok
}

// Tensor is one entry of a safetensors header.
type Tensor struct {
	// Name is the tensor's key, e.g. "model.layers.0.mlp.up_proj.weight".
	Name string `json:"name"`
	// Dtype is the safetensors dtype, e.g. "BF16".
	Dtype string `json:"dtype"`
	// Shape is the tensor shape; empty for a scalar.
	Shape []uint64 `json:"shape"`
	// Begin is the first data offset, relative to the first byte after
	// the header.
	Begin uint64 `json:"begin"`
	// End is the data offset just past the tensor (Begin + its size).
	End uint64 `json:"end"`
}

// Elements returns the number of elements (1 for a scalar). Overflow was
// ruled out when the header was read.
func (t Tensor) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Bytes returns End - Begin.
func (t Tensor) Bytes() uint64 { return t.End - t.Begin }

// SafetensorsFile is the validated header of one .safetensors file.
type SafetensorsFile struct {
	// Path is the file that was read.
	Path string `json:"path"`
	// HeaderBytes is the length of the JSON header.
	HeaderBytes uint64 `json:"header_bytes"`
	// Metadata is the "__metadata__" map (nil if absent).
	Metadata map[string]string `json:"metadata,omitempty"`
	// Tensors are the entries in data order.
	Tensors []Tensor `json:"tensors"`
}

// rawTensor mirrors a header entry; pointers tell missing from zero.
type rawTensor struct {
	Dtype       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

// ReadSafetensors reads and validates the header of a .safetensors file
// without reading tensor data. The file is: an 8-byte little-endian header
// length N, N bytes of JSON mapping tensor names to {dtype, shape,
// data_offsets} (plus an optional "__metadata__" string map), then the data.
// It applies the reference implementation's checks, so a file it accepts is
// one the engines' loaders accept too: header length within limits and
// within the file, valid UTF-8 JSON, known dtypes, shape × dtype size equal
// to each tensor's byte range, byte ranges contiguous from 0 without gaps or
// overlaps, and the last one ending exactly at the end of the file. Every
// error names the file and the problem.
func ReadSafetensors(path string) (*SafetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	size := uint64(fi.Size())
	bad := func(format string, args ...any) error {
		return fmt.Errorf("safetensors %s: "+format, append([]any{path}, args...)...)
	}
	if size < 8 {
		return nil, bad("truncated: %d bytes, but a safetensors file starts with an 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, bad("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxSafetensorsHeader {
		return nil, bad("header length %d exceeds the %d-byte limit (not a safetensors file, or corrupt)", n, MaxSafetensorsHeader)
	}
	if n > size-8 {
		return nil, bad("truncated: header length %d, but only %d bytes follow it", n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, bad("reading %d-byte header: %w", n, err)
	}
	if !utf8.Valid(hdr) {
		return nil, bad("header is not valid UTF-8")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &entries); err != nil {
		return nil, bad("header is not a valid JSON object: %w", err)
	}
	out := &SafetensorsFile{Path: path, HeaderBytes: n}
	for name, raw := range entries {
		if name == "__metadata__" {
			if err := json.Unmarshal(raw, &out.Metadata); err != nil {
				return nil, bad("__metadata__ is not a map of strings: %w", err)
			}
			continue
		}
		t, err := parseTensor(name, raw)
		if err != nil {
			return nil, bad("%w", err)
		}
		out.Tensors = append(out.Tensors, t)
	}
	// File order, as the reference implementation validates it.
	sort.Slice(out.Tensors, func(i, j int) bool {
		a, b := out.Tensors[i], out.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	var next uint64
	for _, t := range out.Tensors {
		if t.Begin != next {
			return nil, bad("tensor %q starts at data offset %d, expected %d (gap or overlap between tensors)", t.Name, t.Begin, next)
		}
		next = t.End
	}
	if dataLen := size - 8 - n; next != dataLen {
		if next > dataLen {
			return nil, bad("data_offsets reach byte %d of the data section, but the file has only %d data bytes (truncated file, or offsets outside the file)", next, dataLen)
		}
		return nil, bad("%d bytes of data after the last tensor (the header does not describe the whole file)", dataLen-next)
	}
	return out, nil
}

// parseTensor validates one header entry.
func parseTensor(name string, raw json.RawMessage) (Tensor, error) {
	var rt rawTensor
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&rt); err != nil {
		return Tensor{}, fmt.Errorf("tensor %q: %w", name, err)
	}
	switch {
	case rt.Dtype == nil:
		return Tensor{}, fmt.Errorf("tensor %q: missing dtype", name)
	case rt.Shape == nil:
		return Tensor{}, fmt.Errorf("tensor %q: missing shape", name)
	case rt.DataOffsets == nil:
		return Tensor{}, fmt.Errorf("tensor %q: missing data_offsets", name)
	case len(*rt.DataOffsets) != 2:
		return Tensor{}, fmt.Errorf("tensor %q: data_offsets has %d numbers, want [begin, end]", name, len(*rt.DataOffsets))
	}
	t := Tensor{Name: name, Dtype: *rt.Dtype, Begin: (*rt.DataOffsets)[0], End: (*rt.DataOffsets)[1]}
	bitsPer, ok := dtypeBits[t.Dtype]
	if !ok {
		return Tensor{}, fmt.Errorf("tensor %q: unknown dtype %q", name, t.Dtype)
	}
	if t.End < t.Begin {
		return Tensor{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] end before they begin", name, t.Begin, t.End)
	}
	elems := uint64(1)
	for _, d := range *rt.Shape {
		if d < 0 {
			return Tensor{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, *rt.Shape)
		}
		t.Shape = append(t.Shape, uint64(d))
		hi, lo := bits.Mul64(elems, uint64(d))
		if hi != 0 {
			return Tensor{}, fmt.Errorf("tensor %q: shape %v overflows", name, *rt.Shape)
		}
		elems = lo
	}
	hi, nbits := bits.Mul64(elems, bitsPer)
	if hi != 0 {
		return Tensor{}, fmt.Errorf("tensor %q: shape %v of %s overflows", name, *rt.Shape, t.Dtype)
	}
	if nbits%8 != 0 {
		return Tensor{}, fmt.Errorf("tensor %q: %d elements of %s is not a whole number of bytes", name, elems, t.Dtype)
	}
	if want := nbits / 8; t.End-t.Begin != want {
		return Tensor{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] hold %d bytes, but %s %v needs %d", name, t.Begin, t.End, t.End-t.Begin, t.Dtype, t.Shape, want)
	}
	return t, nil
}
