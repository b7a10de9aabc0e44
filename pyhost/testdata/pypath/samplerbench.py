"""The Python side of BenchmarkSamplerOverhead (pyhost/sampler_bench_test.go).

spin is the GIL-bound workload; spin_loops runs it repeatedly and stamps
each loop. start_sampler/stop_sampler run a sampler as a Python thread that
switches itself on and off in windows and, while on, does every interval
the work the Go samplers of the worker do (offline/hostmon and
offline/gpu/nvmlsampler), on the same data:

- host: /proc/<pid>/stat of the tree's known members (here the process
  itself), parsed for ppid, utime+stime+cutime+cstime, starttime and rss,
  checked against the last full scan; a full scan (list /proc, read every
  process's stat, build the tree) when the last one is older than the rescan
  interval (hostmon's default is 1 s) or a member changed. Each reading is
  kept in a bounded ring, like hostmon's.
- GPU: per device, the five calls nvmlsampler makes each reading (memory v2,
  utilization, power, energy counter, compute processes), answered by a
  mock device returning the same constants the Go benchmark's go-nvml mock
  returns; the processes are filtered to the watched tree (the host part's
  latest PIDs, as the worker wires hostmon.PIDs into nvmlsampler), and one
  record per device is appended to a bounded per-device ring.

One thread does both parts; that is the cheapest way to do it in Python
(two threads would mean twice the GIL hand-offs), so the comparison favours
Python, if anything. The mock device is plain Python; a real one would be
pynvml's ctypes calls into libnvidia-ml, which cost more and drop and
retake the GIL around every call.
"""

import collections
import os
import random
import threading
import time


def spin(n):
    """Pure-Python, GIL-bound work: n iterations of integer arithmetic."""
    acc = 0
    for i in range(n):
        acc = (acc * 31 + i) & 0xFFFFFFFF
    return acc


def spin_loops(arg):
    """Runs spin(arg["n"]) arg["k"] times in one call and returns each
    loop's [start, end] in CLOCK_MONOTONIC nanoseconds (time.monotonic_ns),
    the clock the benchmark's on/off windows are stamped with. One call, so
    the GIL is never released to Go between loops."""
    n, k = arg["n"], arg["k"]
    clock = time.monotonic_ns
    out = []
    for _ in range(k):
        t0 = clock()
        spin(n)
        out.append((t0, clock()))
    return out


def native_thread_id(_):
    """The OS thread id of the calling (main) thread, for its schedstat."""
    return threading.get_native_id()


# --- host part: what hostmon reads ---------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _read_stat(pid):
    """Reads and parses /proc/<pid>/stat with raw os calls, as hostmon does.
    Returns (pid, ppid, ticks, rss_pages, start)."""
    fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        b = os.read(fd, 4096)
    finally:
        os.close(fd)
    # The command name may contain spaces and parentheses: fields are
    # counted from the last ')'. f[0] is field 3 (state).
    f = b[b.rindex(b")") + 2 :].split()
    ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return (pid, int(f[1]), ticks, int(f[21]), int(f[19]))


def _tree_stats(root):
    """A full scan: every process's stat, the tree under root, root first.

    Each os call releases the GIL. With a CPU-bound main thread that can
    cost this thread a switch interval (5 ms) per call to get it back, so
    on an idle machine a scan of ~80 processes takes 0.5 to 1 s (the GIL
    convoy), and the sampler takes no reading meanwhile."""
    root_st = _read_stat(root)
    by_pid = {}
    children = collections.defaultdict(list)
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid == root:
            continue
        try:
            st = _read_stat(pid)
        except (OSError, ValueError, IndexError):
            continue  # exited since the directory was listed
        by_pid[pid] = st
        children[st[1]].append(pid)
    out = [root_st]
    queue = collections.deque([root])
    seen = {root}
    while queue:
        for c in children.get(queue.popleft(), ()):
            if c in seen:
                continue
            seen.add(c)
            out.append(by_pid[c])
            queue.append(c)
    out[1:] = sorted(out[1:])
    return out


class _HostPart:
    """What hostmon.Monitor does per reading, for the process's tree."""

    def __init__(self, root, rescan, capacity):
        self.root = root
        self.start = _read_stat(root)[4]
        self.rescan = rescan
        self.members = None
        self.last_full = 0.0
        self.ring = collections.deque(maxlen=capacity)
        self.pids = [root]

    def _members(self):
        out = []
        for known in self.members:
            try:
                st = _read_stat(known[0])
            except (OSError, ValueError, IndexError):
                return None
            if st[4] != known[4] or st[1] != known[1]:
                return None
            out.append(st)
        return out

    def read(self):
        now = time.monotonic()
        sts = None
        if self.members is not None and now - self.last_full < self.rescan:
            sts = self._members()
        if sts is None:
            sts = _tree_stats(self.root)
            if sts[0][4] != self.start:
                raise RuntimeError(f"pid {self.root} was reused")
            self.members, self.last_full = sts, now
        rss = ticks = 0
        for st in sts:
            ticks += st[2]
            rss += st[3]
        self.ring.append((time.monotonic_ns(), rss * _PAGE, ticks, len(sts)))
        self.pids = [st[0] for st in sts]


# --- GPU part: what nvmlsampler does per reading ---------------------------

_GIB = 1 << 30
_Memory = collections.namedtuple("_Memory", "total reserved free used")
_Util = collections.namedtuple("_Util", "gpu memory")
_Proc = collections.namedtuple("_Proc", "pid used_gpu_memory")
_NOT_AVAILABLE = (1 << 64) - 1


class _MockDevice:
    """Answers what the Go benchmark's go-nvml mock answers (see
    completeH100s in sampler_bench_test.go)."""

    def __init__(self, index, watched_pid):
        self.index = index
        self.used = (index + 1) * _GIB
        self.procs = [_Proc(watched_pid, 2 * _GIB), _Proc(1, _GIB)]

    def memory_info_v2(self):
        return _Memory(80 * _GIB, 0, 80 * _GIB - self.used, self.used)

    def utilization_rates(self):
        return _Util(50, 0)

    def power_usage(self):
        return 300000

    def total_energy_consumption(self):
        return 1_000_000

    def compute_running_processes(self):
        return self.procs


class _GPUPart:
    """What nvmlsampler.Sampler does per reading, over mock devices."""

    def __init__(self, devices, capacity, watch):
        self.devs = devices
        self.rings = [collections.deque(maxlen=capacity) for _ in devices]
        self.watch = watch

    def read(self):
        watched = {p for p in self.watch() if 0 < p < 1 << 32}
        for d, ring in zip(self.devs, self.rings):
            at = time.time()
            used = d.memory_info_v2().used
            util = d.utilization_rates().gpu
            power = d.power_usage()
            energy = d.total_energy_consumption()
            proc = 0
            for p in d.compute_running_processes():
                if p.pid not in watched:
                    continue
                if p.used_gpu_memory == _NOT_AVAILABLE:
                    proc = None  # one unknown member makes the sum unknown
                    break
                proc += p.used_gpu_memory
            ring.append((at, d.index, used, util, power, energy, proc))


class _Sampler(threading.Thread):
    """Samples in on-windows and idles in off-windows of window seconds
    each, the two in random order within each pair, as the Go benchmark
    toggles the Go samplers. The host part lives across windows: its full
    /proc scans come at the steady rate (one per rescan interval), not one
    per window as the Go samplers' do."""

    def __init__(self, interval, devices, rescan, capacity, window, seed):
        super().__init__(name="samplerbench-sampler", daemon=True)
        self.interval = interval
        self.window = window
        self.rng = random.Random(seed)
        self.host = _HostPart(os.getpid(), rescan, capacity)
        pid = os.getpid()
        devs = [_MockDevice(i, pid) for i in range(devices)]
        self.gpu = _GPUPart(devs, capacity, lambda: self.host.pids)
        self.halt = threading.Event()
        self.windows = []  # [on (1 or 0), from_ns, to_ns, process_cpu_ns, readings]
        self.error = None

    def _sample_until(self, end):
        """Reads now and every interval until end (time.monotonic); returns
        the number of readings."""
        n = 0
        nxt = time.monotonic()
        while True:
            # hostmon and nvmlsampler both read at start, then per tick.
            self.host.read()
            self.gpu.read()
            n += 1
            nxt += self.interval
            now = time.monotonic()
            if nxt < now:
                nxt = now  # late: read at once, like Go's one buffered tick
            if nxt >= end or self.halt.wait(nxt - now):
                return n

    def run(self):
        try:
            while not self.halt.is_set():
                order = (True, False) if self.rng.random() < 0.5 else (False, True)
                for on in order:
                    t0, c0 = time.monotonic_ns(), time.process_time_ns()
                    n = 0
                    if on:
                        n = self._sample_until(time.monotonic() + self.window)
                        # Idle out the rest of the window, as the Go
                        # samplers' ticker would.
                        self.halt.wait(max(0.0, t0 / 1e9 + self.window - time.monotonic()))
                    else:
                        self.halt.wait(self.window)
                    self.windows.append((int(on), t0, time.monotonic_ns(), time.process_time_ns() - c0, n))
                    if self.halt.is_set():
                        return
        except Exception as e:  # reported by stop_sampler
            self.error = repr(e)


_current = None


def start_sampler(arg):
    """Starts the sampler thread. arg: interval_s, devices, rescan_s,
    capacity, window_s, seed."""
    global _current
    if _current is not None:
        raise RuntimeError("a sampler is already running")
    _current = _Sampler(
        arg["interval_s"], arg["devices"], arg["rescan_s"], arg["capacity"], arg["window_s"], arg["seed"]
    )
    _current.start()


def stop_sampler(_):
    """Stops the sampler thread and returns its windows: [on (1 or 0),
    from_ns, to_ns, process_cpu_ns, readings] each, times from
    time.monotonic_ns and time.process_time_ns."""
    global _current
    s, _current = _current, None
    if s is None:
        raise RuntimeError("no sampler is running")
    s.halt.set()
    s.join()
    if s.error:
        raise RuntimeError("sampler thread failed: " + s.error)
    return s.windows
