package hostmon

import (
	"context"
	"errors"
	"fmt"
	"github.com/enginebench/enginebench/offline/sampling"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// spawn starts a shell script in its own process group and kills the whole
// group at the end of the test.
func spawn(t testing.TB, script string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", script, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	return cmd
}

// waitTree polls Tree until it has n members.
func waitTree(t testing.TB, pid, n int) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := tree(pid)
		if err != nil {
			t.Fatalf("tree(%d): %v", pid, err)
		}
		if len(pids) >= n || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// children reads the kernel's own list of pid's children, to cross-check.
func children(t *testing.T, pid int) []int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		t.Skipf("kernel without /proc/<pid>/task/<tid>/children: %v", err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

func TestTreeFindsDescendants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		script string
		size   int // root included
	}{
		{"two children", "sleep 5 & sleep 5 & wait", 3},
		{"grandchildren", `sh -c "sleep 5 & sleep 5 & wait" & sleep 5 & wait`, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := spawn(t, tt.script)
			root := cmd.Process.Pid
			pids := waitTree(t, root, tt.size)
			if len(pids) != tt.size || pids[0] != root {
				t.Fatalf("tree(%d) = %v, want root first and %d processes", root, pids, tt.size)
			}
			for _, c := range children(t, root) {
				if !slices.Contains(pids, c) {
					t.Errorf("child %d of %d missing from %v", c, root, pids)
				}
			}
			if !slices.IsSorted(pids[1:]) {
				t.Errorf("descendants not sorted: %v", pids)
			}
			// A sibling outside the tree (this test process) is not in it.
			if slices.Contains(pids, os.Getpid()) {
				t.Errorf("the test process is not a descendant but is in %v", pids)
			}
		})
	}
}

func TestTreeOfMissingProcess(t *testing.T) {
	t.Parallel()
	_, err := tree(1 << 30) // above pid_max on any kernel
	if !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Tree of a missing pid: %v, want ErrNoProcess", err)
	}
	if _, err := New(1<<30, Options{}); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("New of a missing pid: %v, want ErrNoProcess", err)
	}
}

func TestOwnProcessSample(t *testing.T) {
	t.Parallel()
	// A test binary sampled a millisecond after it starts may not have
	// been charged a single clock tick yet: burn some CPU first, so "CPU > 0"
	// tests the reading and not the scheduler's accounting granularity.
	burnCPU(t, 50*time.Millisecond)
	m, err := New(os.Getpid(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.SampleNow()
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSBytes == 0 || s.Processes < 1 || s.CPUSeconds <= 0 {
		t.Fatalf("own sample = %+v, want RSS > 0, ≥ 1 process, CPU > 0", s)
	}
	if p := m.PIDs(); p[0] != os.Getpid() {
		t.Fatalf("PIDs() = %v", p)
	}
}

func TestBusyChildCPU(t *testing.T) {
	t.Parallel()
	cmd := spawn(t, "while :; do :; done")
	m, err := New(cmd.Process.Pid, Options{Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); !errors.Is(err, sampling.ErrStarted) {
		t.Fatalf("second Start = %v", err)
	}
	// The kernel's own counter for the child, read just outside the
	// window, brackets what the window may report. How much CPU the child
	// gets depends on the machine's load, so only the bracket is checked.
	ticks := func() float64 {
		st, err := newScanner("/proc").readStat(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		return float64(st.ticks) / float64(m.sc.clkTck)
	}
	c0 := ticks()
	// A sample taken after c0 and before t0, so the window's start is
	// interpolated from a reading no older than c0 even if the sampling
	// goroutine lags on a loaded machine.
	if _, err := m.SampleNow(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	time.Sleep(400 * time.Millisecond)
	t1 := time.Now()
	st := m.Stats(t0, t1)
	c1 := ticks()
	if st.Samples < 2 || st.CPUSeconds == nil || st.MeanCPUCores == nil || st.PeakRSSBytes == nil || *st.PeakRSSBytes == 0 {
		t.Fatalf("stats = %+v", st)
	}
	// Slack: one 10 ms tick at each edge, where interpolation uses a
	// sample taken just outside [c0, c1].
	const tick = 0.01
	if cpu := *st.CPUSeconds; cpu <= 0 || cpu > c1-c0+2*tick || cpu < (c1-c0)/2-2*tick {
		t.Errorf("window CPU %.3f s, kernel says %.3f s around it", cpu, c1-c0)
	}
	// One single-threaded process cannot use more than one core.
	if c := *st.MeanCPUCores; c > 1+2*tick/0.4 {
		t.Errorf("busy loop used %.2f cores", c)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for m.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !errors.Is(m.Err(), ErrNoProcess) {
		t.Fatalf("Err() after the root exited = %v", m.Err())
	}
	m.Stop()
	m.Stop()
	if st := m.Stats(t0, t1); st.CPUSeconds == nil {
		t.Fatalf("data lost after Stop: %+v", st)
	}
	if err := m.Start(context.Background()); !errors.Is(err, sampling.ErrStopped) {
		t.Fatalf("Start after Stop = %v", err)
	}
}

// fakeProc is a procfs stand-in whose stat files the test rewrites between
// samples, so windows are exact.
type fakeProc struct {
	t   *testing.T
	dir string
}

type fakeProcess struct {
	pid, ppid       int
	utime, stime    uint64
	cutime, cstime  int64
	start, rssPages uint64
	comm            string
}

func (f fakeProc) set(ps ...fakeProcess) {
	f.t.Helper()
	ents, _ := os.ReadDir(f.dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(f.dir, e.Name()))
	}
	for _, p := range ps {
		if p.comm == "" {
			p.comm = "python3"
		}
		line := fmt.Sprintf("%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 %d %d %d %d 20 0 4 0 %d 123456789 %d 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
			p.pid, p.comm, p.ppid, p.pid, p.pid, p.utime, p.stime, p.cutime, p.cstime, p.start, p.rssPages)
		d := filepath.Join(f.dir, strconv.Itoa(p.pid))
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "stat"), []byte(line), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestWindowsOnScriptedTree(t *testing.T) {
	t.Parallel()
	fp := fakeProc{t, t.TempDir()}
	page := uint64(os.Getpagesize())
	// Root 10 with child 11 and grandchild 12; 99 is a stranger (parent 1).
	steps := [][]fakeProcess{
		{{pid: 10, ppid: 1, utime: 100, start: 5, rssPages: 1000}, {pid: 99, ppid: 1, utime: 5000, rssPages: 9999}},
		{{pid: 10, ppid: 1, utime: 150, start: 5, rssPages: 1000}, {pid: 11, ppid: 10, utime: 20, rssPages: 3000}, {pid: 99, ppid: 1, utime: 9000, rssPages: 9999}},
		{{pid: 10, ppid: 1, utime: 200, start: 5, rssPages: 1000}, {pid: 11, ppid: 10, utime: 60, stime: 10, rssPages: 5000}, {pid: 12, ppid: 11, utime: 10, rssPages: 2000}},
		// 12 exits and is reaped by 11: its 30 ticks move to 11's cutime.
		{{pid: 10, ppid: 1, utime: 250, start: 5, rssPages: 1000}, {pid: 11, ppid: 10, utime: 80, stime: 10, cutime: 30, rssPages: 2000}},
		// 11 exits unreaped by the tree: the counter drops.
		{{pid: 10, ppid: 1, utime: 260, start: 5, rssPages: 1000}},
	}
	m, err := New(10, Options{Proc: fp.dir})
	if err == nil {
		t.Fatal("New before the fake root exists succeeded")
	}
	fp.set(steps[0]...)
	if m, err = New(10, Options{Proc: fp.dir, RescanInterval: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	if m.sc.clkTck != 100 {
		t.Fatalf("clock ticks without auxv = %d, want the 100 fallback", m.sc.clkTck)
	}
	var at []time.Time
	for i, st := range steps {
		fp.set(st...)
		s, err := m.SampleNow()
		if err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
		at = append(at, s.At)
	}
	if got := m.PIDs(); !slices.Equal(got, []int{10}) {
		t.Errorf("PIDs after the last sample = %v, want [10]", got)
	}
	ptr := func(v float64) *float64 { return &v }
	tests := []struct {
		name      string
		from, to  int
		samples   int
		peakPages uint64
		meanBytes uint64
		procs     int
		cpu       *float64 // seconds
	}{
		{"first three", 0, 2, 3, 8000, (13000*page + 1) / 3, 3, ptr(1.80)},        // 100 → 280 ticks
		{"reaped child keeps counting", 2, 3, 2, 8000, 5500 * page, 3, ptr(0.90)}, // 280 → 370
		{"drop makes CPU unknown", 3, 4, 2, 3000, 2000 * page, 2, nil},
		{"single sample: no span", 1, 1, 1, 4000, 4000 * page, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := m.window(int64(at[tt.from].Sub(m.epoch)), int64(at[tt.to].Sub(m.epoch)))
			if st.Samples != tt.samples || *st.PeakRSSBytes != tt.peakPages*page || *st.MeanRSSBytes != tt.meanBytes || *st.PeakProcesses != tt.procs {
				t.Errorf("samples=%d peak=%d pages mean=%d B procs=%d, want %d %d %d %d", st.Samples,
					*st.PeakRSSBytes/page, *st.MeanRSSBytes, *st.PeakProcesses, tt.samples, tt.peakPages, tt.meanBytes, tt.procs)
			}
			switch {
			case tt.cpu == nil && st.CPUSeconds != nil:
				t.Errorf("CPUSeconds = %v, want nil", *st.CPUSeconds)
			case tt.cpu != nil && (st.CPUSeconds == nil || fmt.Sprintf("%.6f", *st.CPUSeconds) != fmt.Sprintf("%.6f", *tt.cpu)):
				t.Errorf("CPUSeconds = %v, want %v", st.CPUSeconds, *tt.cpu)
			}
		})
	}

	// PID reuse: same PID, different start time.
	fp.set(fakeProcess{pid: 10, ppid: 1, start: 777, rssPages: 1})
	if _, err := m.SampleNow(); !errors.Is(err, ErrNoProcess) || !strings.Contains(err.Error(), "reused") {
		t.Fatalf("sample after PID reuse = %v", err)
	}
}

func TestRescanOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	fp := fakeProc{t, t.TempDir()}
	root := fakeProcess{pid: 10, ppid: 1, start: 5, rssPages: 1}
	child := fakeProcess{pid: 11, ppid: 10, start: 6, rssPages: 2}
	fp.set(root)
	m, err := New(10, Options{Proc: fp.dir, RescanInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		procs   []fakeProcess
		age     time.Duration // pretend the last full scan is this old
		want    []int
		wantErr bool
	}{
		{"first sample scans", []fakeProcess{root}, 0, []int{10}, false},
		{"a new child waits for the rescan", []fakeProcess{root, child}, 0, []int{10}, false},
		{"rescan finds it", []fakeProcess{root, child}, 2 * time.Hour, []int{10, 11}, false},
		{"known members only", []fakeProcess{root, child, {pid: 12, ppid: 11, start: 7}}, 0, []int{10, 11}, false},
		{"a member exiting forces a rescan", []fakeProcess{root, {pid: 12, ppid: 10, start: 7}}, 0, []int{10, 12}, false},
		{"a reused member PID forces a rescan", []fakeProcess{root, {pid: 12, ppid: 1, start: 99}}, 0, []int{10}, false},
		{"root PID reused", []fakeProcess{{pid: 10, ppid: 1, start: 50}}, 0, nil, true},
	}
	for _, st := range steps {
		fp.set(st.procs...)
		m.scanMu.Lock()
		m.lastFull = m.lastFull.Add(-st.age)
		m.scanMu.Unlock()
		_, err := m.SampleNow()
		if st.wantErr {
			if !errors.Is(err, ErrNoProcess) {
				t.Errorf("%s: err = %v, want ErrNoProcess", st.name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := m.PIDs(); !slices.Equal(got, st.want) {
			t.Errorf("%s: PIDs = %v, want %v", st.name, got, st.want)
		}
	}
}

func TestWindowEdgeCases(t *testing.T) {
	t.Parallel()
	fp := fakeProc{t, t.TempDir()}
	fp.set(fakeProcess{pid: 7, ppid: 1, utime: 0, rssPages: 10})
	m, err := New(7, Options{Proc: fp.dir, Capacity: 3})
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Time
	for i := range 5 {
		fp.set(fakeProcess{pid: 7, ppid: 1, utime: uint64(100 * i), rssPages: uint64(10 + i)})
		s, err := m.SampleNow()
		if err != nil {
			t.Fatal(err)
		}
		at = append(at, s.At)
	}
	off := func(t time.Time) int64 { return int64(t.Sub(m.epoch)) }
	mid := func(a, b time.Time) int64 { return (off(a) + off(b)) / 2 }

	// No sample inside: everything nil.
	if st := m.window(mid(at[3], at[4]), mid(at[3], at[4])); st.Samples != 0 || st.PeakRSSBytes != nil || st.CPUSeconds != nil || st.MeanCPUCores != nil {
		t.Errorf("empty window = %+v", st)
	}
	// Reversed window.
	if st := m.window(off(at[4]), off(at[3])); st.Samples != 0 || st.PeakRSSBytes != nil {
		t.Errorf("reversed window = %+v", st)
	}
	// Capacity 3: samples 0 and 1 were dropped.
	if st := m.window(off(at[0]), off(at[4])); st.Samples != 3 || !st.Truncated {
		t.Errorf("window over dropped samples = %+v", st)
	}
	if st := m.window(off(at[2]), off(at[4])); st.Samples != 3 || st.Truncated {
		t.Errorf("window over retained samples = %+v", st)
	}
	// Interpolation: from the middle of 2..3 to the middle of 3..4 is
	// 100 ticks (1 s of CPU) whatever the spacing of the samples.
	st := m.window(mid(at[2], at[3]), mid(at[3], at[4]))
	if st.Samples != 1 || st.CPUSeconds == nil || fmt.Sprintf("%.3f", *st.CPUSeconds) != "1.000" {
		t.Errorf("interpolated window = %+v cpu=%v", st, st.CPUSeconds)
	}
	if got := len(m.Samples(at[0], at[4])); got != 3 {
		t.Errorf("Samples kept %d, want 3", got)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	tail := " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	tests := []struct {
		name string
		line string
		want procStat
		err  string
	}{
		{
			name: "plain",
			line: "42 (python3) S 1 42 42 0 -1 4194560 1 2 3 4 11 12 13 14 20 0 8 0 555 1000 77" + tail,
			want: procStat{pid: 42, ppid: 1, ticks: 11 + 12 + 13 + 14, start: 555, rss: 77},
		},
		{
			name: "comm with spaces and parentheses",
			line: "43 (a) b (c)) R 7 43 43 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 1000 3" + tail,
			want: procStat{pid: 43, ppid: 7, ticks: 11, start: 9, rss: 3},
		},
		{
			name: "negative cutime treated as zero",
			line: "44 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 -5 0 20 0 1 0 9 1000 3" + tail,
			want: procStat{pid: 44, ppid: 1, ticks: 2, start: 9, rss: 3},
		},
		{name: "truncated", line: "45 (x) S 1 1 1", err: "only"},
		{name: "no parentheses", line: "46 x S 1", err: "malformed stat line"},
		{name: "garbage field", line: "47 (x) S one 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 9 1000 3" + tail, err: "malformed field 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseStat = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestClockTicks(t *testing.T) {
	t.Parallel()
	if got := clockTicks("/proc"); got != 100 {
		// Not an error on exotic kernels, but worth seeing.
		t.Logf("USER_HZ on this machine: %d", got)
	}
	if got := clockTicks(t.TempDir()); got != 100 {
		t.Fatalf("fallback = %d, want 100", got)
	}
}

// BenchmarkSampleTree measures one sample (scan of /proc, tree build, sums)
// of a 4-process tree, on a machine with however many processes this one
// has (reported as procs/op).
func BenchmarkSampleTree(b *testing.B) {
	cmd := spawn(b, "sleep 60 & sleep 60 & sleep 60 & wait")
	waitTree(b, cmd.Process.Pid, 4)
	m, err := New(cmd.Process.Pid, Options{Capacity: 1024})
	if err != nil {
		b.Fatal(err)
	}
	all, _ := m.sc.listPIDs()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.SampleNow(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(all)), "procs/op")
}

// BenchmarkSampleTreeFullScan is one sample when every sample rescans all
// of /proc (RescanInterval shorter than the sampling interval).
func BenchmarkSampleTreeFullScan(b *testing.B) {
	cmd := spawn(b, "sleep 60 & sleep 60 & sleep 60 & wait")
	waitTree(b, cmd.Process.Pid, 4)
	m, err := New(cmd.Process.Pid, Options{Capacity: 1024, RescanInterval: time.Nanosecond})
	if err != nil {
		b.Fatal(err)
	}
	all, _ := m.sc.listPIDs()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.SampleNow(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(all)), "procs/op")
}

// BenchmarkPSSRollupSelf is the cost of the alternative not taken: reading
// this process's /proc/self/smaps_rollup for PSS.
func BenchmarkPSSRollupSelf(b *testing.B) {
	if _, err := os.ReadFile("/proc/self/smaps_rollup"); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := os.ReadFile("/proc/self/smaps_rollup"); err != nil {
			b.Fatal(err)
		}
	}
}

// burnCPU spins until this process has used at least d of CPU time, as the
// kernel reports it (getrusage), so /proc's tick-based counters are past zero.
func burnCPU(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= d {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("could not use %v of CPU in 10 s", d)
		}
	}
}
