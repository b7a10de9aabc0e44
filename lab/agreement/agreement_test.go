//go:build lab

// Package agreement holds the tests of the Python helpers of lab/agreement/agreement.sh:
// agreement_report.py (the verdict) and swap_cores.py (the core swapper). They
// use only Python's standard library, so any python3 runs them.
package agreement

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/agreement")

func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH: the agreement helpers are Python scripts")
	}
	return py
}

// The synthetic run in testdata/agreement/run (written by make_run.py) holds
// cells whose answers are known: transformers batch 1 enginebench = anchor x
// 1.01 (PASS), batch 4 x 1.10 (FAIL), vllm batch 4 scattered +-20 %
// (INCONCLUSIVE), and three pairs of the command 2 % apart, each ending in
// the batch that stopping enginebench interrupts (not a measurement); pair
// 3 has a failed batch inside the command's timed call and does not count,
// so two are left (too few for a verdict, unless --min-clean 2).
func TestAgreementReport(t *testing.T) {
	py := python(t)
	base := []string{"testdata/agreement/run", "--rounds", "2", "--cli-pairs", "3", "--no-write"}
	both := []string{"--concurrent", "--swap-period", "0.05"}
	tests := []struct {
		name     string
		args     []string
		golden   string
		status   int
		verdicts []string // per table row: transformers 1, 4, vllm 4, vllm 4 CLI
		contains []string
	}{
		{
			name: "one after the other", golden: "sequential.golden", status: 1,
			verdicts: []string{"PASS", "FAIL", "INCONCLUSIVE", "INCONCLUSIVE"},
			contains: []string{"| +1.00% [+0.3, +1.7]", "n=11/12", "one after the other, in alternating order", "core swaps per phase pair: 1200"},
		},
		{
			name: "both at once", args: both, golden: "concurrent.golden", status: 1,
			verdicts: []string{"PASS", "FAIL", "INCONCLUSIVE", "INCONCLUSIVE"},
			contains: []string{"left out so)", "the halves swapped every 0.05 s", "enginebench's batches measured inside the command's timed call",
				"n=2/3", "+2.1 +2.1 -"},
		},
		{
			name: "a wider tolerance passes every cell", args: append([]string{"--tolerance", "15", "--min-clean", "2"}, both...), status: 0,
			verdicts: []string{"PASS", "PASS", "PASS", "PASS"},
		},
		{
			name: "too few clean repetitions", args: []string{"--min-clean", "50"}, status: 3,
			verdicts: []string{"INCONCLUSIVE", "INCONCLUSIVE", "INCONCLUSIVE", "INCONCLUSIVE"},
		},
		{
			name: "a stricter filter of other processes", args: []string{"--max-other-cores", "0.01"}, status: 3,
			verdicts: []string{"INCONCLUSIVE", "INCONCLUSIVE", "INCONCLUSIVE", "INCONCLUSIVE"},
			contains: []string{"n=0/12"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(py, append([]string{"agreement_report.py"}, append(append([]string{}, base...), tt.args...)...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				status = exit.ExitCode()
			} else if err != nil {
				t.Fatalf("agreement_report.py: %v", err)
			}
			out := stdout.String()
			if status != tt.status {
				t.Errorf("exit status %d, want %d; stderr: %s", status, tt.status, stderr.String())
			}
			if got := verdicts(out); strings.Join(got, " ") != strings.Join(tt.verdicts, " ") {
				t.Errorf("verdicts %v, want %v\n%s", got, tt.verdicts, out)
			}
			for _, s := range tt.contains {
				if !strings.Contains(out, s) {
					t.Errorf("report lacks %q:\n%s", s, out)
				}
			}
			if tt.golden == "" {
				return
			}
			path := filepath.Join("testdata", "agreement", tt.golden)
			if *update {
				if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test -tags lab ./lab/agreement -update` to write it)", err)
			}
			if out != string(want) {
				t.Errorf("report differs from %s (run `go test -tags lab ./lab/agreement -update` if the change is meant):\n%s", path, out)
			}
		})
	}
}

// An anchor that names itself (anchor_vllm.py --call plain writes "label")
// gets its row called so; the other rows keep their names.
func TestAgreementReportAnchorLabel(t *testing.T) {
	py := python(t)
	run := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(run, os.DirFS("testdata/agreement/run")); err != nil {
		t.Fatal(err)
	}
	const label = "plain python, same vllm calls"
	for _, r := range []string{"round1", "round2"} {
		path := filepath.Join(run, r, "anchor_vllm.json")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		doc["label"] = label
		if raw, err = json.Marshal(doc); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(py, "agreement_report.py", run, "--rounds", "2", "--cli-pairs", "3", "--no-write")
	out, _ := cmd.Output() // exit status 1: the synthetic run has a FAIL
	rows := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if cols := strings.Split(line, "|"); len(cols) > 3 && strings.TrimSpace(cols[1]) == "vllm" {
			rows[strings.TrimSpace(cols[3])] = true
		}
	}
	if !rows[label] || !rows["vllm bench throughput CLI"] || len(rows) != 2 {
		t.Errorf("vllm rows named %v, want %q and the command's\n%s", rows, label, out)
	}
}

// With a plain script in enginebench's place (CLI_SIDE=plain: cliP/plain
// instead of cliP/enginebench) the command's rows are the same figures, named
// for the plain script; asked for the side that did not run, the report says so.
func TestAgreementReportPlainSide(t *testing.T) {
	py := python(t)
	run := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(run, os.DirFS("testdata/agreement/run")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cli1", "cli2", "cli3"} {
		if err := os.Rename(filepath.Join(run, p, "enginebench"), filepath.Join(run, p, "plain")); err != nil {
			t.Fatal(err)
		}
		// The plain script writes its own records, never enginebench's file.
		if err := os.Rename(filepath.Join(run, p, "plain", "results.jsonl"), filepath.Join(run, p, "plain", "stream.jsonl")); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"agreement_report.py", run, "--rounds", "2", "--cli-pairs", "3", "--no-write", "--concurrent", "--swap-period", "0.05"}
	out, _ := exec.Command(py, append(args, "--cli-side", "plain")...).Output() // exit status 1: the synthetic run has a FAIL
	var cli []string
	for _, line := range strings.Split(string(out), "\n") {
		if cols := strings.Split(line, "|"); len(cols) > 3 && strings.TrimSpace(cols[3]) == "vllm bench throughput CLI" {
			cli = cols
		}
	}
	if cli == nil || strings.TrimSpace(cli[1]) != "vllm (plain script)" || strings.TrimSpace(cli[8]) != "+2.1 +2.1 -" {
		t.Errorf("the command's row is %q, want engine \"vllm (plain script)\" and pairs \"+2.1 +2.1 -\"\n%s", cli, out)
	}
	for _, want := range []string{"the plain script's batches measured inside the command's timed call",
		"In enginebench's place in the CLI rows: a plain Python script"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	msg, err := exec.Command(py, args...).CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "is missing: is --cli-side (enginebench) the side agreement.sh ran (CLI_SIDE)?") {
		t.Errorf("--cli-side enginebench on a plain run: %v\n%s", err, msg)
	}
}

// The pure parts of anchor_vllm.py --mode stream: its rows read as
// enginebench's do (the report parses their times back to the second), and
// its batches go round the workload's prompts in turn.
func TestAnchorVLLMStreamHelpers(t *testing.T) {
	py := python(t)
	const prog = `
import anchor_vllm as a, agreement_report as r
row = a.stream_record(4, 2, False, 1800000000.25, 1.5, 64, 32, 8, "ab")
assert abs(r.epoch(row["started_at"]) - 1800000000.25) < 1e-5, row
assert (row["batch_size"], row["rep"], row["warmup"], row["expected_output_tokens"], row["engine"]) == (4, 2, False, 32, "vllm"), row
b = a.stream_batches(list(range(5)), 2)
print([next(b) for _ in range(4)])
`
	cmd := exec.Command(py, "-c", prog)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), "[[0, 1], [2, 3], [0, 1], [2, 3]]"; got != want {
		t.Errorf("batches %s, want %s", got, want)
	}
}

// The pure parts of anchor_vllm.py --mode styles (it imports vLLM only inside
// its run functions): the bootstrap interval is seeded and brackets the
// median; the table shows every style with its figures; as_text cuts a
// prompt whose text re-encodes longer back to the token count.
func TestAnchorVLLMStyleHelpers(t *testing.T) {
	py := python(t)
	const prog = `
import anchor_vllm as a
vals = [1.0, 2.0, 3.0, 4.0, 50.0]
m, lo, hi = a.bootstrap_median_ci(vals, seed=7)
assert m == 3.0 and lo <= m <= hi and (m, lo, hi) == a.bootstrap_median_ci(vals, seed=7), (m, lo, hi)
doc = {"batch_size": 1, "output_len": 128, "waves": 4, "rounds": [{}, {}],
       "styles": {"enginebench": "own call", "waves": "one call"},
       "summary": {"enginebench": {"per_batch_ms_median": 170.0, "vs_enginebench_pct": 0.0, "vs_enginebench_pct_ci95": [0.0, 0.0]},
                   "waves": {"per_batch_ms_median": 168.3, "vs_enginebench_pct": -1.25, "vs_enginebench_pct_ci95": [-2.5, 0.5]}}}
print(a.styles_table(doc), end="")
class Tok:  # encodes a token per letter; ids from 26 up decode to two letters
    def decode(self, ids): return "".join(chr(97 + i % 26) * (1 + i // 26) for i in ids)
    def encode(self, text, add_special_tokens=False): return [ord(c) - 97 for c in text]
ids = list(range(10)) + [30, 31]
assert len(Tok().encode(Tok().decode(ids))) == 14
print(len(Tok().encode(a.as_text(Tok(), ids))))
`
	cmd := exec.Command(py, "-c", prog)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{
		"vLLM calling styles: batch 1, output 128 tokens, 4 batches a style, 2 rounds",
		"waves                   168.30  -1.25% [-2.50, +0.50]        one call",
		"\n12\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// verdicts returns the last column of the table's rows.
func verdicts(report string) []string {
	var out []string
	lines := strings.Split(report, "\n")
	for _, line := range lines[min(2, len(lines)):] { // after the header and its rule
		if !strings.HasPrefix(line, "|") {
			break
		}
		cols := strings.Split(strings.Trim(line, "| "), "|")
		out = append(out, strings.TrimSpace(cols[len(cols)-1]))
	}
	return out
}

// Two process trees (a shell and the sleep it waits for) are kept on
// separate cores and swapped: each side is seen on a single core, on both
// cores over time, and the swapper exits, with its log line, once both
// trees are gone.
func TestSwapCores(t *testing.T) {
	py := python(t)
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Skipf("sched_getaffinity: %v", err)
	}
	if set.Count() < 2 {
		t.Skipf("this process may use %d CPU: swapping needs 2", set.Count())
	}
	if runtime.GOOS != "linux" {
		t.Skip("swap_cores.py reads /proc")
	}
	dir := t.TempDir()
	var sides [2]*exec.Cmd
	for i := range sides {
		// The shell is the tree's root; the sleep its child, pinned too.
		sides[i] = exec.Command("sh", "-c", "sleep 30 & wait")
		if err := sides[i].Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sides[i].Process.Kill(); _ = sides[i].Wait() })
		pidfile := filepath.Join(dir, "side"+strconv.Itoa(i)+".pid")
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(sides[i].Process.Pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "swap.log")
	swapper := exec.Command(py, "swap_cores.py", "--period", "0.02", "--log", logPath,
		filepath.Join(dir, "side0.pid"), filepath.Join(dir, "side1.pid"))
	var stderr bytes.Buffer
	swapper.Stderr = &stderr
	if err := swapper.Start(); err != nil {
		t.Fatal(err)
	}

	// Once the swapper has pinned a process (root and child, both sides),
	// it must stay on one core at a time, and show up on two different
	// cores over the samples.
	seen := [2]map[string]bool{{}, {}}
	pinned := map[int]bool{}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && (len(seen[0]) < 2 || len(seen[1]) < 2) {
		for i, c := range sides {
			for _, pid := range append([]int{c.Process.Pid}, children(c.Process.Pid)...) {
				cpus := allowedCPUs(pid)
				one := cpus != "" && !strings.ContainsAny(cpus, ",-")
				switch {
				case one:
					pinned[pid] = true
					seen[i][cpus] = true
				case cpus != "" && pinned[pid]:
					t.Errorf("side %d, pid %d: allowed on %q after being pinned, want one core", i, pid, cpus)
				}
			}
		}
		time.Sleep(7 * time.Millisecond)
	}
	for i := range seen {
		if len(seen[i]) < 2 {
			t.Errorf("side %d seen only on %v: never swapped", i, seen[i])
		}
	}

	for _, c := range sides {
		for _, pid := range children(c.Process.Pid) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	done := make(chan error, 1)
	go func() { done <- swapper.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("swap_cores.py: %v: %s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = swapper.Process.Kill()
		t.Fatal("swap_cores.py did not exit after both trees ended")
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(log))
	if len(fields) < 2 || fields[len(fields)-1] != "swaps" {
		t.Fatalf("log %q: want '... N swaps'", log)
	}
	if n, err := strconv.Atoi(fields[len(fields)-2]); err != nil || n < 2 {
		t.Errorf("log %q: want at least 2 swaps", log)
	}
}

// children lists pid's child processes (all its threads' children).
func children(pid int) []int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	var out []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// allowedCPUs is the Cpus_allowed_list of pid, "" once it is gone.
func allowedCPUs(pid int) string {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// engine_flags of anchor_vllm.py turns enginebench's vLLM constructor
// arguments into the command's flags, and refuses one it cannot pass on: an
// anchor built with other settings would not be the same engine.
func TestAnchorVLLMEngineFlags(t *testing.T) {
	py := python(t)
	const prog = `
import json, sys
import anchor_vllm as a
cargs = json.loads(sys.argv[1])
try:
    print(" ".join(a.engine_flags(cargs, {}, cli_mode=sys.argv[2] == "cli", len_slack=16 if sys.argv[2] == "cli" else 0)))
except SystemExit as e:
    print("exit:", e.code)
`
	base := `"model": "m", "dtype": "bfloat16", "seed": 0, "max_model_len": 256, "max_num_seqs": 64, "enable_prefix_caching": false, "skip_tokenizer_init": true, "disable_log_stats": false`
	tests := []struct {
		name, cargs, mode, want string
	}{
		{"enginebench's settings, in process", "{" + base + "}", "cells",
			"--model m --dtype bfloat16 --seed 0 --max-model-len 256 --max-num-seqs 64 --no-enable-prefix-caching --skip-tokenizer-init --disable-detokenize"},
		{"the command: a tokenizer, a longer context", "{" + base + "}", "cli",
			"--model m --dtype bfloat16 --seed 0 --max-model-len 272 --max-num-seqs 64 --no-enable-prefix-caching --disable-detokenize"},
		{"a prefill budget", "{" + base + `, "max_num_batched_tokens": 8192}`, "cli",
			"--model m --dtype bfloat16 --seed 0 --max-model-len 272 --max-num-seqs 64 --no-enable-prefix-caching --max-num-batched-tokens 8192 --disable-detokenize"},
		{"an argument it cannot pass on", "{" + base + `, "block_size": 32}`, "cli",
			"exit: anchor_vllm: enginebench ran vLLM with arguments this script does not map to CLI flags: ['block_size']"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(py, "-c", prog, tt.cargs, tt.mode).CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("flags\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}
