#!/usr/bin/env python3
"""Writes run/, a synthetic agreement directory for agreement_report_test.go,
in the layout scripts/agreement.sh leaves. Deterministic (seeded): rerun it
only when that layout changes, then refresh the golden files with
`go test ./scripts -update`.

What it holds, so that the tests know each cell's answer:
  - 2 rounds; in each, enginebench and the anchors side by side in time.
  - transformers, batch 1: enginebench = anchor x 1.01 in every repetition
    (diff +1 %, a tight interval: PASS); one anchor repetition of round 1
    falls in a burst of other processes' CPU, and so does enginebench's
    beside it (both left out).
  - transformers, batch 4: enginebench = anchor x 1.10 (FAIL); the anchor's
    last repetition of round 2 lasts 5 s longer: it shows in the min-max one
    after the other, and is left out when the sides ran at once (enginebench
    had stopped measuring).
  - vllm, batch 4 (its benchmark function): enginebench scattered +-20 %
    around the anchor (INCONCLUSIVE).
  - 3 pairs of the `vllm bench throughput` command, batch 4: enginebench
    measured 6 batches, 4 of them inside the command's timed call, and was
    then stopped (Ctrl-C: a last row with an error, after the command's
    end). In pair 3 a batch inside the command's timed call failed: the pair
    does not count.
"""

import datetime
import json
import os
import random
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
from agreement_report import epoch  # noqa: E402  the reader's own parser of Go's times

RUN = os.path.join(HERE, "run")
T0 = 1_800_000_000.0
SHA = "ab" * 32
IN, OUT = 16, 8


def rfc3339(t):
    # Go's format: nanoseconds, Z.
    whole = int(t)
    ns = round((t - whole) * 1e9)
    return datetime.datetime.fromtimestamp(whole, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def write_json(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def eb_row(engine, bs, rep, warmup, t, wall):
    return {"schema": 1, "engine": engine, "batch_size": bs, "rep": rep, "warmup": warmup, "started_at": rfc3339(t),
            "wall_s": wall, "prompt_tokens": bs * IN, "output_tokens": bs * OUT, "expected_output_tokens": bs * OUT,
            "workload_sha256": SHA}


def main():
    rng = random.Random(7)
    shutil.rmtree(RUN, ignore_errors=True)
    bursts = []  # (t0, t1): other processes busy
    phases = []
    t = T0
    # cell: (engine, batch, base tok/s, enginebench factor, enginebench noise)
    # Batches of about a second, 0.6 s apart: other_cpu.tsv's 0.5 s samples then tell them apart.
    cells = [("transformers", 1, 8.0, 1.01, 0.0), ("transformers", 4, 24.0, 1.10, 0.0), ("vllm", 4, 30.0, 1.0, 0.20)]
    reps = 6
    for r in (1, 2):
        d = os.path.join(RUN, f"round{r}")
        rows, anchors = [], {"transformers": [], "vllm": []}
        start = t
        for engine, bs, base, factor, noise in cells:
            for rep in range(-1, reps):
                a = base * (1 + rng.uniform(-0.01, 0.01)) * (0.9 if r == 2 else 1.0)  # round 2: a slower machine
                e = a * factor * (1 + rng.uniform(-noise, noise))
                wall_e, wall_a = bs * OUT / e, bs * OUT / a
                rows.append(eb_row(engine, bs, max(rep, 0), rep < 0, t, wall_e))
                ta = t + 0.01
                if r == 2 and engine == "transformers" and bs == 4 and rep == reps - 1:
                    wall_a += 5.0  # ends after enginebench's last repetition of transformers
                    a = bs * OUT / wall_a
                anchors[engine].append({"batch_size": bs, "rep": max(rep, 0), "warmup": rep < 0, "first": 0,
                                        "started_at": ta, "ended_at": ta + wall_a, "wall_s": wall_a,
                                        "prompt_tokens": bs * IN, "output_tokens": bs * OUT})
                if r == 1 and engine == "transformers" and bs == 1 and rep == 2:
                    bursts.append((ta, ta + wall_a))
                t += max(wall_e, wall_a) + 0.6
        write_jsonl(os.path.join(d, "enginebench", "results.jsonl"), rows)
        write_json(os.path.join(d, "anchor_transformers.json"),
                   {"anchor": "transformers-plain-python", "workload_sha256": SHA, "cells": anchors["transformers"]})
        write_json(os.path.join(d, "anchor_vllm.json"),
                   {"anchor": "vllm-bench-throughput-fn", "workload_sha256": SHA, "cells": anchors["vllm"]})
        for name in ("enginebench", "anchor"):
            phases.append({"phase": f"round{r}-{name}", "rc": 0, "elapsed_s": t - start, "machine_cpu_s": 2 * (t - start),
                           "own_cpu_s": t - start, "other_cpu_s": t - start, "load_before": [1.0, 1.0, 1.0], "load_after": [2.0, 1.5, 1.2]})
        t += 10

    for p in (1, 2, 3):
        d = os.path.join(RUN, f"cli{p}")
        start, bs = t, 4
        rows = []
        for rep in range(-1, 6):
            wall = bs * OUT / (30.0 * (1 + rng.uniform(-0.01, 0.01)))
            rows.append(eb_row("vllm", bs, max(rep, 0), rep < 0, t, wall))
            if p == 3 and rep == 2:
                rows[-1].update(error="RuntimeError: engine step failed", flags=["error", "short_output"], output_tokens=0)
            t += wall
        # Stopped once the command has ended: the interrupted batch.
        rows.append(dict(eb_row("vllm", bs, 6, False, t + 0.5, 0.05), error="KeyboardInterrupt: interrupted",
                         flags=["error", "short_output"], output_tokens=0))
        # The command's timed call covers enginebench's batches 1..4 (rows[2..5]).
        c0 = epoch(rows[2]["started_at"]) - 0.001
        c1 = epoch(rows[5]["started_at"]) + rows[5]["wall_s"] + 0.001
        n = 4 * bs
        write_jsonl(os.path.join(d, "enginebench", "results.jsonl"), rows)
        write_json(os.path.join(d, "anchor_vllm_cli.json"), {"anchor": "vllm-bench-throughput-cli", "runs": [{
            "batch_size": bs, "num_prompts": n, "waves": 4, "output_tokens_per_s": round(n * OUT / (c1 - c0) * 0.98, 2),
            "prompt_tokens": n * IN + p, "output_tokens": n * OUT, "expected_prompt_tokens": n * IN, "expected_output_tokens": n * OUT,
            "started_at": start - 2.0, "ended_at": t + 1.0, "timed_started_at": c0, "timed_ended_at": c1}]})
        for name in ("enginebench", "anchor-vllm-cli"):
            phases.append({"phase": f"cli{p}-{name}", "rc": 0, "elapsed_s": t - start, "machine_cpu_s": 2 * (t - start),
                           "own_cpu_s": t - start, "other_cpu_s": 0.5, "load_before": [1.0, 1.0, 1.0], "load_after": [1.1, 1.0, 1.0]})
        t += 10

    # Other processes: 0.02 cores, 1 core during the bursts; sampled every 0.5 s.
    with open(os.path.join(RUN, "other_cpu.tsv"), "w") as f:
        s, cum = T0 - 1, 0.0
        while s < t + 1:
            f.write(f"{s:.3f}\t{cum:.3f}\n")
            busy = any(s < b1 and s + 0.5 > b0 for b0, b1 in bursts)
            cum += 0.5 * (1.0 if busy else 0.02)
            s += 0.5
    with open(os.path.join(RUN, "phases.jsonl"), "w") as f:
        for p in phases:
            f.write(json.dumps(p) + "\n")
    with open(os.path.join(RUN, "swap_cores.log"), "w") as f:
        f.write("swap_cores: pids 101 102, cpus [0] / [1], every 0.05 s, 1200 swaps\n")
    for n, text in (("uptime-start.txt", " 12:00:00 up 1:00,  0 user,  load average: 0.10, 0.20, 0.30"),
                    ("uptime-end.txt", " 12:10:00 up 1:10,  0 user,  load average: 1.90, 1.50, 1.00")):
        with open(os.path.join(RUN, n), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
