#!/usr/bin/env python3
"""Keeps two process trees on separate CPU cores and swaps the cores between
them every PERIOD seconds, so that each side spends the same share of time on
each core.

Why: on a shared VM the vCPUs do not run at the same speed. The host schedules
each of them beside other tenants' work, so one vCPU can run 20-30 % slower
than the other for seconds at a time. Two benchmarks run side by side, one per
core, then differ by that much in either direction. Swapping the cores many
times per measured call gives both the same mix; pinning also keeps each
side's helper threads (enginebench's samplers, the Go runtime) on its own core
rather than on the other side's. Measured with two copies of the same plain
script side by side, 40 calls of 0.3 s each per round: per-round differences
of -14 .. +23 % free, -2 .. +3 % swapped every 50 ms.

    swap_cores.py [--period S] [--log FILE] PIDFILE_A PIDFILE_B

Each PIDFILE holds the PID of one side's root process (written when it starts);
the script waits for both, then pins every thread of every process in each tree
(descendants too: vLLM's engine-core process, enginebench's worker) to its half
of the CPUs it may use, and swaps the halves every period. It exits when both
trees are gone, and writes how many swaps it made to --log.
"""

import argparse
import os
import sys
import time


def read_pid(path):
    """The PID in path, or None while the file is missing or empty."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def tree(root):
    """root and all its descendants that are alive, from /proc's children lists."""
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        out.append(pid)
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return out


def pin(root, cpus):
    """Pins every thread of root's tree to cpus; False when the tree is gone."""
    procs = tree(root)
    for pid in procs:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass  # the thread ended meanwhile
    return bool(procs)


def halves(cpus):
    """Two equal, disjoint halves of cpus (an odd one out stays unused)."""
    cpus = sorted(cpus)
    n = len(cpus) // 2
    if n == 0:
        sys.exit(f"swap_cores: needs at least 2 CPUs, this process may use {len(cpus)}")
    return set(cpus[:n]), set(cpus[n:2 * n])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pidfile_a")
    ap.add_argument("pidfile_b")
    ap.add_argument("--period", type=float, default=0.05, help="seconds between swaps [0.05]")
    ap.add_argument("--log", help="append one line with the settings and the number of swaps here")
    ap.add_argument("--timeout", type=float, default=900, help="give up waiting for the PID files after this many seconds [900]")
    args = ap.parse_args()

    a_cpus, b_cpus = halves(os.sched_getaffinity(0))
    deadline = time.monotonic() + args.timeout
    pids = [None, None]
    while None in pids:
        pids = [read_pid(args.pidfile_a), read_pid(args.pidfile_b)]
        if time.monotonic() > deadline:
            sys.exit(f"swap_cores: no PID in {args.pidfile_a} and {args.pidfile_b} after {args.timeout:g} s")
        time.sleep(0.01)

    swaps, flip = 0, False
    while True:
        first, second = (b_cpus, a_cpus) if flip else (a_cpus, b_cpus)
        alive_a, alive_b = pin(pids[0], first), pin(pids[1], second)
        if not alive_a and not alive_b:
            break
        flip, swaps = not flip, swaps + 1
        time.sleep(args.period)
    if args.log:
        with open(args.log, "a") as f:
            f.write(f"swap_cores: pids {pids[0]} {pids[1]}, cpus {sorted(a_cpus)} / {sorted(b_cpus)}, "
                    f"every {args.period:g} s, {swaps} swaps\n")


if __name__ == "__main__":
    main()
