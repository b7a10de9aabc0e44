package roofline

import (
	"math"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/offline/modelinfo"
)

// tiny is a hand-checkable model: 1000 weight bytes, of which a 10-row
// embedding table of 200 bytes (20 bytes a row) and a 200-byte LM head;
// 2 layers × 1 KV head × head_dim 4 × 2 bytes, so K+V of one token is
// 2·2·1·4·2 = 32 bytes.
func tiny() Model {
	return Model{WeightBytes: 1000, EmbeddingBytes: 200, EmbeddingRows: 10, LMHeadBytes: 200,
		Layers: 2, KVHeads: 1, HeadDim: 4, KVBytesPerElement: 2}
}

func TestDecodeBoundHandComputed(t *testing.T) {
	t.Parallel()
	type want struct {
		weights, kvTok, total, tokPerS float64
	}
	// Workload B=2, I=3, O=2 at 1000 B/s unless stated. Context token
	// counts summed over the steps: 2·3 + 2·1/2 = 7 per sequence, so the
	// KV traffic is 2 sequences × 32 B × 7 = 448 B.
	tests := []struct {
		name string
		m    func(Model) Model
		w    Workload
		bw   float64
		want want
	}{
		{
			name: "untied: LM head whole, embedding only B rows",
			m:    func(m Model) Model { return m },
			w:    Workload{Batch: 2, InputLen: 3, OutputLen: 2}, bw: 1000,
			// 1000 − 200 + 2·20 = 840 per step; 2·840 + 448 = 2128 B;
			// 2.128 s; 4 tokens / 2.128 s.
			want: want{840, 32, 2128, 4 / 2.128},
		},
		{
			name: "tied, head not stored: the matrix once whole plus B rows",
			m:    func(m Model) Model { m.TiedEmbeddings, m.LMHeadBytes, m.WeightBytes = true, 0, 800; return m },
			w:    Workload{Batch: 2, InputLen: 3, OutputLen: 2}, bw: 1000,
			// 800 + 40 = 840 per step (same traffic as the untied model).
			want: want{840, 32, 2128, 4 / 2.128},
		},
		{
			name: "tied with a stored duplicate head: counted once",
			m:    func(m Model) Model { m.TiedEmbeddings = true; return m },
			w:    Workload{Batch: 2, InputLen: 3, OutputLen: 2}, bw: 1000,
			// 1000 + 40 − 200 = 840.
			want: want{840, 32, 2128, 4 / 2.128},
		},
		{
			name: "tied, no head, all 1000 bytes are real",
			m:    func(m Model) Model { m.TiedEmbeddings, m.LMHeadBytes = true, 0; return m },
			w:    Workload{Batch: 2, InputLen: 3, OutputLen: 2}, bw: 1000,
			// 1000 + 40 = 1040; 2080 + 448 = 2528.
			want: want{1040, 32, 2528, 4 / 2.528},
		},
		{
			name: "embedding gather capped at the table",
			m:    func(m Model) Model { return m },
			w:    Workload{Batch: 20, InputLen: 0, OutputLen: 1}, bw: 1000,
			// 1000 + min(20·20, 200) − 200 = 1000; no KV at context 0.
			want: want{1000, 32, 1000, 20 / 1.0},
		},
		{
			name: "tensor parallel beyond the KV heads replicates them",
			m:    func(m Model) Model { return m },
			w:    Workload{Batch: 2, InputLen: 3, OutputLen: 2, TensorParallel: 4}, bw: 4000,
			// 4 GPUs each hold the one KV head: 128 B/token;
			// 1680 + 2·128·7 = 3472 B at 4000 B/s = 0.868 s.
			want: want{840, 128, 3472, 4 / 0.868},
		},
		{
			name: "single stream, one token: bandwidth / (weights + prompt KV)",
			m:    func(m Model) Model { return m },
			w:    Workload{Batch: 1, InputLen: 5, OutputLen: 1}, bw: 1000,
			// 1000 − 200 + 20 = 820; + 32·5 = 980 B.
			want: want{820, 32, 980, 1000.0 / 980},
		},
		{
			// Llama-3.1-8B BF16 on one H100 SXM (3.35 TB/s): 16,060,522,496
			// weight bytes, embedding and LM head 128256×4096×2 =
			// 1,050,673,152 B each, 32 layers × 8 KV heads × 128 × 2 B →
			// 131,072 B of KV per token. B=64, I=1024, O=128:
			// weights/step = 16,060,522,496 − 1,050,673,152 + 64·8,192
			//              = 15,010,373,632;
			// contexts = 128·1024 + 128·127/2 = 139,200 per sequence;
			// KV = 64 · 131,072 · 139,200 = 1,167,694,233,600;
			// total = 128 · 15,010,373,632 + KV = 3,089,022,058,496 B;
			// 0.92210 s; 8,192 tokens → 8,884.1 tok/s.
			name: "Llama-3.1-8B on H100, batch 64",
			m: func(Model) Model {
				return Model{WeightBytes: 16_060_522_496, EmbeddingBytes: 1_050_673_152, EmbeddingRows: 128256,
					LMHeadBytes: 1_050_673_152, Layers: 32, KVHeads: 8, HeadDim: 128, KVBytesPerElement: 2}
			},
			w: Workload{Batch: 64, InputLen: 1024, OutputLen: 128}, bw: 3.35e12,
			want: want{15_010_373_632, 131_072, 3_089_022_058_496, 8884.106192935928},
		},
		{
			// Same model, one stream, one token from an empty context:
			// 3.35e12 / 15,009,857,536 = 223.19 tok/s.
			name: "Llama-3.1-8B on H100, single token",
			m: func(Model) Model {
				return Model{WeightBytes: 16_060_522_496, EmbeddingBytes: 1_050_673_152, EmbeddingRows: 128256,
					LMHeadBytes: 1_050_673_152, Layers: 32, KVHeads: 8, HeadDim: 128, KVBytesPerElement: 2}
			},
			w: Workload{Batch: 1, InputLen: 0, OutputLen: 1}, bw: 3.35e12,
			want: want{15_009_857_536, 131_072, 15_009_857_536, 223.18666196299867},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := DecodeBound(tt.m(tiny()), tt.w, tt.bw)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"WeightBytesPerStep", b.WeightBytesPerStep, tt.want.weights},
				{"KVBytesPerToken", b.KVBytesPerToken, tt.want.kvTok},
				{"TotalBytes", b.TotalBytes, tt.want.total},
				{"MeanBytesPerStep", b.MeanBytesPerStep, tt.want.total / float64(tt.w.OutputLen)},
				{"MinSeconds", b.MinSeconds, tt.want.total / tt.bw},
				{"MaxOutputTokensPerS", b.MaxOutputTokensPerS, tt.want.tokPerS},
			} {
				if !approx(c.got, c.want) {
					t.Errorf("%s = %.10g, want %.10g", c.name, c.got, c.want)
				}
			}
			if b.Steps != tt.w.OutputLen {
				t.Errorf("Steps = %d", b.Steps)
			}
		})
	}
}

// The closed form must equal the step-by-step sum it replaces.
func TestClosedFormMatchesStepSum(t *testing.T) {
	t.Parallel()
	m := tiny()
	for _, w := range []Workload{{1, 0, 1, 0}, {3, 7, 5, 0}, {8, 100, 33, 2}, {64, 1, 300, 8}} {
		b, err := DecodeBound(m, w, 1e6)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for j := range w.OutputLen {
			sum += b.WeightBytesPerStep + float64(w.Batch)*b.KVBytesPerToken*float64(w.InputLen+j)
		}
		if !approx(sum, b.TotalBytes) {
			t.Errorf("%+v: step sum %v, closed form %v", w, sum, b.TotalBytes)
		}
		// And the bound is the time-weighted average, never above the
		// mean of per-step bounds.
		var meanOfBounds float64
		for j := range w.OutputLen {
			step := b.WeightBytesPerStep + float64(w.Batch)*b.KVBytesPerToken*float64(w.InputLen+j)
			meanOfBounds += float64(w.Batch) * 1e6 / step / float64(w.OutputLen)
		}
		if b.MaxOutputTokensPerS > meanOfBounds*(1+1e-12) {
			t.Errorf("%+v: bound %v above the mean of step bounds %v", w, b.MaxOutputTokensPerS, meanOfBounds)
		}
	}
}

func TestMBU(t *testing.T) {
	t.Parallel()
	b, err := DecodeBound(tiny(), Workload{Batch: 2, InputLen: 3, OutputLen: 2}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		achieved, want float64
	}{
		{4 / 2.128, 1},
		{4 / 4.256, 0.5}, // the same 4 tokens in twice the minimum time
		{0, 0},
	}
	for _, tt := range tests {
		got, err := b.MBU(tt.achieved)
		if err != nil || !approx(got, tt.want) {
			t.Errorf("MBU(%v) = %v, %v; want %v", tt.achieved, got, err, tt.want)
		}
	}
	if _, err := b.MBU(-1); err == nil {
		t.Error("negative throughput accepted")
	}
	if _, err := (Bound{}).MBU(1); err == nil {
		t.Error("empty bound accepted")
	}
}

func TestDecodeBoundRejectsBadInput(t *testing.T) {
	t.Parallel()
	ok := Workload{Batch: 1, InputLen: 1, OutputLen: 1}
	tests := []struct {
		name string
		m    func(Model) Model
		w    Workload
		bw   float64
		want string
	}{
		{"batch", func(m Model) Model { return m }, Workload{Batch: 0, OutputLen: 1}, 1, "batch 0"},
		{"output", func(m Model) Model { return m }, Workload{Batch: 1, OutputLen: 0}, 1, "output length 0"},
		{"input", func(m Model) Model { return m }, Workload{Batch: 1, InputLen: -1, OutputLen: 1}, 1, "input length -1"},
		{"bandwidth", func(m Model) Model { return m }, ok, 0, "bandwidth 0"},
		{"NaN bandwidth", func(m Model) Model { return m }, ok, math.NaN(), "bandwidth NaN"},
		{"weights", func(m Model) Model { m.WeightBytes = 0; return m }, ok, 1, "weight bytes 0"},
		{"kv shape", func(m Model) Model { m.KVHeads = 0; return m }, ok, 1, "kv_heads=0"},
		{"kv bytes", func(m Model) Model { m.KVBytesPerElement = 0; return m }, ok, 1, "KV element size 0"},
		{"embedding too big", func(m Model) Model { m.EmbeddingBytes = 900; return m }, ok, 1, "larger than all weights"},
		{"rows", func(m Model) Model { m.EmbeddingRows = 0; return m }, ok, 1, "embedding rows 0"},
	}
	for _, tt := range tests {
		if _, err := DecodeBound(tt.m(tiny()), tt.w, tt.bw); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	m := tiny()
	m.EmbeddingBytes, m.EmbeddingRows = 0, 0
	b, err := DecodeBound(m, ok, 1)
	if err != nil || b.WeightBytesPerStep != 1000 || len(b.Caveats) != 1 || !strings.Contains(b.Caveats[0], "embedding not identified") {
		t.Errorf("unidentified embedding: %+v, %v", b, err)
	}
}

func TestKVBytesPerElement(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kv, model string
		want      float64
		err       bool
	}{
		{"auto", "bfloat16", 2, false},
		{"", "float16", 2, false},
		{"auto", "float32", 4, false},
		{"fp8", "bfloat16", 1, false},
		{"fp8_e4m3", "bfloat16", 1, false},
		{"fp8_e5m2", "", 1, false},
		{"torch.bfloat16", "", 2, false},
		{"auto", "", 0, true},
		{"auto", "auto", 0, true},
		{"q4_0", "bfloat16", 0, true},
	}
	for _, tt := range tests {
		got, err := KVBytesPerElement(tt.kv, tt.model)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("KVBytesPerElement(%q, %q) = %v, %v", tt.kv, tt.model, got, err)
		}
	}
}

func TestFromModelInfo(t *testing.T) {
	t.Parallel()
	tied := true
	win := 4096
	info := &modelinfo.Info{
		NumHiddenLayers: 2, NumKeyValueHeads: 1, HeadDim: 4, TieWordEmbeddings: &tied,
		NumExperts: 8, NumExpertsPerToken: 2, SlidingWindow: &win,
		Weights: &modelinfo.Weights{Bytes: 1000, EmbeddingBytes: 200, EmbeddingShape: []uint64{10, 10}},
	}
	m, err := FromModelInfo(info, 2)
	if err != nil {
		t.Fatal(err)
	}
	if m.WeightBytes != 1000 || m.EmbeddingRows != 10 || !m.TiedEmbeddings || m.Layers != 2 || len(m.Caveats) != 2 {
		t.Fatalf("model = %+v", m)
	}
	b, err := DecodeBound(m, Workload{Batch: 1, InputLen: 0, OutputLen: 1}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Caveats) != 2 || !strings.Contains(b.Caveats[0], "mixture of experts") || !strings.Contains(b.Caveats[1], "sliding-window") {
		t.Errorf("caveats = %v", b.Caveats)
	}
	if _, err := FromModelInfo(&modelinfo.Info{NumHiddenLayers: 2, NumKeyValueHeads: 1, HeadDim: 4}, 2); err == nil {
		t.Error("model without weights accepted")
	}
	info.HeadDim = 0
	if _, err := FromModelInfo(info, 2); err == nil {
		t.Error("model without attention shape accepted")
	}
	info.HeadDim, info.TieWordEmbeddings = 4, nil
	if m, _ := FromModelInfo(info, 2); !strings.Contains(strings.Join(m.Caveats, "|"), "tied is unknown") {
		t.Errorf("unknown tying not flagged: %v", m.Caveats)
	}
}

func approx(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
