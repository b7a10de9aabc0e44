#!/usr/bin/env python3
"""The verdict of lab/agreement/agreement.sh: reads one agreement directory and prints
(and writes to OUT/agreement.txt) the table of enginebench against its anchors.

    agreement_report.py OUT [--rounds N] [--cli-pairs N] [--cli-side enginebench|plain] [--concurrent]
                            [--swap-period S] [--tolerance PCT] [--max-other-cores X] [--min-clean N]

OUT holds what agreement.sh wrote: roundR/enginebench (an enginebench run),
roundR/anchor_transformers.json and roundR/anchor_vllm.json (the anchors on
the same workload), cliP/enginebench and cliP/anchor_vllm_cli.json (the
`vllm bench throughput` pairs; with --cli-side plain, cliP/plain instead of
cliP/enginebench: a plain script's batches in the same form), other_cpu.tsv (the CPU seconds other processes
took, sampled), phases.jsonl and uptime-start/end.txt.

For each cell, diff is the median over rounds (pairs) of each round's
enginebench median / anchor median - 1 of output tokens/s, with a 95 % cluster
bootstrap interval (rounds with replacement, then the repetitions within
them). PASS when the interval lies within +-tolerance, FAIL when wholly
outside, INCONCLUSIVE otherwise.

Exit status: 0 all PASS, 1 a FAIL (or token counts or workloads that differ),
3 inconclusive. Standard library only, and nothing from enginebench: the
anchors' judge must not share code with what it judges.
"""

import argparse
import bisect
import datetime
import json
import os
import random
import statistics
import sys

# The engine column of the command's rows, by who faced it (--cli-side).
CLI_ENGINE = {"enginebench": "vllm", "plain": "vllm (plain script)"}
ANCHOR_NAMES = {
    ("transformers", "same prompts"): "plain python, same calls",
    ("vllm", "same prompts"): "vllm bench fn, same prompts",
    **{(engine, "CLI"): "vllm bench throughput CLI" for engine in CLI_ENGINE.values()},
}


class OtherCPU:
    """The CPU other processes used, from other_cpu.tsv: lines of
    'unix time<TAB>cumulative CPU seconds of every process outside the script'."""

    def __init__(self, path):
        self.ts, self.cum = [], []
        with open(path) as f:
            for line in f:
                a, b = line.split()
                self.ts.append(float(a))
                self.cum.append(float(b))

    def cores(self, t0, t1):
        """CPU cores other processes used over [t0, t1], from the samples around it
        (infinite when no two samples bracket it: unknown counts as busy)."""
        i0 = max(0, bisect.bisect_right(self.ts, t0) - 1)
        i1 = min(len(self.ts) - 1, bisect.bisect_left(self.ts, t1))
        if i1 <= i0:
            return float("inf")
        return (self.cum[i1] - self.cum[i0]) / (self.ts[i1] - self.ts[i0])


def epoch(rfc3339):
    """Unix seconds of an RFC 3339 UTC time as Go writes it (nanoseconds;
    datetime parses microseconds only)."""
    main, _, frac = rfc3339.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat(main).replace(tzinfo=datetime.timezone.utc).timestamp() + float("0." + (frac or "0"))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def paired(es, as_, rounds):
    """The paired difference in per cent: the median over rounds of each
    round's med(enginebench) / med(anchor) - 1. A round (or pair) puts the two
    sides on the same machine state, side by side or back to back, so the
    ratio within it cancels the machine's drift between rounds, which pooling
    all rounds' repetitions would add to both medians."""
    return med([(med(es[r]) / med(as_[r]) - 1) * 100 for r in rounds])


def strata(xs):
    """[(round, value)] -> {round: [values]}."""
    d = {}
    for r, v in xs:
        d.setdefault(r, []).append(v)
    return d


def interval(e, a, n=2000, seed=1):
    """95% bootstrap interval of the paired difference. e and a are
    [(round, value)]. A cluster bootstrap: each resample draws the rounds with
    replacement, then the repetitions within each drawn round and side."""
    rng = random.Random(seed)
    es, as_ = strata(e), strata(a)
    rounds = sorted(set(es) & set(as_))
    if not rounds:
        return float("nan"), float("nan")
    ds = []
    for _ in range(n):
        picked = rng.choices(rounds, k=len(rounds))
        # Drawn rounds are renamed 0..k-1: a round drawn twice counts twice.
        de = {i: rng.choices(es[r], k=len(es[r])) for i, r in enumerate(picked)}
        da = {i: rng.choices(as_[r], k=len(as_[r])) for i, r in enumerate(picked)}
        ds.append(paired(de, da, range(len(picked))))
    ds.sort()
    return ds[int(0.025 * n)], ds[int(0.975 * n) - 1]


def eb_rows(d, side="enginebench"):
    """The rows of the enginebench run in d/enginebench/results.jsonl, or the
    plain script's own records in d/plain/stream.jsonl (anchor_vllm.py --mode
    stream), which carry the same fields."""
    path = os.path.join(d, side, "results.jsonl" if side == "enginebench" else "stream.jsonl")
    if not os.path.exists(path):
        sys.exit(f"agreement_report: {path} is missing: is --cli-side ({side}) the side agreement.sh ran (CLI_SIDE)?")
    with open(path) as f:
        return [json.loads(line) for line in f]


class Samples:
    """Every measured repetition: by[(engine, batch, kind)][side] is a list of
    [round, tok/s, clean, t0, t1], side "eb" (enginebench) or "an" (anchor),
    kind "same prompts" or "CLI"."""

    def __init__(self, other, max_other):
        self.by, self.other, self.max_other = {}, other, max_other
        self.sha, self.cli_prompts, self.tokens_ok = set(), [], True
        # An anchor's own "label" (anchor_vllm.py --call plain) names its row.
        self.names = dict(ANCHOR_NAMES)

    def add(self, key, side, r, value, t0, t1, ok=True):
        clean = ok and self.other.cores(t0, t1) <= self.max_other
        self.by.setdefault(key, {"eb": [], "an": []})[side].append([r, value, clean, t0, t1])

    def read_round(self, d, r):
        """Round r: enginebench's run and the anchors on its workload."""
        ebcells = {}
        for x in eb_rows(d):
            self.sha.add(x["workload_sha256"])
            if x.get("warmup"):
                continue
            if x["output_tokens"] != x["expected_output_tokens"]:
                self.tokens_ok = False
            t0 = epoch(x["started_at"])
            ebcells[(x["engine"], x["batch_size"], x["rep"])] = x
            self.add((x["engine"], x["batch_size"], "same prompts"), "eb", r, x["output_tokens"] / x["wall_s"], t0, t0 + x["wall_s"])
        for engine, fn in (("transformers", "anchor_transformers.json"), ("vllm", "anchor_vllm.json")):
            p = os.path.join(d, fn)
            if not os.path.exists(p):
                continue
            with open(p) as f:
                doc = json.load(f)
            self.sha.add(doc.get("workload_sha256"))
            if doc.get("label"):
                self.names[(engine, "same prompts")] = doc["label"]
            for c in doc["cells"]:
                if c["warmup"]:
                    continue
                e = ebcells.get((engine, c["batch_size"], c["rep"]))
                if e is None or e["output_tokens"] != c["output_tokens"] or e["prompt_tokens"] != c["prompt_tokens"]:
                    self.tokens_ok = False
                t1 = c.get("ended_at", c["started_at"] + c["wall_s"])
                self.add((engine, c["batch_size"], "same prompts"), "an", r, c["output_tokens"] / c["wall_s"], c["started_at"], t1)

    def read_cli_pair(self, d, p, concurrent, side="enginebench"):
        """Pair p of the command: per batch size, enginebench's measured batches
        as one figure (their output tokens over their summed wall time: what the
        command's one call of that many waves gives), against the command's
        output tokens/s. Both at once, agreement.sh stops enginebench (Ctrl-C)
        once the command has ended: the batch it interrupts is a row with an
        error, not a measurement. A failed batch among those that make
        enginebench's side voids the pair. side "plain": a plain script's
        batches (anchor_vllm.py --mode stream) face the command instead."""
        runs, failed = {}, {}
        engine = CLI_ENGINE[side]
        for x in eb_rows(d, side):
            if x["engine"] != "vllm" or x.get("warmup"):
                continue
            if x.get("error"):
                t0 = epoch(x["started_at"])
                failed.setdefault(x["batch_size"], []).append((t0, t0 + x["wall_s"]))
                continue
            if x["output_tokens"] != x["expected_output_tokens"]:
                self.tokens_ok = False
            t0 = epoch(x["started_at"])
            runs.setdefault(x["batch_size"], []).append((t0, t0 + x["wall_s"], x["wall_s"], x["output_tokens"]))
        with open(os.path.join(d, "anchor_vllm_cli.json")) as f:
            doc = json.load(f)
        for run in doc["runs"]:
            if run["output_tokens"] != run["expected_output_tokens"]:
                self.tokens_ok = False
            self.cli_prompts.append((p, run["num_prompts"], run["prompt_tokens"], run["expected_prompt_tokens"]))
            bs, xs = run["batch_size"], runs.get(run["batch_size"], [])
            c0, c1 = run.get("timed_started_at", run["started_at"]), run.get("timed_ended_at", run["ended_at"])
            ok = True
            if concurrent:
                # enginebench's batches inside the command's timed call; the pair counts
                # only if enginebench was measuring all through that call.
                ok = bool(xs) and min(x[0] for x in xs) <= c0 and c1 <= max(x[1] for x in xs)
                xs = [x for x in xs if c0 <= x[0] and x[1] <= c1]
                ok = ok and bool(xs)
            if xs:
                t0, t1 = min(x[0] for x in xs), max(x[1] for x in xs)
                # A batch that failed among the ones that count voids the pair.
                ok = ok and not any(f0 < t1 and f1 > t0 for f0, f1 in failed.get(bs, []))
            self.add((engine, bs, "CLI"), "an", p, run["output_tokens_per_s"], c0, c1, ok)
            if xs:
                self.add((engine, bs, "CLI"), "eb", p, sum(x[3] for x in xs) / sum(x[2] for x in xs), t0, t1, ok)

    def drop_unpaired(self):
        """Both sides at once: a repetition counts only if the other side was
        measuring all through it. The anchor starts a few seconds after
        enginebench and ends later; in the tails one side runs alone, on a
        machine twice as free. Returns how many clean repetitions it dropped."""
        spans = {}
        for (engine, _, kind), s in self.by.items():
            if kind != "same prompts":
                continue
            for side in ("eb", "an"):
                for r, _, _, t0, t1 in s[side]:
                    lo, hi = spans.get((engine, r, side), (t0, t1))
                    spans[(engine, r, side)] = (min(lo, t0), max(hi, t1))
        dropped = 0
        for (engine, _, kind), s in self.by.items():
            if kind != "same prompts":
                continue
            for side, other in (("eb", "an"), ("an", "eb")):
                for x in s[side]:
                    o = spans.get((engine, x[0], other))
                    if x[2] and (o is None or x[3] < o[0] or x[4] > o[1]):
                        x[2] = False
                        dropped += 1
        return dropped


def verdict_rows(samples, rounds, cli_pairs, tol, min_clean):
    """One table row per cell and the verdicts."""
    rows, verdicts = [], []
    for key in sorted(samples.by, key=lambda k: (k[0], k[1], k[2] != "same prompts")):
        engine, bs, kind = key
        s = samples.by[key]
        if not s["an"] or not s["eb"]:
            continue
        ec = [(r, v) for r, v, ok, *_ in s["eb"] if ok]
        ac = [(r, v) for r, v, ok, *_ in s["an"] if ok]
        e, a = [v for _, v in ec], [v for _, v in ac]
        es, as_ = strata(ec), strata(ac)
        lo = hi = diff = pooled = float("nan")
        if len(e) < min_clean or len(a) < min_clean:
            verdict = "INCONCLUSIVE"
        else:
            both = sorted(set(es) & set(as_))
            diff = paired(es, as_, both) if both else float("nan")
            pooled = (med(e) / med(a) - 1) * 100
            lo, hi = interval(ec, ac)
            verdict = "PASS" if -tol <= lo and hi <= tol else "FAIL" if lo > tol or hi < -tol else "INCONCLUSIVE"
        verdicts.append(verdict)
        per_round = []
        for r in range(1, (cli_pairs if kind == "CLI" else rounds) + 1):
            per_round.append(f"{(med(es[r]) / med(as_[r]) - 1) * 100:+.1f}" if r in es and r in as_ else "-")
        fmt = lambda xs, n: (f"{med(xs):.1f} [{min(xs):.1f}-{max(xs):.1f}] n={len(xs)}/{n}" if xs else f"- n=0/{n}")
        rows.append([engine, str(bs), samples.names[(engine, kind)], fmt(e, len(s["eb"])), fmt(a, len(s["an"])),
                     f"{diff:+.2f}% [{lo:+.1f}, {hi:+.1f}]", f"{pooled:+.2f}%", " ".join(per_round), verdict])
    return rows, verdicts


def table(rows, tol):
    hdr = ["engine", "batch", "anchor", "enginebench out tok/s median [min-max] n=clean/all",
           "anchor out tok/s median [min-max] n=clean/all", "diff [95% CI]", "pooled", "per round %", f"CI within +-{tol:g}%"]
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    line = lambda r: "| " + " | ".join(str(c).ljust(n) for c, n in zip(r, w)) + " |"
    return "\n".join([line(hdr), "|" + "|".join("-" * (n + 2) for n in w) + "|"] + [line(r) for r in rows])


def report(out, rounds, cli_pairs, concurrent, swap_period, tol, max_other, min_clean, cli_side="enginebench"):
    """The report's text and the exit status."""
    samples = Samples(OtherCPU(os.path.join(out, "other_cpu.tsv")), max_other)
    for r in range(1, rounds + 1):
        samples.read_round(os.path.join(out, f"round{r}"), r)
    for p in range(1, cli_pairs + 1):
        samples.read_cli_pair(os.path.join(out, f"cli{p}"), p, concurrent, cli_side)
    dropped = samples.drop_unpaired() if concurrent else 0
    rows, verdicts = verdict_rows(samples, rounds, cli_pairs, tol, min_clean)
    who = "enginebench's" if cli_side == "enginebench" else "the plain script's"

    text = table(rows, tol)
    text += ("\n\nthroughput = output tokens / time of one generate call; enginebench: wall_s (Go clock around the call, on the interpreter's thread);"
             "\nanchors: their own perf_counter. Medians over the measured repetitions of all rounds; a repetition is left"
             f"\nout (clean < all) when other processes used more than {max_other:g} cores meanwhile")
    text += (f",\nor (both sides at once) when the other side was not measuring all through it ({dropped} left out so)." if concurrent else ".")
    if swap_period:
        text += f"\nBoth at once, each side on its own half of the CPUs, the halves swapped every {swap_period:g} s (lab/agreement/swap_cores.py)."
    elif concurrent:
        text += "\nBoth at once, the cores left to the scheduler (SWAP_PERIOD=0)."
    text += ("\ndiff = the median over rounds (pairs) of each round's enginebench median / anchor median - 1: paired, so the"
             "\nmachine's drift between rounds cancels; with a 95% cluster-bootstrap interval (rounds drawn with replacement,"
             "\nthen repetitions within each); PASS: the interval lies within the tolerance. pooled = the median of all"
             "\nenginebench repetitions / the median of all anchor repetitions - 1, for reference."
             f"\nThe CLI rows pair fresh processes ({cli_pairs} pairs; per round % = per pair): {who} measured batches"
             "\n(output tokens / summed wall_s) against one `vllm bench throughput` run after its warm-up batch (its own random"
             "\nprompts, same token counts, the batches as waves of one call); "
             + (f"both at once: {who} batches measured inside the command's timed call."
                if concurrent else "one after the other, in alternating order, each after one warm-up batch."))
    if cli_side == "plain":
        text += ("\nIn enginebench's place in the CLI rows: a plain Python script making enginebench's call in a fresh process"
                 "\n(anchor_vllm.py --mode stream), on the settings and prompts of enginebench's run cli0.")
    shas = {x for x in samples.sha if x}
    same_workload = rounds == 0 or len(shas) == 1
    if rounds:
        text += "\nworkload sha256 of the rounds: " + ", ".join(sorted(x[:16] for x in shas)) + ("" if same_workload else "  (DIFFERENT WORKLOADS)")
    text += "\ntoken counts: " + ("prompt and output tokens equal in every cell (enginebench = anchors = batch x lengths)"
                                  if samples.tokens_ok else "MISMATCH (see the JSON files)")
    for r, bs, got, want in samples.cli_prompts:
        text += (f"\nvllm bench CLI, pair {r}, {bs} prompts: {got} prompt tokens sent for {want} asked"
                 + ("" if got == want else f" ({(got / want - 1) * 100:+.2f}%: its random dataset decodes and re-encodes the prompts)"))
    text += "\n\nphases (other cpu = CPU seconds other processes took meanwhile; cores x elapsed available):"
    with open(os.path.join(out, "phases.jsonl")) as f:
        for line in f:
            p = json.loads(line)
            text += (f"\n  {p['phase']:<28} {p['elapsed_s']:7.1f} s  own cpu {p['own_cpu_s']:7.1f} s  other cpu {p['other_cpu_s']:6.1f} s"
                     f"  load {p['load_before'][0]:.2f} -> {p['load_after'][0]:.2f}")
    swap_log = os.path.join(out, "swap_cores.log")
    if os.path.exists(swap_log):
        with open(swap_log) as f:
            swaps = [line.split()[-2] for line in f if line.strip()]
        text += f"\ncore swaps per phase pair: {' '.join(swaps)}"
    for n in ("uptime-start.txt", "uptime-end.txt"):
        with open(os.path.join(out, n)) as f:
            text += f"\n{n[:-4]}: {f.read().strip()}"

    if "FAIL" in verdicts or not samples.tokens_ok or not same_workload:
        return text, 1, "agreement: FAIL"
    if "INCONCLUSIVE" in verdicts or not verdicts:
        return text, 3, (f"agreement: INCONCLUSIVE: a 95% interval reaches past the tolerance, or fewer than {min_clean} repetitions"
                         " were measured on a quiet machine; rerun with more ROUNDS or REPS, on an idle machine (WAIT_IDLE=600)")
    return text, 0, "agreement: PASS"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="the agreement directory")
    ap.add_argument("--rounds", type=int, default=0, help="rounds of (enginebench, anchors) [0]")
    ap.add_argument("--cli-pairs", type=int, default=0, help="pairs of (enginebench, vllm bench throughput) [0]")
    ap.add_argument("--cli-side", choices=sorted(CLI_ENGINE), default="enginebench",
                    help="who faced the command: enginebench, or a plain script (cliP/plain) [enginebench]")
    ap.add_argument("--concurrent", action="store_true", help="the sides ran at the same time")
    ap.add_argument("--swap-period", type=float, default=0, help="swap_cores.py's period, 0 if it did not run [0]")
    ap.add_argument("--tolerance", type=float, default=3, help="per cent [3]")
    ap.add_argument("--max-other-cores", type=float, default=0.10,
                    help="leave out a repetition during which other processes used more CPU than this [0.10]")
    ap.add_argument("--min-clean", type=int, default=3,
                    help="clean repetitions (the command: pairs) needed on each side for a verdict [3]")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write OUT/agreement.txt")
    args = ap.parse_args(argv)
    text, status, summary = report(args.out, args.rounds, args.cli_pairs, args.concurrent, args.swap_period,
                                   args.tolerance, args.max_other_cores, args.min_clean, args.cli_side)
    print(text)
    if not args.no_write:
        with open(os.path.join(args.out, "agreement.txt"), "w") as f:
            f.write(text + "\n")
    print("\n" + summary, file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
