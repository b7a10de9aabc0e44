package run

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enginebench/enginebench/offline/protocol"
	"github.com/enginebench/enginebench/offline/results"
	"github.com/enginebench/enginebench/offline/worker"
	"github.com/enginebench/enginebench/offline/worker/workertest"
	"github.com/enginebench/enginebench/offline/workload"
)

// asWorker makes the test binary a worker with the Go fake adapter; its
// behaviour comes from the load request's environment (FAKE).
const asWorker = "ENGINEBENCH_RUN_TEST_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(asWorker) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		conn := protocol.NewConn(os.NewFile(protocol.RequestFD, "requests"), os.NewFile(protocol.EventFD, "events"))
		err := worker.Serve(ctx, conn, worker.Options{
			NewAdapter: func(_ context.Context, load *protocol.LoadRequest) (worker.Adapter, func(context.Context) error, error) {
				b, err := workertest.ParseBehaviour(load.Env["FAKE"])
				if err != nil {
					return nil, nil, err
				}
				return &workertest.FakeAdapter{B: b}, nil, nil
			},
		})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeWorker() *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), asWorker+"=1")
	return cmd
}

// plan is a small sweep over engines named by their fake behaviour.
func plan(t *testing.T, out string, engines ...[2]string) *Plan {
	t.Helper()
	p := &Plan{
		Model:    Model{Path: "fake-model", Dtype: "float32", Info: results.Model{Path: "fake-model", Dtype: "float32"}},
		Spec:     workload.Spec{Seed: 1, InputLen: 4, OutputLen: 3, VocabSize: 1000, BatchSizes: []int{1, 2}, Reps: 2, Warmup: 1},
		Sampling: protocol.Sampling{TopP: 1},
		Out:      out, LoadTimeout: 20 * time.Second, BatchTimeout: 20 * time.Second, InterruptGrace: 5 * time.Second,
		SampleInterval: 50 * time.Millisecond, CommandLine: []string{"enginebench", "run"},
	}
	for _, e := range engines {
		p.Engines = append(p.Engines, EngineSpec{Name: e[0], Python: "python3", Env: map[string]string{"FAKE": e[1]}})
	}
	return p
}

func execute(t *testing.T, p *Plan) (*Outcome, []results.Row, *results.Manifest) {
	t.Helper()
	var progress strings.Builder
	out, err := Execute(context.Background(), p, Options{Worker: fakeWorker, Progress: &progress})
	if err != nil {
		t.Fatalf("Execute: %v\nprogress:\n%s", err, progress.String())
	}
	rows, _, err := results.Read(filepath.Join(p.Out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := results.ReadManifest(filepath.Join(p.Out, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	return out, rows, m
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

// The run on a Go fake worker: each way a worker can go wrong ends that
// engine only, with its cell recorded, and the next engine runs.
func TestExecuteWorkerFaults(t *testing.T) {
	tests := []struct {
		name      string
		behaviour string
		batch     time.Duration
		// rows of the faulty engine, the error of its last row, and of the
		// engine; empty when it must finish clean.
		rows                int
		rowErr, engineError string
		failedBatches       []string
	}{
		{name: "clean", rows: 6},
		{name: "crashes", behaviour: "crash_on=2", rows: 2, rowErr: "killed by signal 9", engineError: "killed by signal 9"},
		{name: "hangs", behaviour: "hang_on=2", batch: 2 * time.Second, rows: 2, rowErr: "hung", engineError: "hung"},
		{name: "fails to load", behaviour: "fail_load=no such setting", rows: 0, engineError: "no such setting"},
		{name: "stalls within the timeout", behaviour: "stall_on=2,stall=300ms", batch: 5 * time.Second, rows: 6},
		{name: "a batch raises", behaviour: "raise_on=2", rows: 6, failedBatches: []string{"a bs=1 rep 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plan(t, filepath.Join(t.TempDir(), "run"), [2]string{"a", tt.behaviour}, [2]string{"b", ""})
			if tt.batch > 0 {
				p.BatchTimeout = tt.batch
			}
			out, rows, m := execute(t, p)
			a := rowsOf(rows, "a")
			if len(a) != tt.rows {
				t.Fatalf("%d rows of a, want %d: %+v", len(a), tt.rows, a)
			}
			if tt.rowErr != "" && !strings.Contains(a[len(a)-1].Error, tt.rowErr) {
				t.Errorf("a's last row: error %q, want %q", a[len(a)-1].Error, tt.rowErr)
			}
			if tt.engineError == "" {
				if len(out.Failed) != 0 || m.Engines[0].Status != results.EngineDone {
					t.Errorf("a: status %s, failed %v", m.Engines[0].Status, out.Failed)
				}
			} else if len(out.Failed) != 1 || !strings.Contains(m.Engines[0].Error, tt.engineError) || m.Engines[0].Status != results.EngineFailed {
				t.Errorf("a: status %s, error %q, want %q", m.Engines[0].Status, m.Engines[0].Error, tt.engineError)
			}
			if !slices.Equal(out.FailedBatches, tt.failedBatches) || len(m.Engines[0].FailedBatches) != len(tt.failedBatches) {
				t.Errorf("failed batches %q (manifest %+v), want %q", out.FailedBatches, m.Engines[0].FailedBatches, tt.failedBatches)
			}
			b := rowsOf(rows, "b")
			if len(b) != 6 || m.Engines[1].Status != results.EngineDone {
				t.Errorf("b after a %s: %d rows, status %s", tt.name, len(b), m.Engines[1].Status)
			}
			for _, r := range b {
				if r.Error != "" || len(r.Flags) != 0 || r.OutputTokens != r.BatchSize*3 {
					t.Errorf("b row %+v", r)
				}
			}
		})
	}
}

// An engine that answers a prompt twice, or a prompt of no batch, is never
// credited with those answers.
func TestExecuteCountsOnlyTheBatchsAnswers(t *testing.T) {
	_, rows, m := execute(t, plan(t, filepath.Join(t.TempDir(), "run"), [2]string{"a", "extra_on=5"}))
	if m.Engines[0].Env["FAKE"] != "extra_on=5" {
		t.Errorf("the manifest does not record the worker's environment: %v", m.Engines[0].Env)
	}
	r := rows[4] // call 5: bs=2 rep 0, after bs=1 (warm-up, 2 reps) and the bs=2 warm-up
	if r.BatchSize != 2 || r.Requests != 2 || r.OutputTokens != 6 || r.ExtraRequests != 3 || !slices.Contains(r.Flags, results.FlagExtraRequests) {
		t.Errorf("row with extra answers: %+v", r)
	}
	for i, q := range r.Detail {
		if q.Index != r.FirstPrompt+i {
			t.Errorf("answer %d names prompt %d, want %d", i, q.Index, r.FirstPrompt+i)
		}
	}
}

// A resume refuses an engine whose version changed since it was measured.
func TestExecuteResumeRefusesAnotherEngineVersion(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	execute(t, plan(t, out, [2]string{"a", "crash_on=3"}))
	p := plan(t, out, [2]string{"a", "version=2.0"})
	p.Resume = true
	_, err := Execute(context.Background(), p, Options{Worker: fakeWorker})
	if !IsInputError(err) || !strings.Contains(err.Error(), "a: fake 1.0 before, 2.0 now") {
		t.Fatalf("resume with another version: %v", err)
	}
	p = plan(t, out, [2]string{"a", ""})
	p.Resume = true
	if _, rows, _ := execute(t, p); len(rows) != 2+1+5 {
		t.Errorf("%d rows after the resume, want 8 (2, the crash, then a warm-up and the 4 left)", len(rows))
	}
}

func TestPending(t *testing.T) {
	spec := workload.Spec{BatchSizes: []int{1, 2}, Reps: 2, Warmup: 1}
	cells := spec.Cells()
	key := func(bs, rep int, warm bool) results.Key {
		return results.Key{Engine: "e", BatchSize: bs, Rep: rep, Warmup: warm}
	}
	name := func(cs []workload.Cell) string {
		var s []string
		for _, c := range cs {
			s = append(s, cellName(c.BatchSize, c.Rep, c.Warmup))
		}
		return strings.Join(s, "; ")
	}
	tests := []struct {
		name string
		done []results.Key
		want string
	}{
		{"nothing done", nil, "bs=1 warm-up 0; bs=1 rep 0; bs=1 rep 1; bs=2 warm-up 0; bs=2 rep 0; bs=2 rep 1"},
		{"one batch size done", []results.Key{key(1, 0, true), key(1, 0, false), key(1, 1, false)}, "bs=2 warm-up 0; bs=2 rep 0; bs=2 rep 1"},
		{"mid batch size: warmed up again", []results.Key{key(1, 0, true), key(1, 0, false), key(1, 1, false), key(2, 0, true), key(2, 0, false)}, "bs=2 warm-up 0; bs=2 rep 1"},
		{"all done", []results.Key{key(1, 0, true), key(1, 0, false), key(1, 1, false), key(2, 0, true), key(2, 0, false), key(2, 1, false)}, ""},
	}
	for _, tt := range tests {
		done := map[results.Key]bool{}
		for _, k := range tt.done {
			done[k] = true
		}
		if got := name(pending(cells, "e", done)); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestResumeManifestKeepsEarlierEngines(t *testing.T) {
	earlier := &results.Manifest{
		CommandLine: []string{"enginebench", "run", "first"},
		Engines: []results.Engine{
			{Name: "a", Status: results.EngineDone, Versions: map[string]string{"a": "1"}},
			{Name: "b", Status: results.EngineFailed, Error: "boom", Versions: map[string]string{"b": "1"}},
		},
	}
	now := &results.Manifest{CommandLine: []string{"enginebench", "run", "--resume"}, Engines: []results.Engine{{Name: "b", Status: results.EngineQueued}}}
	m, err := resumeManifest("out", now, earlier, map[string]bool{"a": true, "b": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Engines) != 2 || m.Engines[0].Status != results.EngineDone || m.Engines[1].Status != results.EngineQueued ||
		m.Engines[1].Error != "" || m.Engines[1].Versions["b"] != "1" {
		t.Errorf("engines: %+v", m.Engines)
	}
	if !slices.Equal(m.CommandLine, earlier.CommandLine) || len(m.Resumed) != 1 || !slices.Equal(m.Resumed[0].CommandLine, now.CommandLine) {
		t.Errorf("command lines: %q, resumed %+v", m.CommandLine, m.Resumed)
	}
}

func TestDirLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run")
	d, err := OpenDir(path, false)
	if err != nil {
		t.Fatal(err)
	}
	// A second open description of the lock file cannot take the lock,
	// even in the same process.
	_, err = OpenDir(path, true)
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "is in use by enginebench pid "+itoa(os.Getpid())) {
		t.Errorf("second OpenDir: %v", err)
	}
	d.Close()
	d, err = OpenDir(path, true)
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	d.Close()
}
