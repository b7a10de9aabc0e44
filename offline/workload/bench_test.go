package workload

import (
	"bytes"
	"path/filepath"
	"testing"
)

// bigSpec is a large but realistic sweep: batch sizes 1..256 doubling, 3
// reps and 1 warm-up each, 1024-token prompts (2044 prompts, 2.09M tokens).
var bigSpec = Spec{
	Seed: 1, InputLen: 1024, OutputLen: 128, VocabSize: 128256, Exclude: seq(128000, 128256),
	BatchSizes: []int{1, 2, 4, 8, 16, 32, 64, 128, 256}, Reps: 3, Warmup: 1,
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(bigSpec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(2044*1024), "tokens/op")
}

func BenchmarkHash(b *testing.B) {
	w, _ := Generate(bigSpec)
	b.SetBytes(int64(4 * 2044 * 1024))
	for b.Loop() {
		Hash(w.Prompts)
	}
}

func BenchmarkEncode(b *testing.B) {
	w, _ := Generate(bigSpec)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := w.Encode(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "file-bytes")
}

func BenchmarkDecode(b *testing.B) {
	w, _ := Generate(bigSpec)
	var buf bytes.Buffer
	if err := w.Encode(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateWriteRead is what a run pays: generate once, write the
// file, and read it back (each worker reads it once).
func BenchmarkGenerateWriteRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "workload.json")
	for b.Loop() {
		w, err := Generate(bigSpec)
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Write(path); err != nil {
			b.Fatal(err)
		}
		if _, err := Read(path); err != nil {
			b.Fatal(err)
		}
	}
}
