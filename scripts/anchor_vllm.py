#!/usr/bin/env python3
"""Anchor for enginebench's vLLM figures: vLLM's own offline throughput
benchmark (`vllm bench throughput`, module vllm.benchmarks.throughput).

    .venv/vllm-cpu/bin/python scripts/anchor_vllm.py OUT_DIR [--mode cells|cli] [--json FILE]

OUT_DIR is an enginebench --out directory: the engine settings come from its
manifest.json (the vllm engine's constructor arguments, its --engine-env
values) and, in cells mode, the prompts and the order of the batches from its
workload.json.

--mode cells (default): vLLM's benchmark code in-process, on enginebench's
  exact token-ID prompts. The command line is parsed by the benchmark's own
  parser (vllm.benchmarks.throughput.add_cli_args), the engine is built as
  `vllm bench throughput` builds it (LLM.from_engine_args(EngineArgs.from_cli_args(args))),
  and every cell of the workload, warm-ups first as in the workload, goes
  through the benchmark's own timed function,
  vllm.benchmarks.throughput._run_vllm_requests: its SamplingParams
  (temperature 1.0, top_p 1.0, ignore_eos, max_tokens = output length, no
  detokenize), its llm.generate(..., use_tqdm=True), its time.perf_counter
  around the call. This is exactly what run_vllm() does for --num-warmups and
  the timed run, with one engine for all cells instead of one per command.
  Output tokens are counted from the returned RequestOutputs, as its main()
  does.

--mode cli: the real `vllm bench throughput` command, once per batch size in
  --cli-batch-sizes, on its random dataset (--random-input-len/--random-output-len,
  --random-range-ratio 0: fixed lengths; token IDs differ from enginebench's,
  token counts are the same), with --num-warmups = the batch size and
  --num-prompts = the batch size x --cli-waves. All prompts go through one
  generate call; with --max-num-seqs = the batch size (as enginebench sets it)
  the engine runs them as --cli-waves back-to-back waves of one batch each
  (equal lengths and ignore_eos: a wave ends all together), so it compares
  with that many enginebench cells of that batch size: their output tokens
  over their summed wall time. Its
  printed "Throughput: X requests/s, Y total tokens/s, Z output tokens/s"
  line is parsed. The installed `vllm` console script fails (the distribution
  is named vllm-cpu, `importlib.metadata.version("vllm")` raises), so this
  runs vllm.entrypoints.cli.main.main() in a child python with that one
  lookup patched, and with a wrapper around its timed function that notes when
  each call starts and ends (outside the region the command times), so a run
  beside enginebench (--start-after) can be matched with enginebench's batches
  measured at the same time.

The environment is enginebench's for a vLLM worker: its fixed settings
(VLLM_WORKER_MULTIPROC_METHOD=spawn, VLLM_NO_USAGE_STATS, offline hub, no
telemetry, TOKENIZERS_PARALLELISM=false) and the run's --engine-env 'vllm: ...'
values, read from the manifest's command line.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

# The vLLM worker's environment in enginebench (offline/engine: common,
# vllm's own, OfflineEnv for a local model directory).
ENGINEBENCH_VLLM_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "VLLM_WORKER_MULTIPROC_METHOD": "spawn",
    "VLLM_NO_USAGE_STATS": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}

VERSION_PATCH = (
    "import importlib.metadata as m\n"
    "v = m.version\n"
    "m.version = lambda n: v('vllm-cpu') + '+cpu' if n == 'vllm' else v(n)\n"
)

# Records when the command's timed function (warm-up, then the measured call) starts and
# ends, by the wall clock, to SPANS_FILE: instrumentation around the function, outside the
# region its perf_counter times, so the figure it prints is the command's own.
SPANS_PATCH = (
    "import json as _j, time as _t\n"
    "import vllm.benchmarks.throughput as _T\n"
    "_f = _T._run_vllm_requests\n"
    "def _timed(*a, **k):\n"
    "    t0 = _t.time()\n"
    "    r = _f(*a, **k)\n"
    "    with open(SPANS_FILE, 'a') as o:\n"
    "        o.write(_j.dumps([t0, _t.time()]) + '\\n')\n"
    "    return r\n"
    "_T._run_vllm_requests = _timed\n"
)


def wait_for(paths, timeout=600):
    """Polls until every path exists and is not empty; exits after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not all(os.path.exists(p) and os.path.getsize(p) > 0 for p in paths):
        if time.monotonic() > deadline:
            sys.exit(f"anchor_vllm: {paths} not all written after {timeout} s")
        time.sleep(0.05)


def engine_env_from_manifest(manifest, engine="vllm"):
    """The --engine-env 'vllm: KEY=VALUE' values of the run's command line."""
    env = {}
    argv = manifest.get("command_line") or []
    vals = []
    for i, a in enumerate(argv):
        if a == "--engine-env" and i + 1 < len(argv):
            vals.append(argv[i + 1])
        elif a.startswith("--engine-env="):
            vals.append(a.split("=", 1)[1])
    for v in vals:
        name, _, kv = v.partition(":")
        if name.strip() != engine:
            continue
        k, _, val = kv.strip().partition("=")
        env[k.strip()] = val
    return env


def vllm_engine_record(manifest):
    for e in manifest.get("engines") or []:
        if e.get("name") == "vllm":
            return e
    sys.exit("the manifest has no vllm engine: run enginebench with --engine vllm=... first")


def engine_flags(cargs, eff, cli_mode, len_slack=0):
    """CLI flags of `vllm bench throughput` that reproduce enginebench's LLM(...)
    constructor arguments (len_slack: extra --max-model-len for the CLI's
    random prompts, which can come out a few tokens longer)."""
    flags = []
    known = {"model", "dtype", "seed", "max_model_len", "max_num_seqs", "enable_prefix_caching",
             "skip_tokenizer_init", "disable_log_stats", "enforce_eager"}
    unknown = sorted(set(cargs) - known)
    if unknown:
        sys.exit(f"anchor_vllm: enginebench ran vLLM with arguments this script does not map to CLI flags: {unknown}")
    flags += ["--model", cargs["model"], "--dtype", str(cargs["dtype"]), "--seed", str(cargs["seed"]),
              "--max-model-len", str(int(cargs["max_model_len"]) + len_slack), "--max-num-seqs", str(cargs["max_num_seqs"])]
    flags.append("--enable-prefix-caching" if cargs.get("enable_prefix_caching") else "--no-enable-prefix-caching")
    if cargs.get("disable_log_stats"):
        flags.append("--disable-log-stats")
    enforce = cargs.get("enforce_eager", eff.get("model_config.enforce_eager", False))
    if enforce:
        flags.append("--enforce-eager")
    if cargs.get("skip_tokenizer_init") and not cli_mode:
        # Token IDs in, token IDs out, as enginebench runs it. The CLI's random
        # dataset needs the tokenizer (it builds text prompts).
        flags.append("--skip-tokenizer-init")
    flags.append("--disable-detokenize")
    return flags


EFFECTIVE = {
    "model_config": ["model", "dtype", "max_model_len", "seed", "enforce_eager", "quantization", "generation_config", "skip_tokenizer_init"],
    "scheduler_config": ["max_num_seqs", "max_num_batched_tokens", "enable_chunked_prefill", "chunked_prefill_enabled", "async_scheduling", "policy"],
    "cache_config": ["block_size", "gpu_memory_utilization", "kv_cache_memory_bytes", "enable_prefix_caching", "num_gpu_blocks", "cache_dtype"],
    "parallel_config": ["tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "distributed_executor_backend"],
    "compilation_config": ["mode", "level", "cudagraph_mode", "max_cudagraph_capture_size", "cudagraph_capture_sizes"],
    "device_config": ["device", "device_type"],
}


def effective_config(llm):
    """The same fields enginebench's adapter records, for a side-by-side check."""
    vc = llm.llm_engine.vllm_config
    eff = {}
    for section, names in EFFECTIVE.items():
        obj = getattr(vc, section, None)
        for n in names:
            if obj is not None and hasattr(obj, n):
                v = getattr(obj, n)
                eff[f"{section}.{n}"] = v if isinstance(v, (bool, int, float, str, type(None))) else str(v)
    return eff


def normalize(v):
    if isinstance(v, list):
        return str(v)
    return str(v)


def run_cells(args, manifest, wl, rec):
    from vllm import LLM
    from vllm.benchmarks import throughput as T
    from vllm.benchmarks.datasets import SampleRequest
    from vllm.engine.arg_utils import EngineArgs
    from vllm.outputs import RequestOutput
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    cargs = rec.get("constructor_args") or {}
    eff_eb = rec.get("effective_config") or {}
    spec = wl["spec"]
    in_len, out_len = int(spec["input_len"]), int(spec["output_len"])
    argv = engine_flags(cargs, eff_eb, cli_mode=False) + ["--input-len", str(in_len), "--output-len", str(out_len)]
    parser = FlexibleArgumentParser()
    T.add_cli_args(parser)
    bargs = parser.parse_args(argv)
    engine_args = EngineArgs.from_cli_args(bargs)
    for k, v in cargs.items():
        got = getattr(engine_args, k, None)
        if normalize(got) != normalize(v):
            sys.exit(f"anchor_vllm: EngineArgs.{k} = {got!r} from the bench's parser, enginebench ran with {v!r}")

    t0 = time.perf_counter()
    llm = LLM.from_engine_args(engine_args)
    load_s = time.perf_counter() - t0
    eff = effective_config(llm)
    diffs = {k: {"enginebench": eff_eb.get(k), "anchor": eff.get(k)}
             for k in sorted(set(eff) | set(eff_eb)) if normalize(eff.get(k)) != normalize(eff_eb.get(k))}

    if args.start_after:
        wait_for([args.start_after])

    prompts = wl["prompts"]
    cells = []
    for cell in wl["cells"]:
        bs, first = int(cell["batch_size"]), int(cell["first"])
        reqs = [SampleRequest(prompt={"prompt_token_ids": p}, prompt_len=len(p), expected_output_len=out_len)
                for p in prompts[first:first + bs]]
        started_at = time.time()
        elapsed, outs = T._run_vllm_requests(llm, reqs, n=1, disable_detokenize=bargs.disable_detokenize,
                                             do_profile=False, prequeue_requests=False, enable_lora=False)
        ptok = otok = 0
        for ro in outs or []:
            if not isinstance(ro, RequestOutput):
                continue
            ptok += len(ro.prompt_token_ids) if ro.prompt_token_ids else 0
            otok += sum(len(o.token_ids) for o in ro.outputs if o is not None and o.token_ids is not None)
        # started_at/ended_at bracket the bench function (prompt building included), for load checks.
        cells.append({"batch_size": bs, "rep": int(cell["rep"]), "warmup": bool(cell["warmup"]), "first": first,
                      "started_at": started_at, "ended_at": time.time(), "wall_s": elapsed, "prompt_tokens": ptok, "output_tokens": otok})

    core = getattr(llm.llm_engine, "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
    return {
        "anchor": "vllm-bench-throughput-inprocess",
        "method": "vllm.benchmarks.throughput: parser add_cli_args, LLM.from_engine_args(EngineArgs.from_cli_args), "
                  "each cell timed by _run_vllm_requests (its SamplingParams: temperature=1.0, top_p=1.0, ignore_eos, max_tokens)",
        "bench_argv": argv,
        "workload_sha256": wl.get("sha256"),
        "load_s": load_s,
        "effective_config": eff,
        "effective_config_differences": diffs,
        "cells": cells,
    }


THROUGHPUT_RE = re.compile(r"Throughput: ([\d.]+) requests/s, ([\d.]+) total tokens/s, ([\d.]+) output tokens/s")


def run_cli(args, manifest, wl, rec, env):
    cargs = rec.get("constructor_args") or {}
    eff_eb = rec.get("effective_config") or {}
    spec = wl["spec"] if wl else manifest["workload"]
    in_len, out_len = int(spec["input_len"]), int(spec["output_len"])
    sizes = [int(s) for s in args.cli_batch_sizes.split(",") if s.strip()]
    runs = []
    for bs in sizes:
        if args.cli_waves > 1 and int(cargs["max_num_seqs"]) != bs:
            sys.exit(f"anchor_vllm: --cli-waves {args.cli_waves} needs max_num_seqs = the batch size ({bs}) for the waves "
                     f"to run one batch at a time; enginebench ran vLLM with max_num_seqs {cargs['max_num_seqs']}: "
                     f"run it with --batch-sizes {bs} only")
        jpath = os.path.join(args.tmp, f"vllm_bench_throughput_b{bs}.json")
        argv = ["vllm", "bench", "throughput"] + engine_flags(cargs, eff_eb, cli_mode=True, len_slack=args.cli_len_slack) + [
            "--dataset-name", "random", "--random-input-len", str(in_len), "--random-output-len", str(out_len),
            "--random-range-ratio", "0", "--num-prompts", str(bs * args.cli_waves), "--num-warmups", str(args.cli_warmups or bs),
            "--output-json", jpath,
        ]
        spans_path = os.path.join(args.tmp, f"vllm_bench_throughput_b{bs}.spans.jsonl")
        if os.path.exists(spans_path):
            os.remove(spans_path)
        code = (VERSION_PATCH + f"SPANS_FILE = {spans_path!r}\n" + SPANS_PATCH
                + f"import sys\nsys.argv = {argv!r}\nfrom vllm.entrypoints.cli.main import main\nmain()\n")
        print("anchor_vllm: " + " ".join(shlex.quote(a) for a in argv), file=sys.stderr, flush=True)
        t0, started_at = time.perf_counter(), time.time()
        p = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        total_s = time.perf_counter() - t0
        with open(os.path.join(args.tmp, f"vllm_bench_throughput_b{bs}.log"), "w") as f:
            f.write(p.stdout)
        if p.returncode != 0:
            sys.stderr.write(p.stdout[-4000:])
            sys.exit(f"anchor_vllm: vllm bench throughput failed (exit {p.returncode}) for batch {bs}")
        m = THROUGHPUT_RE.search(p.stdout)
        pt = re.search(r"Total num prompt tokens:\s+(\d+)", p.stdout)
        ot = re.search(r"Total num output tokens:\s+(\d+)", p.stdout)
        with open(jpath) as f:
            js = json.load(f)
        with open(spans_path) as f:
            spans = [json.loads(line) for line in f if line.strip()]
        runs.append({
            "batch_size": bs, "num_prompts": bs * args.cli_waves, "waves": args.cli_waves,
            "requests_per_s": float(m.group(1)), "total_tokens_per_s": float(m.group(2)),
            "output_tokens_per_s": float(m.group(3)),
            "prompt_tokens": int(pt.group(1)), "output_tokens": int(ot.group(1)),
            "expected_prompt_tokens": bs * args.cli_waves * in_len, "expected_output_tokens": bs * args.cli_waves * out_len,
            "elapsed_time": js["elapsed_time"], "process_s": total_s, "argv": argv,
            "started_at": started_at, "ended_at": started_at + total_s,
            # the measured call (the last one; a warm-up call comes first), by the wall clock
            "timed_started_at": spans[-1][0], "timed_ended_at": spans[-1][1],
        })
    return {"anchor": "vllm-bench-throughput-cli", "runs": runs}


def wait_for_engine_record(run_dir, timeout=600):
    """Waits until enginebench's manifest records the vllm engine's constructor
    arguments (it rewrites the manifest once the engine is up) and workload.json exists."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(os.path.join(run_dir, "manifest.json")) as f:
                m = json.load(f)
            if os.path.getsize(os.path.join(run_dir, "workload.json")) > 0 and any(
                    e.get("name") == "vllm" and e.get("constructor_args") for e in m.get("engines") or []):
                return
        except (OSError, ValueError):
            pass  # not written yet, or caught mid-write
        if time.monotonic() > deadline:
            sys.exit(f"anchor_vllm: {run_dir}/manifest.json has no vllm engine settings after {timeout} s")
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", help="an enginebench --out directory that ran --engine vllm")
    ap.add_argument("--mode", choices=["cells", "cli"], default="cells")
    ap.add_argument("--cli-batch-sizes", default="", help="cli mode: batch sizes (= --num-prompts) to run (default: the workload's largest)")
    ap.add_argument("--cli-warmups", type=int, default=0, help="cli mode: --num-warmups (default: the batch size)")
    ap.add_argument("--cli-waves", type=int, default=1,
                    help="cli mode: --num-prompts = the batch size x this; the engine runs them as this many waves of one batch")
    ap.add_argument("--cli-len-slack", type=int, default=16,
                    help="cli mode: added to --max-model-len. The random dataset decodes its token IDs to text and "
                         "re-encodes them; with a small tokenizer a prompt can come out a few tokens longer, and "
                         "run_vllm asserts max_model_len >= prompt + output. The prompt tokens actually sent are reported.")
    ap.add_argument("--json", help="also write the result here")
    ap.add_argument("--start-after", metavar="FILE",
                    help="run beside enginebench: wait for RUN_DIR's manifest.json and workload.json, then "
                         "(cells mode) build the engine and wait until FILE is not empty before the first cell, "
                         "(cli mode) start the command once FILE is not empty")
    ap.add_argument("--tmp", help="cli mode: where the bench's logs and JSON go (default: RUN_DIR)")
    args = ap.parse_args()
    args.tmp = args.tmp or args.run_dir

    if args.start_after:
        wait_for_engine_record(args.run_dir)
    with open(os.path.join(args.run_dir, "manifest.json")) as f:
        manifest = json.load(f)
    with open(os.path.join(args.run_dir, "workload.json")) as f:
        wl = json.load(f)
    rec = vllm_engine_record(manifest)
    if args.cli_waves < 1:
        sys.exit(f"anchor_vllm: --cli-waves {args.cli_waves}: give 1 or more")
    if not args.cli_batch_sizes:
        args.cli_batch_sizes = str(max(wl["spec"]["batch_sizes"]))

    env = dict(os.environ)
    env.update(ENGINEBENCH_VLLM_ENV)
    env.update(engine_env_from_manifest(manifest))
    set_env = {k: env[k] for k in sorted(set(ENGINEBENCH_VLLM_ENV) | set(engine_env_from_manifest(manifest)))}

    if args.mode == "cells":
        # Before vllm is imported: its envs module reads them lazily, but the
        # spawned engine core inherits os.environ.
        os.environ.update(set_env)
        doc = run_cells(args, manifest, wl, rec)
    else:
        if args.start_after:
            wait_for([args.start_after])
        doc = run_cli(args, manifest, wl, rec, env)
    doc["env"] = set_env
    doc["vllm_version"] = rec.get("versions", {}).get("vllm")
    text = json.dumps(doc, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
