package run

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/enginebench/enginebench/offline/report"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/workload"
)

// programPlan is plan with a program workload of n argument dicts.
func programPlan(t *testing.T, out string, engines ...[2]string) *Plan {
	t.Helper()
	p := plan(t, out, engines...)
	source := "import sglang as sgl\n@sgl.function\ndef program(s, q):\n    s += q + sgl.gen('a', max_tokens=8)\n"
	sum := sha256.Sum256([]byte(source))
	p.Spec = workload.Spec{Seed: 1, VocabSize: 1000, BatchSizes: []int{1, 3}, Reps: 2, Warmup: 1, Dataset: workload.DatasetProgram,
		Program: &workload.ProgramFile{File: "q.py", SHA256: hex.EncodeToString(sum[:])}}
	n, err := p.Spec.NumPrompts()
	if err != nil {
		t.Fatal(err)
	}
	args := make([]string, n)
	for i := range args {
		args[i] = fmt.Sprintf(`{"q":"question %d"}`, i)
	}
	wl, err := workload.FromProgram(p.Spec, source, args, []string{workload.FeatureConstrained})
	if err != nil {
		t.Fatal(err)
	}
	p.Spec, p.Workload = wl.Spec, wl
	p.Model.ContextLen = 2048
	return p
}

// A program run on the Go fake: every batch is a row of programs, each
// program counted once with its latency and validity; a program that
// raised is counted, flagged, with its traceback in the row; the report
// gives programs/s and the valid share.
func TestProgramRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	p := programPlan(t, out, [2]string{"sglang", ""}, [2]string{"vllm", "program_error_on=5"})
	outcome, rows, m := execute(t, p)
	if len(outcome.Failed) != 0 || len(outcome.FailedBatches) != 0 {
		t.Fatalf("outcome %+v", outcome)
	}
	if len(rows) != 2*2*3 {
		t.Fatalf("%d rows, want 12", len(rows))
	}
	for _, r := range rows {
		if r.Programs == nil || r.Programs.Programs != r.BatchSize || len(r.ProgramDetail) != r.BatchSize {
			t.Fatalf("%s bs=%d rep=%d: programs %+v, %d records", r.Engine, r.BatchSize, r.Rep, r.Programs, len(r.ProgramDetail))
		}
		// The fifth call of the vllm fake is bs=3's first measured
		// repetition: its first program raises.
		failed := r.Engine == "vllm" && r.BatchSize == 3 && !r.Warmup && r.Rep == 0
		wantValid, wantErrors, wantTokens := r.BatchSize, 0, 8*r.BatchSize
		if failed {
			wantValid, wantErrors, wantTokens = r.BatchSize-1, 1, 8*(r.BatchSize-1)
			if !strings.Contains(r.ProgramDetail[0].Error, "fake program failure") || !slices.Contains(r.Flags, results.FlagProgramErrors) {
				t.Errorf("raising program: detail %+v, flags %v", r.ProgramDetail[0], r.Flags)
			}
		} else if len(r.Flags) != 0 {
			t.Errorf("%s bs=%d: flags %v", r.Engine, r.BatchSize, r.Flags)
		}
		if r.Programs.Valid == nil || *r.Programs.Valid != wantValid || r.Programs.Errors != wantErrors || r.OutputTokens != wantTokens {
			t.Errorf("%s bs=%d warmup=%v: valid %v errors %d tokens %d, want %d %d %d", r.Engine, r.BatchSize, r.Warmup,
				r.Programs.Valid, r.Programs.Errors, r.OutputTokens, wantValid, wantErrors, wantTokens)
		}
		if r.Programs.LatencyP50S == nil || *r.Programs.LatencyP90S < *r.Programs.LatencyP50S {
			t.Errorf("latency %v / %v", r.Programs.LatencyP50S, r.Programs.LatencyP90S)
		}
		for i, rec := range r.ProgramDetail {
			if rec.Index != r.FirstPrompt+i {
				t.Errorf("record %d names program %d, want %d", i, rec.Index, r.FirstPrompt+i)
			}
		}
	}
	for _, s := range report.SummaryRecords(m, rows) {
		if s.ProgramsPS == nil || *s.ProgramsPS <= 0 || s.ValidShare == nil || s.ProgramLatP50 == nil {
			t.Errorf("summary %s bs=%d: programs/s %v valid %v latency %v", s.Engine, s.BatchSize, s.ProgramsPS, s.ValidShare, s.ProgramLatP50)
		} else if s.Engine == "vllm" && s.BatchSize == 3 && *s.ValidShare != 5.0/6 {
			t.Errorf("summary vllm bs=3: valid share %v, want 5/6", *s.ValidShare)
		}
	}
	mp := m.Workload.Program
	if m.Workload.Dataset != workload.DatasetProgram || mp == nil || mp.File != "q.py" || mp.ContextLen != 2048 || len(mp.Features) != 1 || m.Workload.Prompts != 12 {
		t.Errorf("manifest workload %+v program %+v", m.Workload, mp)
	}
	var rep strings.Builder
	if err := report.Table(&rep, m, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SGLang frontend program q.py", "uses constrained", "programs/s", "100% (6/6)", "83% (5/6)", "Programs per second relative to sglang"} {
		if !strings.Contains(rep.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, rep.String())
		}
	}
}

// A resumed program run measures the same programs: another program file
// is refused by name.
func TestProgramResumeRefusesAnotherProgram(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	execute(t, programPlan(t, out, [2]string{"sglang", "raise_on=2"}))
	p := programPlan(t, out, [2]string{"sglang", ""})
	p.Resume = true
	_, rows, _ := execute(t, p)
	measured := map[results.Key]bool{}
	for _, r := range rows {
		if r.Error == "" && !r.Warmup && r.Programs != nil && r.Programs.Programs == r.BatchSize {
			measured[r.Key()] = true
		}
	}
	if len(measured) != 4 {
		t.Errorf("%d measured cells after the resume, want all 4", len(measured))
	}
	other := programPlan(t, out, [2]string{"sglang", ""})
	other.Resume = true
	other.Spec.Program.SHA256 = strings.Repeat("0", 64)
	if _, err := Execute(t.Context(), other, Options{Worker: fakeWorker}); err == nil || !strings.Contains(err.Error(), "--program") {
		t.Errorf("resume with another program file: %v", err)
	}
}
