#!/usr/bin/env python3
"""Checks what an enginebench run measured on a GPU (scripts/gpu-check.sh).

Usage:
    python3 scripts/gpu_check.py RUN_DIR [--process-memory-note TEXT]

Reads RUN_DIR/manifest.json, results.jsonl and summary.json (standard library
only) and checks, printing one line per check:

  * the manifest records the GPU (driver, device name, memory, bandwidth);
  * every measured row has an NVML peak memory above 0;
  * every measured row has energy above 0, unless the driver says the device
    has no energy counter (the manifest's device "unavailable" map);
  * every measured row has the process tree's GPU memory above 0, or there is
    a reason it is absent: the driver's, or the note the caller found (for
    example a container without the host's PID namespace);
  * every batch size of every engine has a decode bound and 0 < MBU < 1.

Exit status 0 when every check passes, 1 otherwise, 2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


class Checks:
    def __init__(self):
        self.failed = 0

    def ok(self, what: str) -> None:
        print(f"ok    {what}")

    def fail(self, what: str) -> None:
        self.failed += 1
        print(f"FAIL  {what}")

    def note(self, what: str) -> None:
        print(f"note  {what}")

    def expect(self, cond: bool, what: str) -> None:
        (self.ok if cond else self.fail)(what)


def load(run_dir: str):
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    rows = []
    with open(os.path.join(run_dir, "results.jsonl"), encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    with open(os.path.join(run_dir, "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    return manifest, rows, summary


def check(manifest: dict, rows: list, summary, process_note: str = "") -> Checks:
    c = Checks()
    gpu = manifest.get("gpu") or {}
    devices = gpu.get("devices") or []
    if gpu.get("no_metrics_reason") or not devices:
        c.fail(f"the manifest records no GPU: {gpu.get('no_metrics_reason') or 'no devices'}")
        return c
    d0 = devices[0]
    c.ok(f"GPU in the manifest: {d0.get('name')} ({d0.get('memory_total_bytes', 0) / 2**30:.0f} GiB), "
         f"driver {gpu.get('driver_version')}, CUDA {gpu.get('cuda_driver_version')}, memory API {d0.get('memory_api')}")
    bw = d0.get("peak_bandwidth_bytes_per_s")
    c.expect(bool(bw), f"peak memory bandwidth {bw / 1e12:.2f} TB/s" if bw else "no peak memory bandwidth (memory clock or bus width unknown)")
    unavailable = {}
    for d in devices:
        unavailable.update(d.get("unavailable") or {})

    measured = [r for r in rows if not r.get("warmup")]
    if not measured:
        c.fail("no measured rows in results.jsonl")
        return c
    errors = [r for r in measured if r.get("error")]
    c.expect(not errors, f"{len(measured)} measured rows, none failed" if not errors else
             f"{len(errors)} of {len(measured)} measured rows failed: {errors[0]['error'][:200]}")

    def stat(r, key):
        vals = [g.get(key) for g in (r.get("gpu") or [])]
        vals = [v for v in vals if v is not None]
        return sum(vals) if vals else None

    def cell(r):
        return f"{r['engine']} bs={r['batch_size']} rep {r['rep']}"

    no_mem = [cell(r) for r in measured if not (stat(r, "peak_used_bytes") or 0) > 0]
    c.expect(not no_mem, "NVML peak memory above 0 in every measured row" if not no_mem else f"no NVML peak memory in {', '.join(no_mem)}")

    if "energy" in unavailable:
        c.note(f"energy not checked: the driver has no energy counter here ({unavailable['energy']})")
    else:
        no_energy = [cell(r) for r in measured if not (stat(r, "energy_joules") or 0) > 0]
        c.expect(not no_energy, "energy above 0 in every measured row" if not no_energy else f"no energy in {', '.join(no_energy)}")

    no_proc = [cell(r) for r in measured if not (stat(r, "peak_process_used_bytes") or 0) > 0]
    if not no_proc:
        c.ok("the worker's process tree holds GPU memory in every measured row")
    elif "process_memory" in unavailable:
        c.note(f"process-tree GPU memory absent: the driver gives none ({unavailable['process_memory']})")
    elif process_note:
        c.note(f"process-tree GPU memory absent in {len(no_proc)} rows: {process_note}")
    else:
        c.fail(f"process-tree GPU memory absent in {', '.join(no_proc[:4])}{' ...' if len(no_proc) > 4 else ''}, and no reason is known")

    cells = summary if isinstance(summary, list) else summary.get("cells", summary.get("rows", []))
    if not cells:
        c.fail("summary.json holds no cells")
    for s in cells:
        name = f"{s.get('engine')} bs={s.get('batch_size')}"
        bound, mbu = s.get("decode_bound_tokens_per_s"), s.get("mbu_median")
        if bound is None or mbu is None:
            c.fail(f"{name}: no decode bound or MBU (bound {bound}, MBU {mbu})")
        else:
            c.expect(0 < mbu < 1, f"{name}: decode bound {bound:.0f} tok/s, MBU {mbu:.3f}" + ("" if 0 < mbu < 1 else " (outside (0, 1))"))
    return c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--process-memory-note", default="", help="why the process tree's GPU memory may be absent")
    args = ap.parse_args(argv)
    try:
        manifest, rows, summary = load(args.run_dir)
    except (OSError, ValueError) as exc:
        print(f"gpu_check: cannot read the run in {args.run_dir}: {exc}", file=sys.stderr)
        return 2
    c = check(manifest, rows, summary, args.process_memory_note)
    print(f"{'all checks passed' if not c.failed else f'{c.failed} check(s) failed'}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
