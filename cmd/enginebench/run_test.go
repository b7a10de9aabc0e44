package main

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
	"github.com/enginebench/enginebench/pyhost/pyhosttest"
)

// The end-to-end tests drive `enginebench run` on the fake vllm and sglang
// packages (pyhost/testdata/fakeengines), which keep the real API surface and
// can be told to misbehave through ENGINEBENCH_FAKE.

func runArgs(out string, extra ...string) []string {
	model, _ := filepath.Abs("testdata/model")
	args := []string{"run", "--engine", "vllm", "--engine", "sglang", "--model", model,
		"--batch-sizes", "1,2,4", "--input-len", "12", "--output-len", "6", "--reps", "2", "--warmup", "1",
		"--seed", "3", "--out", out, "--batch-timeout", "60s", "--load-timeout", "60s"}
	return append(args, extra...)
}

func fakeEnv(control string) []string {
	return []string{"ENGINEBENCH_FAKE=" + control}
}

func readRows(t *testing.T, out string) []results.Row {
	t.Helper()
	rows, skipped, err := results.Read(filepath.Join(out, "results.jsonl"))
	if err != nil || skipped != 0 {
		t.Fatalf("reading results: %v (%d skipped)", err, skipped)
	}
	return rows
}

func readManifest(t *testing.T, out string) *results.Manifest {
	t.Helper()
	m, err := results.ReadManifest(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func rowsOf(rows []results.Row, engine string) []results.Row {
	var out []results.Row
	for _, r := range rows {
		if r.Engine == engine {
			out = append(out, r)
		}
	}
	return out
}

// recorded reads the prompts a fake engine received, in order.
func recorded(t *testing.T, path string) [][]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var prompts [][]int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var batch [][]int
		if err := json.Unmarshal([]byte(line), &batch); err != nil {
			t.Fatalf("record line %q: %v", line, err)
		}
		prompts = append(prompts, batch...)
	}
	return prompts
}

func TestRunTwoEngines(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	rec := t.TempDir()
	control := `{"vllm": {"sleep_s": 0.01, "record": "` + rec + `/vllm.jsonl"}, "sglang": {"sleep_s": 0.02, "record": "` + rec + `/sglang.jsonl"}}`
	r := enginebench(t, fakeEnv(control), runArgs(out)...)
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	rows := readRows(t, out)
	if len(rows) != 18 {
		t.Fatalf("%d rows, want 2 engines × 3 batch sizes × (1 warm-up + 2 reps) = 18", len(rows))
	}
	wl, err := workload.Read(filepath.Join(out, "workload.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.WorkloadSHA256 != wl.SHA256 || len(row.Flags) != 0 || row.Error != "" {
			t.Errorf("row %s bs=%d rep=%d: hash %s flags %v error %q", row.Engine, row.BatchSize, row.Rep, row.WorkloadSHA256, row.Flags, row.Error)
		}
		if row.OutputTokens != row.BatchSize*6 || row.PromptTokens != row.BatchSize*12 || row.Requests != row.BatchSize {
			t.Errorf("row %+v: token counts", row)
		}
		if row.EngineS == nil || *row.EngineS <= 0 || row.WallS < *row.EngineS {
			t.Errorf("row %s bs=%d: wall %v, engine %v: the Go wall time must contain the adapter's", row.Engine, row.BatchSize, row.WallS, row.EngineS)
		}
		// Both engines report each request's latency (SGLang with the
		// enable_metrics the tool sets).
		for _, q := range row.Detail {
			if l := q.Latency; l == nil || l.TTFTS == nil || l.E2ES == nil || l.TPOTS == nil || *l.E2ES < *l.TTFTS {
				t.Errorf("row %s bs=%d request %d: latency %+v", row.Engine, row.BatchSize, q.Index, q.Latency)
			}
		}
	}
	// Both engines got byte-identical prompts, each used once.
	v, s := recorded(t, rec+"/vllm.jsonl"), recorded(t, rec+"/sglang.jsonl")
	if !slices.EqualFunc(v, s, slices.Equal) {
		t.Error("vllm and sglang received different prompts")
	}
	want := make([][]int, len(wl.Prompts))
	for i, p := range wl.Prompts {
		for _, id := range p {
			want[i] = append(want[i], int(id))
		}
	}
	if !slices.EqualFunc(v, want, slices.Equal) {
		t.Error("the engines did not receive the workload's prompts in order")
	}
	seen := map[string]bool{}
	for _, p := range v {
		k, _ := json.Marshal(p)
		if seen[string(k)] {
			t.Errorf("prompt %v reused", p)
		}
		seen[string(k)] = true
	}
	m := readManifest(t, out)
	if m.Workload.SHA256 != wl.SHA256 || len(m.Engines) != 2 {
		t.Fatalf("manifest workload %s, %d engines", m.Workload.SHA256, len(m.Engines))
	}
	for _, e := range m.Engines {
		if e.Status != results.EngineDone || e.LoadS == nil || e.KVCacheTokens == nil || e.Versions[e.Name] == "" || len(e.EffectiveConfig) == 0 {
			t.Errorf("manifest engine %s: %+v", e.Name, e)
		}
	}
	if m.Engines[0].ConstructorArgs["enable_prefix_caching"] != false || m.Engines[1].ConstructorArgs["disable_radix_cache"] != true {
		t.Errorf("prefix caching must be off on both engines: %v / %v", m.Engines[0].ConstructorArgs, m.Engines[1].ConstructorArgs)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if string(report) != r.stdout {
		t.Error("report.txt differs from what was printed")
	}
	for _, want := range []string{"| vllm ", "| sglang ", "sglang ÷ vllm", "no GPU metrics:", wl.SHA256[:16]} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	// The report re-renders from disk, as the run wrote it, and as CSV.
	again := enginebench(t, nil, "report", out)
	if again.code != 0 || again.stdout != r.stdout {
		t.Errorf("enginebench report: exit %d, differs from the run's report: %v", again.code, again.stdout != r.stdout)
	}
	for _, f := range []string{"summary.json", "throughput.svg", "throughput.pdf"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	csvOut := enginebench(t, nil, "report", "--format", "csv", out)
	saved, _ := os.ReadFile(filepath.Join(out, "summary.csv"))
	if csvOut.code != 0 || csvOut.stdout != string(saved) || strings.Count(csvOut.stdout, "\n") != 7 {
		t.Errorf("report --format csv: exit %d\n%s", csvOut.code, csvOut.stdout)
	}
}

// vLLM prefills a batch whose prompts hold more tokens than its step budget
// (max_num_batched_tokens) over several steps: the manifest and the report
// say which batches, and how to prefill them in one; at a budget that holds
// every batch they say nothing.
func TestRunVLLMMultiStepPrefillNote(t *testing.T) {
	const note = "prefill over several steps: batches of more than 2 prompts of 12 tokens exceed max_num_batched_tokens=24"
	tests := []struct {
		name, engineArgs string
		want             bool
	}{
		{"the largest batch over the budget", "max_num_batched_tokens=24", true},
		// Without chunking vLLM still takes whole prompts up to the budget a step.
		{"over the budget, chunked prefill off", "max_num_batched_tokens=24, enable_chunked_prefill=False", true},
		{"every batch within it", "max_num_batched_tokens=48", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			r := enginebench(t, nil, runArgs(out, "--engine-arg", "vllm: "+tt.engineArgs)...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			m := readManifest(t, out)
			if len(m.Engines) != 2 || m.Engines[0].Name != "vllm" {
				t.Fatalf("engines %+v, want vllm first", m.Engines)
			}
			notes := m.Engines[0].Notes
			inManifest := slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, note) })
			if inManifest != tt.want || strings.Contains(r.stdout, note) != tt.want {
				t.Errorf("note %q: in the manifest %v, in the report %v, want %v\nnotes: %q\n%s",
					note, inManifest, strings.Contains(r.stdout, note), tt.want, notes, r.stdout)
			}
			if tt.want && !strings.Contains(r.stdout, "max_num_batched_tokens=48' prefills the largest batch in one") {
				t.Errorf("the note does not say how to prefill the largest batch in one step:\n%s", r.stdout)
			}
		})
	}
}

func TestRunFlagsEarlyStopsAndCacheHits(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	// Call 3 is bs=2's first measured rep (calls: bs1 warm-up, bs1 rep0, bs1
	// rep1, bs2 warm-up, bs2 rep0, ...).
	control := `{"sglang": {"short": {"call": 5, "requests": 1, "by": 2}, "cached": {"call": 6, "tokens": 4}}}`
	r := enginebench(t, fakeEnv(control), runArgs(out)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var short, cached *results.Row
	for _, row := range rowsOf(readRows(t, out), "sglang") {
		row := row
		switch {
		case row.BatchSize == 2 && row.Rep == 0 && !row.Warmup:
			short = &row
		case row.BatchSize == 2 && row.Rep == 1 && !row.Warmup:
			cached = &row
		}
	}
	if short == nil || !slices.Contains(short.Flags, results.FlagShortOutput) || short.OutputTokens != 2*6-2 || short.ShortRequests != 1 || short.ExpectedOutputTokens != 12 {
		t.Errorf("short row: %+v", short)
	}
	if cached == nil || !slices.Contains(cached.Flags, results.FlagCachedTokens) || cached.CachedTokens != 2*4 {
		t.Errorf("cached row: %+v", cached)
	}
	if !strings.Contains(r.stdout, "short_output in 1") || !strings.Contains(r.stdout, "cached_tokens in 1") {
		t.Errorf("the table does not show the flags:\n%s", r.stdout)
	}
}

func TestRunCrashedWorker(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	r := enginebench(t, fakeEnv(`{"vllm": {"crash": {"call": 4}}}`), runArgs(out)...)
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitFailure, r.stderr)
	}
	for _, want := range []string{"engine vllm: killed by signal 9", "last lines of", "FAKE", "engine(s) failed: vllm"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	rows := readRows(t, out)
	v := rowsOf(rows, "vllm")
	if len(v) != 4 || v[3].Error == "" || !slices.Contains(v[3].Flags, results.FlagError) {
		t.Errorf("vllm rows: 3 measured before the crash and one failed, got %d: %+v", len(v), v)
	}
	if s := rowsOf(rows, "sglang"); len(s) != 9 {
		t.Errorf("sglang ran %d cells after vllm crashed, want all 9", len(s))
	}
	m := readManifest(t, out)
	if m.Engines[0].Status != results.EngineFailed || !strings.Contains(m.Engines[0].Error, "killed by signal 9") || m.Engines[1].Status != results.EngineDone {
		t.Errorf("manifest statuses: %s %q, %s", m.Engines[0].Status, m.Engines[0].Error, m.Engines[1].Status)
	}
	if !strings.Contains(r.stdout, "vllm: failed") {
		t.Errorf("the report does not say vllm failed:\n%s", r.stdout)
	}
}

func TestRunHungWorker(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	args := runArgs(out, "--batch-timeout", "3s")
	start := time.Now()
	r := enginebench(t, fakeEnv(`{"sglang": {"hang": {"call": 2}}}`), args...)
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitFailure, r.stderr)
	}
	if e := time.Since(start); e > 60*time.Second {
		t.Errorf("took %v", e)
	}
	if !strings.Contains(r.stderr, "engine sglang: hung: no answer within 3s") || !strings.Contains(r.stderr, "hanging") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	rows := readRows(t, out)
	if v := rowsOf(rows, "vllm"); len(v) != 9 {
		t.Errorf("vllm rows: %d, want 9", len(v))
	}
	if s := rowsOf(rows, "sglang"); len(s) != 2 || s[1].Error == "" {
		t.Errorf("sglang rows: %+v", s)
	}
}

func TestRunResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	r := enginebench(t, fakeEnv(`{"vllm": {"crash": {"call": 5}}}`), runArgs(out)...)
	if r.code != exitFailure {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	r = enginebench(t, nil, runArgs(out)...)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--resume") {
		t.Fatalf("rerun without --resume: exit %d: %s", r.code, r.stderr)
	}
	r = enginebench(t, nil, runArgs(out, "--resume")...)
	if r.code != 0 {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	clean := map[results.Key]int{}
	var resumed []results.Row
	rows := readRows(t, out)
	for i, row := range rows {
		if row.Error == "" {
			clean[row.Key()]++
		}
		if row.Engine == "vllm" && row.Error != "" {
			resumed = rowsOf(rows[i+1:], "vllm")
		}
	}
	if len(clean) != 18 {
		t.Errorf("%d cells measured after resume, want 18", len(clean))
	}
	// The resumed engine starts in a fresh process: the batch size it
	// resumes in is warmed up again before its first measured cell.
	for k, n := range clean {
		want := 1
		if k == (results.Key{Engine: "vllm", BatchSize: 2, Rep: 0, Warmup: true}) {
			want = 2
		}
		if n != want {
			t.Errorf("cell %+v measured %d times, want %d", k, n, want)
		}
	}
	if len(resumed) == 0 || resumed[0].Key() != (results.Key{Engine: "vllm", BatchSize: 2, Rep: 0, Warmup: true}) {
		t.Errorf("the resumed engine's first row is not the warm-up of its batch size (%d rows after the crash)", len(resumed))
	}
	if strings.Contains(r.stdout, "failed") || !strings.Contains(r.stdout, "vllm: done") {
		t.Errorf("report after resume:\n%s", r.stdout)
	}
	m := readManifest(t, out)
	if len(m.Resumed) != 1 || !slices.Contains(m.Resumed[0].CommandLine, "--resume") || slices.Contains(m.CommandLine, "--resume") {
		t.Errorf("manifest command lines: first %q, resumed %+v", m.CommandLine, m.Resumed)
	}
	// Resuming with fewer engines keeps the others' records and rows.
	args := runArgs(out, "--resume")
	only := append([]string{"run", "--engine", "sglang"}, args[5:]...)
	r = enginebench(t, nil, only...)
	if r.code != 0 {
		t.Fatalf("resume with sglang alone: exit %d\n%s", r.code, r.stderr)
	}
	m = readManifest(t, out)
	if len(m.Engines) != 2 || m.Engines[0].Name != "vllm" || m.Engines[0].Status != results.EngineDone {
		t.Errorf("engines after a resume with fewer: %+v", m.Engines)
	}
	if n := len(rowsOf(readRows(t, out), "vllm")); n < 9 || !strings.Contains(r.stdout, "vllm") {
		t.Errorf("vllm's rows (%d) or report lost after a resume without it:\n%s", n, r.stdout)
	}
}

// Every setting that changes what is measured must match, or --resume is
// refused, naming what changed, before anything is measured.
func TestRunResumeRefusesChangedSettings(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if r := enginebench(t, nil, runArgs(out)...); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	before := len(readRows(t, out))
	tests := []struct {
		flags []string
		want  string
	}{
		{[]string{"--output-len", "7"}, "--output-len: 6 before, 7 now"},
		{[]string{"--input-len", "10"}, "--input-len: 12 before, 10 now"},
		{[]string{"--temperature", "0.5"}, "--temperature: 0 before, 0.5 now"},
		{[]string{"--top-p", "0.9"}, "--top-p: 1 before, 0.9 now"},
		{[]string{"--dtype", "bfloat16"}, "--dtype: float32 before, bfloat16 now"},
		{[]string{"--seed", "4"}, "--seed: 3 before, 4 now"},
		{[]string{"--engine-arg", "vllm: enforce_eager=True"}, "--engine-arg 'vllm: ...': {} before"},
		{[]string{"--engine-env", "sglang: SOME_SETTING=1"}, "--engine-env 'sglang: ...': {} before, {SOME_SETTING=1} now"},
		{[]string{"--batch-sizes", "4,2,1"}, "--batch-sizes (and their order): 1,2,4 before, 4,2,1 now"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.flags, " "), func(t *testing.T) {
			r := enginebench(t, nil, runArgs(out, append([]string{"--resume"}, tt.flags...)...)...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "would mix them") {
				t.Errorf("exit %d, want %d naming %q:\n%s", r.code, exitUsage, tt.want, r.stderr)
			}
			if n := len(readRows(t, out)); n != before {
				t.Errorf("a refused resume wrote %d rows", n-before)
			}
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// sglang's second call runs a long pure-Python loop; Ctrl-C arrives then.
	control := `{"sglang": {"busy": {"call": 2, "seconds": 120}}}`
	r := enginebenchCtx(t, ctx, func(cmd *exec.Cmd) {
		go func() {
			// Once the call is in its loop: a Ctrl-C before it would cancel
			// the call before it starts, not interrupt it.
			if waitForLog(filepath.Join(out, "sglang.log"), "generate call 2: busy for", 90*time.Second) {
				time.Sleep(300 * time.Millisecond)
				cmd.Process.Signal(syscall.SIGINT)
			}
		}()
	}, fakeEnv(control), runArgs(out)...)
	if r.code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitInterrupted, r.stderr)
	}
	rows := readRows(t, out)
	s := rowsOf(rows, "sglang")
	if len(rowsOf(rows, "vllm")) != 9 || len(s) != 2 || !strings.Contains(s[1].Error, "KeyboardInterrupt") {
		t.Errorf("rows after Ctrl-C: vllm %d, sglang %+v", len(rowsOf(rows, "vllm")), s)
	}
	if !strings.Contains(r.stderr, "everything measured is in") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestRunBadInput(t *testing.T) {
	model, _ := filepath.Abs("testdata/model")
	base := func(extra ...string) []string {
		args := []string{"run", "--model", model, "--input-len", "8", "--output-len", "4", "--reps", "1", "--batch-sizes", "1"}
		return append(args, extra...)
	}
	tests := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"batch size 0", base("--engine", "vllm", "--batch-sizes", "0,4"), nil, []string{"--batch-sizes", "0"}},
		{"unknown engine", base("--engine", "tgi"), nil, []string{`unknown engine "tgi"`, "sglang, transformers, vllm"}},
		{"no engine", base(), nil, []string{"no --engine given"}},
		{"bad engine-arg literal", base("--engine", "vllm", "--engine-arg", "vllm: dtype=bfloat16"), nil, []string{"bare name", `did you mean dtype="bfloat16"?`}},
		{"engine-arg for an engine not run", base("--engine", "vllm", "--engine-arg", "sglang: tp_size=1"), nil, []string{"--engine-arg for sglang"}},
		{"missing model directory", []string{"run", "--engine", "vllm", "--model", "/nonexistent/model"}, nil, []string{"/nonexistent/model", "no such model directory"}},
		{"missing python", base("--engine", "vllm=/nonexistent/python3"), nil, []string{"/nonexistent/python3"}},
		{"python without the engine installed", base("--engine", "sglang"), []string{"PYTHONPATH="}, []string{"cannot import sglang", "--engine sglang=PYTHON"}},
		{"unknown engine keyword", base("--engine", "vllm", "--engine-arg", "vllm: max_num_seq=4"), nil, []string{"'max_num_seq'", "did you mean max_num_seqs"}},
		{"sequence too long", base("--engine", "vllm", "--input-len", "250", "--output-len", "10"), nil, []string{"max_position_embeddings 256"}},
		{"required GPU missing", base("--engine", "vllm", "--require-gpu"), []string{"ENGINEBENCH_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1"}, []string{"engine vllm:", "/nonexistent/libnvidia-ml.so.1"}},
		{"a program with token-ID flags", base("--engine", "vllm", "--program", "../../examples/programs/chat.py"), nil, []string{"--program", "drop --input-len, --output-len"}},
		{"a program on transformers", []string{"run", "--model", model, "--engine", "vllm", "--engine", "transformers", "--program", "../../examples/programs/chat.py"}, nil,
			[]string{"--engine transformers", "run on sglang and vllm only"}},
		{"a program file that is not there", []string{"run", "--model", model, "--engine", "vllm", "--program", "nonexistent.py"}, nil, []string{"--program nonexistent.py: no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			r := enginebench(t, tt.env, append(tt.args, "--out", out)...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, exitUsage, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "] loading ") {
				t.Errorf("a model started loading:\n%s", r.stderr)
			}
			if _, err := os.Stat(filepath.Join(out, "results.jsonl")); err == nil {
				t.Error("results.jsonl was written")
			}
		})
	}
}

// A second Ctrl-C quits at once, even while an engine call is stuck in
// native code; what was measured before stays on disk.
func TestRunSecondInterruptQuits(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	r := enginebenchCtx(t, ctx, func(cmd *exec.Cmd) {
		go func() {
			// Once the call hangs: the first Ctrl-C must find it stuck.
			if waitForLog(filepath.Join(out, "vllm.log"), "generate call 2: hanging", 90*time.Second) {
				time.Sleep(300 * time.Millisecond)
				cmd.Process.Signal(syscall.SIGINT)
				time.Sleep(300 * time.Millisecond)
				cmd.Process.Signal(syscall.SIGINT)
			}
		}()
	}, fakeEnv(`{"vllm": {"hang": {"call": 2}}}`), runArgs(out)...)
	if r.code != exitInterrupted || !strings.Contains(r.stderr, "quitting now") {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitInterrupted, r.stderr)
	}
	if e := time.Since(start); e > 60*time.Second {
		t.Errorf("quitting took %v", e)
	}
	if rows := readRows(t, out); len(rows) != 1 {
		t.Errorf("%d rows on disk, want the 1 measured before the hang", len(rows))
	}
}

// waitForLog polls the engine log at path until it holds want; false if it
// does not within timeout (the test then fails on what the run did).
func waitForLog(path, want string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			return true
		}
	}
	return false
}

// A results file whose last line was cut short (disk full, power loss):
// report says it skipped the line; --resume sets the torn bytes aside,
// measures that cell again, and appends nothing onto the torn line.
func TestRunResumeRepairsTornLine(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if r := enginebench(t, nil, runArgs(out)...); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	path := filepath.Join(out, "results.jsonl")
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	last := lines[len(lines)-1]
	var lost results.Row
	if err := json.Unmarshal([]byte(last), &lost); err != nil {
		t.Fatal(err)
	}
	torn := last[:len(last)/2]
	if err := os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-1], "")+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	r := enginebench(t, nil, "report", out)
	if r.code != 0 || !strings.Contains(r.stderr, "skipped 1 line(s)") {
		t.Errorf("report on a torn file: exit %d\n%s", r.code, r.stderr)
	}
	r = enginebench(t, nil, runArgs(out, "--resume")...)
	if r.code != 0 || !strings.Contains(r.stderr, "set aside 1 torn line") {
		t.Fatalf("resume: exit %d\n%s", r.code, r.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(out, "results.jsonl.torn")); string(got) != torn+"\n" {
		t.Errorf("torn bytes set aside: %q, want %q", got, torn+"\n")
	}
	// The cell's batch size is warmed up again first: one row more.
	rows, skipped, err := results.Read(path)
	if err != nil || skipped != 0 || len(rows) != len(lines)+1 || !rows[len(rows)-2].Warmup {
		t.Fatalf("after resume: %d rows (want %d, a warm-up then the cell), %d skipped, %v", len(rows), len(lines)+1, skipped, err)
	}
	if k := rows[len(rows)-1].Key(); k != lost.Key() {
		t.Errorf("re-measured %+v, want the torn cell %+v", k, lost.Key())
	}
	if strings.Contains(r.stdout, "skipped") {
		t.Errorf("the report still skips lines:\n%s", r.stdout)
	}
}

// One run per output directory: a second run (or a --resume) while one is
// live is refused at once, naming it; a lock whose process is gone is taken
// over.
func TestRunLocksOutputDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	second := make(chan result, 1)
	first := enginebenchCtx(t, ctx, func(cmd *exec.Cmd) {
		go func() {
			if !waitForLog(filepath.Join(out, "results.jsonl"), `"warmup":true`, time.Minute) {
				second <- result{code: -1}
				return
			}
			second <- enginebench(t, nil, runArgs(out, "--resume")...)
		}()
	}, fakeEnv(`{"vllm": {"busy": {"call": 3, "seconds": 8}}}`), runArgs(out)...)
	if first.code != 0 {
		t.Fatalf("first run: exit %d\n%s", first.code, first.stderr)
	}
	r := <-second
	if r.code != exitUsage || !strings.Contains(r.stderr, "is in use by enginebench pid") || !strings.Contains(r.stderr, "choose another --out") {
		t.Errorf("second run into a live --out: exit %d\n%s", r.code, r.stderr)
	}
	// A lock file left by a process that is gone.
	lock := filepath.Join(out, ".enginebench.lock")
	if err := os.WriteFile(lock, []byte(`{"pid":999999999,"started_at":"2026-01-01T00:00:00Z","command_line":["enginebench","run"]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = enginebench(t, nil, runArgs(out, "--resume")...)
	if r.code != 0 || !strings.Contains(r.stderr, "took over the lock of enginebench pid 999999999, which is gone") {
		t.Errorf("resume over a stale lock: exit %d\n%s", r.code, r.stderr)
	}
}

// A batch that raises while its engine runs on makes the exit status 1, and
// the manifest names the batch.
func TestRunFailedBatchFailsTheRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	r := enginebench(t, fakeEnv(`{"sglang": {"raise": {"call": 3}}}`), runArgs(out)...)
	if r.code != exitFailure || !strings.Contains(r.stderr, "1 batch(es) failed: sglang bs=1 rep 1") {
		t.Fatalf("exit %d, want %d naming the batch\n%s", r.code, exitFailure, r.stderr)
	}
	m := readManifest(t, out)
	var sg results.Engine
	for _, e := range m.Engines {
		if e.Name == "sglang" {
			sg = e
		}
	}
	if sg.Status != results.EngineDone || len(sg.FailedBatches) != 1 || sg.FailedBatches[0].BatchSize != 1 || sg.FailedBatches[0].Rep != 1 || sg.FailedBatches[0].Error == "" {
		t.Errorf("manifest: status %s, failed batches %+v", sg.Status, sg.FailedBatches)
	}
	if r := enginebench(t, nil, runArgs(out, "--resume")...); r.code != 0 {
		t.Errorf("resume re-measuring the failed batch: exit %d\n%s", r.code, r.stderr)
	}
}

// A shared-prefix workload on the fakes: prefix caching is on, hits are not
// flagged, and the report gives the hit rate; bad combinations are refused.
func TestRunSharedPrefix(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	r := enginebench(t, nil, runArgs(out, "--dataset", "shared-prefix", "--prefix-len", "32", "--prefix-groups", "3")...)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	m := readManifest(t, out)
	if m.Workload.Dataset != "shared-prefix" || m.Workload.SharedPrefixLen != 32 || m.Workload.PrefixGroups != 3 {
		t.Errorf("manifest workload %+v", m.Workload)
	}
	for _, e := range m.Engines {
		if e.Name == "vllm" && e.ConstructorArgs["enable_prefix_caching"] != true || e.Name == "sglang" && e.ConstructorArgs["disable_radix_cache"] != false {
			t.Errorf("%s: prefix caching not on: %v", e.Name, e.ConstructorArgs)
		}
	}
	hits := 0
	for _, row := range readRows(t, out) {
		if len(row.Flags) != 0 || row.PromptTokens != row.BatchSize*(32+12) || row.MaxCachedTokens == nil {
			t.Errorf("row %s bs=%d: flags %v prompt %d max %v", row.Engine, row.BatchSize, row.Flags, row.PromptTokens, row.MaxCachedTokens)
		}
		hits += row.CachedTokens
	}
	if hits == 0 || !strings.Contains(r.stdout, "Prefix cache") {
		t.Errorf("no cache hits (%d) or no prefix-cache table:\n%s", hits, r.stdout)
	}
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--prefix-len", "8"}, "add --dataset shared-prefix"},
		{[]string{"--dataset", "shared-prefix"}, "--prefix-len: a shared-prefix workload needs a prefix"},
	} {
		r := enginebench(t, nil, runArgs(filepath.Join(t.TempDir(), "bad"), tt.flags...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, want %q:\n%s", tt.flags, r.code, tt.want, r.stderr)
		}
	}
}

// A workload prepared without an engine runs as the very same token IDs;
// flags that would redefine it, or a model it was not prepared for, are
// refused.
func TestRunPreparedWorkload(t *testing.T) {
	dir := t.TempDir()
	model, _ := filepath.Abs("testdata/model")
	file := filepath.Join(dir, "w.json")
	r := enginebench(t, nil, "workload", "prepare", "--model", model, "--batch-sizes", "1,2,4", "--input-len", "12", "--output-len", "6",
		"--reps", "2", "--warmup", "1", "--seed", "3", file)
	if r.code != 0 || !strings.Contains(r.stdout, "workload sha256") {
		t.Fatalf("prepare: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := enginebench(t, nil, "workload", "inspect", file); r.code != 0 || !strings.Contains(r.stdout, "21 prompts of 12 tokens") {
		t.Errorf("inspect: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	direct := filepath.Join(dir, "direct")
	if r := enginebench(t, nil, runArgs(direct)...); r.code != 0 {
		t.Fatalf("direct run: exit %d\n%s", r.code, r.stderr)
	}
	prepared := filepath.Join(dir, "prepared")
	r = enginebench(t, nil, "run", "--engine", "vllm", "--engine", "sglang", "--model", model, "--workload", file, "--out", prepared)
	if r.code != 0 {
		t.Fatalf("run --workload: exit %d\n%s", r.code, r.stderr)
	}
	if a, b := readManifest(t, direct).Workload.SHA256, readManifest(t, prepared).Workload.SHA256; a != b {
		t.Errorf("the prepared workload ran as %s, the same flags draw %s", b, a)
	}
	r = enginebench(t, nil, "run", "--engine", "vllm", "--model", model, "--workload", file, "--input-len", "9", "--out", filepath.Join(dir, "x"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "fixes the workload: drop --input-len") {
		t.Errorf("--workload with --input-len: exit %d\n%s", r.code, r.stderr)
	}
	other := filepath.Join(dir, "other.json")
	if r := enginebench(t, nil, "workload", "prepare", "--model", "org/model", "--vocab-size", "1000", "--batch-sizes", "1", "--reps", "1", other); r.code != 0 {
		t.Fatalf("prepare for a hub id: exit %d\n%s", r.code, r.stderr)
	}
	r = enginebench(t, nil, "run", "--engine", "vllm", "--model", model, "--workload", other, "--out", filepath.Join(dir, "y"))
	if r.code != exitUsage || !strings.Contains(r.stderr, "prepare it for this model") {
		t.Errorf("a workload of another vocabulary: exit %d\n%s", r.code, r.stderr)
	}
}

// shareGPTEnv puts the fake tokenizer (pyhost/testdata/faketokenizer: a word
// is a token, BOS first) ahead of the fake engines.
func shareGPTEnv(t *testing.T) []string {
	tok, _ := filepath.Abs("../../pyhost/testdata/faketokenizer")
	fakes, _ := filepath.Abs("../../pyhost/testdata/fakeengines")
	return []string{"PYTHONPATH=" + tok + string(os.PathListSeparator) + fakes}
}

func shareGPTArgs(out string, extra ...string) []string {
	model, _ := filepath.Abs("testdata/model")
	args := []string{"run", "--engine", "vllm", "--engine", "sglang", "--model", model,
		"--dataset", "sharegpt:testdata/sharegpt.json", "--max-input-len", "40",
		"--batch-sizes", "1,2,4", "--reps", "2", "--warmup", "1", "--seed", "3", "--out", out,
		"--batch-timeout", "60s", "--load-timeout", "60s"}
	return append(args, extra...)
}

// wordCounts is each testdata/sharegpt.json entry's prompt and reply length
// in the fake tokenizer's tokens (BOS + one per word; replies without BOS),
// by entry; -1 for an entry without a usable text.
func wordCounts(t *testing.T) (prompts, replies map[int]int) {
	t.Helper()
	b, err := os.ReadFile("testdata/sharegpt.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	prompts, replies = map[int]int{}, map[int]int{}
	for i, raw := range entries {
		var e struct {
			Conversations []struct{ From, Value string }
		}
		if json.Unmarshal(raw, &e) != nil || len(e.Conversations) == 0 || e.Conversations[0].From != "human" {
			continue
		}
		prompts[i] = 1 + len(strings.Fields(e.Conversations[0].Value))
		replies[i] = -1
		if len(e.Conversations) > 1 {
			replies[i] = len(strings.Fields(e.Conversations[1].Value))
		}
	}
	return prompts, replies
}

// A ShareGPT workload: prompts tokenized once (by the fake tokenizer here),
// malformed and out-of-bounds entries skipped and counted, every engine fed
// the very same ids; with --output-len reference each request generates its
// reply's length.
func TestRunShareGPT(t *testing.T) {
	fileSkips := map[string]int{"first_turn_not_human": 1, "no_conversations": 1, "not_an_object": 1}
	prompts, replies := wordCounts(t)
	for _, tt := range []struct {
		name      string
		extra     []string
		skipped   map[string]int
		reference bool
	}{
		{"fixed output", []string{"--output-len", "5"}, map[string]int{"prompt_too_long": 1}, false},
		{"reference output", []string{"--output-len", "reference"}, map[string]int{"prompt_too_long": 1, "no_reply": 1}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			r := enginebench(t, shareGPTEnv(t), shareGPTArgs(out, tt.extra...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			m := readManifest(t, out)
			w := m.Workload
			want := maps.Clone(fileSkips)
			maps.Copy(want, tt.skipped)
			if w.Dataset != "sharegpt" || w.Source == nil || w.Source.File != "sharegpt.json" || w.Source.Entries != 35 || w.Prompts != 21 ||
				w.Tokenizer == nil || w.Tokenizer.Class != "FakeTokenizer" || w.ReferenceOutput != tt.reference || w.MaxInputLen != 40 {
				t.Errorf("manifest workload %+v", w)
			}
			if !maps.Equal(w.Skipped, want) {
				t.Errorf("skipped %v, want %v", w.Skipped, want)
			}
			wl, err := workload.Read(filepath.Join(out, "workload.json"))
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range wl.Prompts {
				e := wl.Entries[i]
				if len(p) != prompts[e] || p[0] != 1 {
					t.Errorf("prompt %d (entry %d): %d tokens starting %d, want %d starting with BOS", i, e, len(p), p[0], prompts[e])
				}
				if tt.reference && wl.OutputLenOf(i) != replies[e] {
					t.Errorf("prompt %d (entry %d): output length %d, want its reply's %d", i, e, wl.OutputLenOf(i), replies[e])
				}
			}
			rows := readRows(t, out)
			if len(rows) != 2*3*3 { // engines × batch sizes × (warm-up + reps)
				t.Fatalf("%d rows, want 18", len(rows))
			}
			for _, row := range rows {
				wantPrompt, wantOut := 0, 0
				for i := row.FirstPrompt; i < row.FirstPrompt+row.BatchSize; i++ {
					wantPrompt += len(wl.Prompts[i])
					wantOut += wl.OutputLenOf(i)
				}
				if len(row.Flags) != 0 || row.PromptTokens != wantPrompt || row.OutputTokens != wantOut || row.ExpectedOutputTokens != wantOut {
					t.Errorf("%s bs=%d rep %d: flags %v, prompt %d want %d, output %d (expected %d) want %d",
						row.Engine, row.BatchSize, row.Rep, row.Flags, row.PromptTokens, wantPrompt, row.OutputTokens, row.ExpectedOutputTokens, wantOut)
				}
			}
			if !strings.Contains(r.stdout, "first human turns of the ShareGPT file sharegpt.json") {
				t.Errorf("the report does not say what the prompts are:\n%s", r.stdout)
			}
		})
	}
}

// A ShareGPT workload prepared once runs as the very same ids; inspect
// shows what was skipped and the lengths.
func TestShareGPTPrepareAndInspect(t *testing.T) {
	dir := t.TempDir()
	model, _ := filepath.Abs("testdata/model")
	file := filepath.Join(dir, "w.json")
	env := append(shareGPTEnv(t), "ENGINEBENCH_PYTHON="+pyhosttest.DefaultPython(t).Executable)
	r := enginebench(t, env, "workload", "prepare", "--model", model, "--dataset", "sharegpt:testdata/sharegpt.json",
		"--max-input-len", "40", "--output-len", "reference", "--batch-sizes", "1,2,4", "--reps", "2", "--warmup", "1", "--seed", "3", file)
	if r.code != 0 {
		t.Fatalf("prepare: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = enginebench(t, nil, "workload", "inspect", file)
	for _, want := range []string{"(format 2)", "dataset sharegpt: sharegpt.json", "skipped 5 entries", "no_reply", "prompt_too_long", "21 prompts,", "each reply's own count", "FakeTokenizer"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	direct := filepath.Join(dir, "direct")
	if r := enginebench(t, shareGPTEnv(t), shareGPTArgs(direct, "--output-len", "reference")...); r.code != 0 {
		t.Fatalf("direct run: exit %d\n%s", r.code, r.stderr)
	}
	prepared := filepath.Join(dir, "prepared")
	r = enginebench(t, nil, "run", "--engine", "vllm", "--model", model, "--workload", file, "--out", prepared)
	if r.code != 0 {
		t.Fatalf("run --workload: exit %d\n%s", r.code, r.stderr)
	}
	if a, b := readManifest(t, direct).Workload.SHA256, readManifest(t, prepared).Workload.SHA256; a != b {
		t.Errorf("the prepared workload ran as %s, the same flags build %s", b, a)
	}
}

// Bad ShareGPT input is refused before any model loads, naming the fix.
func TestRunShareGPTBadInput(t *testing.T) {
	dir := t.TempDir()
	notList := filepath.Join(dir, "obj.json")
	os.WriteFile(notList, []byte(`{"conversations": []}`), 0o644)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"too few prompts", shareGPTArgs("", "--batch-sizes", "8,16"), []string{"the sweep needs 72 prompts, but only 31 of the file's 35 entries are usable", "prompt_too_long 1"}},
		{"not a list", shareGPTArgs("", "--dataset", "sharegpt:"+notList), []string{"a JSON document, but not a list", `"conversations"`}},
		{"missing file", shareGPTArgs("", "--dataset", "sharegpt:"+filepath.Join(dir, "none.json")), []string{"none.json", "no such file"}},
		{"no file named", shareGPTArgs("", "--dataset", "sharegpt"), []string{"name the file"}},
		{"input length", shareGPTArgs("", "--input-len", "8"), []string{"drop --input-len"}},
		{"prefix", shareGPTArgs("", "--prefix-len", "8"), []string{"add --dataset shared-prefix"}},
		{"reference without ShareGPT", runArgs("", "--output-len", "reference"), []string{"only a ShareGPT workload has reference replies"}},
		{"bounds without ShareGPT", runArgs("", "--max-input-len", "40"), []string{"they bound a ShareGPT workload"}},
		{"bad output length", shareGPTArgs("", "--output-len", "lots"), []string{`--output-len "lots": give a number of tokens, or reference`}},
		{"no transformers", shareGPTArgs(""), []string{"no transformers to load the tokenizer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := slices.Clone(tt.args)
			args[slices.Index(args, "--out")+1] = out
			env := shareGPTEnv(t)
			if tt.name == "no transformers" {
				fakes, _ := filepath.Abs("../../pyhost/testdata/fakeengines")
				env = []string{"PYTHONPATH=" + fakes}
			}
			r := enginebench(t, env, args...)
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, exitUsage, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "results.jsonl")); err == nil {
				t.Error("results.jsonl was written")
			}
		})
	}
}

// A ShareGPT run resumes as the same workload (the texts tokenized again,
// the same ids), and refuses another file, other bounds or other output
// lengths.
func TestRunShareGPTResume(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	env := shareGPTEnv(t)
	if r := enginebench(t, env, shareGPTArgs(out, "--output-len", "reference")...); r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	before := len(readRows(t, out))
	if r := enginebench(t, env, shareGPTArgs(out, "--output-len", "reference", "--resume")...); r.code != 0 || len(readRows(t, out)) != before {
		t.Fatalf("resume of a finished run: exit %d, %d rows more\n%s", r.code, len(readRows(t, out))-before, r.stderr)
	}
	other := filepath.Join(t.TempDir(), "other.json")
	b, _ := os.ReadFile("testdata/sharegpt.json")
	os.WriteFile(other, append(b, '\n'), 0o644)
	for _, tt := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--output-len", "reference", "--max-input-len", "30"}, "--max-input-len: 40 before, 30 now"},
		{[]string{"--output-len", "5"}, "--output-len reference: true before, false now"},
		{[]string{"--output-len", "reference", "--dataset", "sharegpt:" + other}, "the ShareGPT file (sha256)"},
	} {
		r := enginebench(t, env, shareGPTArgs(out, append([]string{"--resume"}, tt.flags...)...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v: exit %d, want %d naming %q:\n%s", tt.flags, r.code, exitUsage, tt.want, r.stderr)
		}
	}
	if n := len(readRows(t, out)); n != before {
		t.Errorf("a refused resume wrote %d rows", n-before)
	}
}
