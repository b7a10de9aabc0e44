#!/usr/bin/env python3
"""Anchor for enginebench's transformers figures: a plain Python script that
times the same generate calls directly.

It reads an enginebench run directory (OUT/workload.json, and OUT/manifest.json
for the model and dtype), loads the model the same way the adapter does
(AutoModelForCausalLM.from_pretrained(dir, dtype=..., local_files_only=True),
.to("cpu").eval()), and runs every cell of the workload in the workload's own
order, warm-ups included, so that the process goes through the same states.
Each call is timed with time.perf_counter around building the input tensors
and model.generate (the region the adapter's engine_s covers; enginebench's
wall_s adds the Go<->Python call around it). Output tokens are counted from the
returned tensor, up to and including a first EOS, as the adapter counts them.

Nothing here imports enginebench: it is the independent reference.

    .venv/cpu/bin/python lab/agreement/anchor_transformers.py OUT_DIR [--json FILE]

Prints one JSON document (and writes it to --json): per-cell wall time,
prompt and output tokens, and the settings used.
"""

import argparse
import json
import os
import platform
import sys
import time


def wait_for(paths, timeout=600):
    """Polls until every path exists and is not empty; exits after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p) and os.path.getsize(p) > 0 for p in paths):
        if time.monotonic() > deadline:
            sys.exit(f"anchor_transformers: {paths} not all written after {timeout} s")
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="an enginebench --out directory (workload.json, manifest.json)")
    ap.add_argument("--workload", help="workload.json (default RUN_DIR/workload.json)")
    ap.add_argument("--model", help="model directory (default: the manifest's)")
    ap.add_argument("--dtype", help="float32, bfloat16 or float16 (default: the manifest's)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch.set_num_threads (default: leave torch's default, as enginebench does)")
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--start-after", metavar="FILE",
                    help="once the model is loaded, wait until FILE is not empty before the first cell "
                         "(started beside enginebench: its results.jsonl, written after its first batch); "
                         "also waits for RUN_DIR's workload.json and manifest.json to appear")
    args = ap.parse_args()

    if args.start_after:
        wait_for([args.workload or os.path.join(args.run_dir, "workload.json"), os.path.join(args.run_dir, "manifest.json")])

    wl_path = args.workload or os.path.join(args.run_dir, "workload.json")
    with open(wl_path) as f:
        wl = json.load(f)
    manifest = {}
    mpath = os.path.join(args.run_dir, "manifest.json")
    if os.path.exists(mpath):
        with open(mpath) as f:
            manifest = json.load(f)
    model_dir = args.model or manifest.get("model", {}).get("path")
    dtype_name = args.dtype or manifest.get("model", {}).get("dtype") or "auto"
    sampling = manifest.get("sampling") or {"temperature": 0, "top_p": 1, "seed": 0}
    if not model_dir:
        sys.exit("no model: pass --model, or a run directory with manifest.json")

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = "auto" if dtype_name in (None, "auto") else getattr(torch, dtype_name)

    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, local_files_only=True).to("cpu").eval()
    load_s = time.perf_counter() - t0

    if args.start_after:
        wait_for([args.start_after])

    gen_cfg = model.generation_config
    pad = None
    for v in (getattr(gen_cfg, "pad_token_id", None), getattr(gen_cfg, "eos_token_id", None)):
        if isinstance(v, list):
            v = v[0] if v else None
        if v is not None:
            pad = v
            break
    if pad is None:
        pad = 0
    eos = getattr(gen_cfg, "eos_token_id", None)
    eos = set(eos if isinstance(eos, list) else ([eos] if eos is not None else []))

    prompts = wl["prompts"]
    spec = wl.get("spec", {})
    n = int(spec.get("output_len") or wl.get("output_len"))
    temperature = float(sampling.get("temperature", 0))
    kw = dict(max_new_tokens=n, min_new_tokens=n, do_sample=temperature > 0, pad_token_id=pad)
    if temperature > 0:
        kw.update(temperature=temperature, top_p=float(sampling.get("top_p", 1)))
    else:
        kw.update(temperature=None, top_p=None, top_k=None)

    cells = []
    for cell in wl["cells"]:
        bs, first = int(cell["batch_size"]), int(cell["first"])
        batch = prompts[first:first + bs]
        started_at = time.time()
        start = time.perf_counter()
        if temperature > 0:
            torch.manual_seed(int(sampling.get("seed", 0)))
        ids = torch.tensor(batch, dtype=torch.long, device="cpu")
        mask = torch.ones_like(ids)
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, **kw)
        wall = time.perf_counter() - start
        plen = ids.shape[1]
        out_tokens = 0
        for gen in out[:, plen:].tolist():
            k = len(gen)
            for j, tok in enumerate(gen):
                if tok in eos:
                    k = j + 1
                    break
            out_tokens += k
        cells.append({
            "batch_size": bs, "rep": int(cell["rep"]), "warmup": bool(cell["warmup"]), "first": first,
            "started_at": started_at, "wall_s": wall, "prompt_tokens": int(plen) * len(batch), "output_tokens": out_tokens,
        })

    doc = {
        "anchor": "transformers-plain-python",
        "workload_sha256": wl.get("sha256"),
        "model": model_dir,
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "torch_num_threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()},
        "load_s": load_s,
        "generate_kwargs": {k: v for k, v in kw.items()},
        "timing": "time.perf_counter around torch.tensor(inputs) + model.generate under torch.inference_mode",
        "cells": cells,
    }
    text = json.dumps(doc, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
