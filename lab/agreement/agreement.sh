#!/usr/bin/env bash
# Agreement of enginebench's throughput with two anchors, on the same workload:
#   transformers: lab/agreement/anchor_transformers.py, a plain Python script timing the same
#                 model.generate calls on the same prompts, in the same order;
#   vllm:         lab/agreement/anchor_vllm.py, vLLM's own offline benchmark (vllm.benchmarks.throughput):
#                 in-process on enginebench's exact prompts (every cell), and the real
#                 `vllm bench throughput` command on its random dataset with the same token
#                 counts, in pairs of fresh processes: enginebench (vLLM only, one warm-up
#                 batch, CLI_REPS batches) then the command (a warm-up batch, then one
#                 generate call of CLI_REPS batches' prompts, run as that many waves), or the
#                 other way round, alternating.
#
# Usage (from the repository root, after `make setup`):
#   lab/agreement/agreement.sh [OUT_DIR]          default OUT_DIR: results/agreement-<time>
#
# Environment (defaults in brackets):
#   BATCH_SIZES [1,16,64]  INPUT_LEN [128]  OUTPUT_LEN [128]  REPS [20]  WARMUP [1]
#   ROUNDS [4]       rounds of (enginebench, anchors); even rounds run the anchors first (ABBA),
#                    so a slow drift of the machine's speed cancels; reps are pooled over rounds.
#                    0: none (only the command's pairs, below)
#   TEMPERATURE [1]  sampling temperature of every side (top_p 1); 1 is what `vllm bench
#                    throughput` always uses, so its anchors sample as enginebench does
#   TOLERANCE [3]    per cent. diff = the median over rounds of each round's enginebench
#                    median / anchor median - 1 (paired: the machine's drift between rounds
#                    cancels), with a 95% cluster-bootstrap interval (rounds, then
#                    repetitions within them):
#                    PASS when the whole interval lies within +-TOLERANCE, FAIL when it lies
#                    wholly outside, INCONCLUSIVE otherwise (the machine too noisy for the
#                    number of repetitions: add ROUNDS or REPS)
#   TRANSFORMERS [1] 0: leave the transformers engine out
#   THREADS          torch threads of the transformers engine and its anchor (OMP_NUM_THREADS in
#                    both, and --threads for the anchor) [torch's default]
#   VLLM [auto]      0: transformers only; auto: vLLM too when .venv/vllm-cpu exists
#   VLLM_CALL [bench-function]  how the in-process vLLM anchor calls and times each cell:
#                    bench-function (vLLM's benchmark function) or plain (enginebench's own call,
#                    llm.generate with one shared SamplingParams and no progress bar, timed by a
#                    plain script, as the transformers anchor does)
#   VLLM_ENV         more 'KEY=VALUE ...' for the vLLM worker, e.g. VLLM_ENABLE_V1_MULTIPROCESSING=0
#                    (the anchors read them from enginebench's manifest and set them too)
#   VLLM_ARGS        vLLM engine arguments, 'key=value, ...' (enginebench's --engine-arg 'vllm: ...'),
#                    e.g. max_num_batched_tokens=8192; the anchors build their engines with the same
#                    (read from the manifest; anchor_vllm.py refuses one it cannot pass to the command)
#   CLI_PAIRS [8]    pairs of (enginebench, `vllm bench throughput`) fresh processes, after the
#                    rounds; each side starts an engine, runs one warm-up batch and then
#                    CLI_REPS batches, as the command does. 0: leave the command out
#   CLI_REPS [4]     measured batches per side and pair: enginebench's --reps; the command's
#                    --num-prompts = batch x CLI_REPS (max_num_seqs = batch: that many waves)
#   CLI_BATCH_SIZES  batch sizes for the command [the largest of BATCH_SIZES]
#   CLI_SIDE [enginebench]  who faces the command in the pairs: enginebench, or plain: a plain
#                    Python script making enginebench's call in a fresh process
#                    (anchor_vllm.py --mode stream, on the settings and prompts of one short
#                    enginebench run made first, cli0): tells enginebench's host apart from
#                    a plain Python process when enginebench and the command differ.
#                    plain needs CONCURRENT=1 and one CLI batch size
#   PLAIN_ENGINE [enginebench]  CLI_SIDE=plain: the plain script's engine settings, enginebench's
#                    or the command's (command: a tokenizer, max_model_len + 16)
#                    With CONCURRENT=1 a pair runs both at once: the command starts once
#                    enginebench has measured its warm-up batch, and enginebench's side is
#                    the batches it measured inside the command's timed call. Once the
#                    command has ended enginebench is stopped with Ctrl-C (everything it
#                    measured stays on disk); CLI_EB_REPS caps its batches, enough to
#                    outlast the command's start-up and timed call on a slow 2-core
#                    machine: [CLI_REPS + 200] when the smallest CLI batch is over 16,
#                    [CLI_REPS + 600] over 4, [CLI_REPS + 1200] otherwise
#   CONCURRENT [0]   1: run enginebench and the anchors at the same time instead of one after
#                    the other (one engine at a time: VLLM=0 or TRANSFORMERS=0; one thread
#                    a side: THREADS [1], and OMP_NUM_THREADS for vLLM). On a machine whose
#                    speed drifts by 10-25% between phases minutes apart, both sides then
#                    see the same machine; they share its memory bandwidth, alike. The
#                    anchor loads its engine meanwhile, starts once enginebench has
#                    measured its first (warm-up) batch and runs the same cells in order;
#                    a repetition counts only if the other side was measuring all through
#                    it (in the tails one side runs alone, on a machine twice as free)
#   SWAP_PERIOD [0.05] both at once: lab/agreement/swap_cores.py pins each side's process tree to
#                    its own half of the CPUs and swaps the halves every SWAP_PERIOD seconds,
#                    so both spend the same time on each core (a shared VM's vCPUs run at
#                    different speeds for seconds at a time: 20-30 % apart). 0: leave the
#                    scheduler alone
#   WAIT_IDLE [0]    before each phase, wait up to this many seconds for 15 s of idle machine
#                    (under 5% CPU): on a shared machine other processes skew CPU timings badly
#   MAX_OTHER_CORES [0.10]  a repetition during which other processes (anything that is not this
#                    script's process tree, sampled from /proc every 0.5 s) used more CPU than
#                    this is left out of the medians; the table shows n=clean/all
#   MIN_CLEAN [3]    clean repetitions (the command: pairs) needed on each side for a verdict
#
# Prints one table (lab/agreement/agreement_report.py, also OUT/agreement.txt): engine, batch, anchor, output tok/s medians
# (min-max, n) of enginebench and of the anchor, the difference, PASS/FAIL; the machine's load
# (uptime) and the CPU time other processes took during each phase.
# Exit status: 0 all PASS, 1 a FAIL, 2 a set-up error, 3 inconclusive (too few quiet repetitions).
set -euo pipefail

prog=${0##*/}
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 2; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

cd "$(dirname "$0")/../.."
ROOT=$PWD
VENV_CPU=$ROOT/.venv/cpu
VENV_VLLM=$ROOT/.venv/vllm-cpu
MODEL=$ROOT/.cache/tiny-llama
BIN=$ROOT/bin/enginebench

BATCH_SIZES=${BATCH_SIZES:-1,16,64}
INPUT_LEN=${INPUT_LEN:-128}
OUTPUT_LEN=${OUTPUT_LEN:-128}
REPS=${REPS:-20}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-4}
TEMPERATURE=${TEMPERATURE:-1}
TOLERANCE=${TOLERANCE:-3}
VLLM=${VLLM:-auto}
TRANSFORMERS=${TRANSFORMERS:-1}
VLLM_CALL=${VLLM_CALL:-bench-function}
case $VLLM_CALL in bench-function | plain) ;; *) die "VLLM_CALL=$VLLM_CALL: give bench-function or plain" ;; esac
THREADS=${THREADS:-}
CONCURRENT=${CONCURRENT:-0}
SWAP_PERIOD=${SWAP_PERIOD:-0.05}
[ "$CONCURRENT" = 1 ] || SWAP_PERIOD=0
read -r -a vllm_env <<<"${VLLM_ENV:-}"
CLI_PAIRS=${CLI_PAIRS:-8}
CLI_REPS=${CLI_REPS:-4}
CLI_BATCH_SIZES=${CLI_BATCH_SIZES:-$(tr ',' '\n' <<<"$BATCH_SIZES" | sort -n | tail -n1)}
# Shorter batches: more of them to cover the command's start-up (about a minute here).
smallest_cli=$(tr ',' '\n' <<<"$CLI_BATCH_SIZES" | sort -n | head -n1)
if ((smallest_cli > 16)); then cli_eb_extra=200; elif ((smallest_cli > 4)); then cli_eb_extra=600; else cli_eb_extra=1200; fi
CLI_EB_REPS=${CLI_EB_REPS:-$((CLI_REPS + cli_eb_extra))}
CLI_SIDE=${CLI_SIDE:-enginebench}
case $CLI_SIDE in
enginebench) ;;
plain)
	[ "$CONCURRENT" = 1 ] || die "CLI_SIDE=plain runs the plain script beside the command: set CONCURRENT=1"
	[[ $CLI_BATCH_SIZES != *,* ]] || die "CLI_SIDE=plain: give one batch size in CLI_BATCH_SIZES (the script streams batches of one size)"
	;;
*) die "CLI_SIDE=$CLI_SIDE: give enginebench or plain" ;;
esac
PLAIN_ENGINE=${PLAIN_ENGINE:-enginebench}
case $PLAIN_ENGINE in enginebench | command) ;; *) die "PLAIN_ENGINE=$PLAIN_ENGINE: give enginebench or command" ;; esac

[ -x "$VENV_CPU/bin/python" ] || die "$VENV_CPU is missing: run \`make setup\` first"
[ -f "$MODEL/config.json" ] || die "$MODEL is missing: run \`make setup\` first"
case $VLLM in
0|no|false) VLLM=0 ;;
auto) if [ -x "$VENV_VLLM/bin/python" ]; then VLLM=1; else VLLM=0; log "no $VENV_VLLM: transformers only (\`make setup\` installs vLLM's CPU build)"; fi ;;
*) [ -x "$VENV_VLLM/bin/python" ] || die "$VENV_VLLM is missing: run \`make setup\` first"; VLLM=1 ;;
esac
if [ "$CONCURRENT" = 1 ]; then
	[ "$VLLM" = 0 ] || [ "$TRANSFORMERS" = 0 ] || die "CONCURRENT=1 compares one engine at a time: set VLLM=0 or TRANSFORMERS=0"
	THREADS=${THREADS:-1}
	if [ "$SWAP_PERIOD" != 0 ] && ((THREADS > $(nproc) / 2)); then
		die "THREADS=$THREADS: with the cores swapped each side has $(($(nproc) / 2)) of the $(nproc) CPUs; lower THREADS, or SWAP_PERIOD=0"
	fi
	if [ "$VLLM" = 1 ] && [[ " ${VLLM_ENV:-} " != *" VLLM_ENABLE_V1_MULTIPROCESSING="* ]]; then
		log "warning: two vLLMs at once, each with a front-end and an engine-core process polling each other; on a small machine set VLLM_ENV=VLLM_ENABLE_V1_MULTIPROCESSING=0"
	fi
fi
if [ ! -x "$BIN" ] || [ -n "$(find cmd offline pyhost bindings -newer "$BIN" -name '*.go' -o -newer "$BIN" -name '*.py' 2>/dev/null | head -n1)" ]; then
	log "building $BIN"
	(CGO_ENABLED=1 CGO_CFLAGS="${CGO_CFLAGS:--O2 -Wno-deprecated-declarations}" go build -o "$BIN" ./cmd/enginebench) || die "go build failed"
fi

OUT=${1:-results/agreement-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ -z "$(ls -A "$OUT")" ] || die "$OUT is not empty: give a new OUT_DIR"
PY=$VENV_CPU/bin/python

# phase NAME CMD...: runs CMD with its output in OUT/NAME.log (its PID in OUT/NAME.pid); records the elapsed time, the
# CPU time of CMD's process tree and the CPU time the whole machine used, so the table can say
# how much other processes took meanwhile (/proc/stat; rusage of waited-for children).
# CMD's exit status must be 0, or $stopped_rc when that is set (a phase this script stops).
phase() {
	local name=$1 rc=0; shift
	log "$name: $*"
	"$PY" - "$OUT/phases.jsonl" "$name" "$OUT/$name.log" "$@" <<'EOF' || rc=$?
import json, os, resource, subprocess, sys, time
out, name, logf, cmd = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
def load():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]
wait_idle = float(os.environ.get("WAIT_IDLE") or 0)
if wait_idle > 0:
    # Wait (at most WAIT_IDLE s) until the machine has been idle for 15 s: under 5% CPU.
    deadline, quiet = time.monotonic() + wait_idle, 0
    while time.monotonic() < deadline and quiet < 3:
        b, t = busy(), time.monotonic()
        time.sleep(5)
        use = (busy() - b) / (time.monotonic() - t) / os.cpu_count()
        quiet = quiet + 1 if use < 0.05 else 0
    if quiet < 3:
        print(f"agreement.sh: {name}: the machine stayed busy for {wait_idle:g} s; measuring anyway", file=sys.stderr)
l0, b0, t0 = load(), busy(), time.monotonic()
r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(logf, "w") as lf:
    proc = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
    with open(logf[:-len(".log")] + ".pid", "w") as pf:
        pf.write(f"{proc.pid}\n")  # for swap_cores.py
    rc = proc.wait()
r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
el, b1, l1 = time.monotonic() - t0, busy(), load()
own = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
rec = {"phase": name, "rc": rc, "elapsed_s": el, "machine_cpu_s": b1 - b0, "own_cpu_s": own,
       "other_cpu_s": max(0.0, b1 - b0 - own), "load_before": l0, "load_after": l1}
with open(out, "a") as f:
    f.write(json.dumps(rec) + "\n")
sys.exit(rc)
EOF
	[ $rc -eq 0 ] || [ "$rc" = "${stopped_rc:-}" ] || { tail -n 30 "$OUT/$name.log" >&2; die "$name failed (exit $rc): see $OUT/$name.log"; }
}

# Other processes' CPU use, sampled every 0.5 s: the cumulative CPU seconds of every process
# that is not this script or one of its descendants (kernel threads included). A repetition
# measured while others took more than MAX_OTHER_CORES is left out of the medians (and counted).
"$PY" - "$$" "$OUT/other_cpu.tsv" <<'EOF' &
import os, sys, time
root, path = int(sys.argv[1]), sys.argv[2]
tck, me = os.sysconf("SC_CLK_TCK"), os.getpid()
prev, total = None, 0.0
with open(path, "w", buffering=1) as out:
    while os.path.exists(f"/proc/{root}"):
        procs = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open(f"/proc/{d}/stat") as f:
                        st = f.read()
                except OSError:
                    continue
                x = st[st.rfind(")") + 2:].split()
                procs[int(d)] = (int(x[1]), (int(x[11]) + int(x[12])) / tck)
        t = time.time()
        kids = {}
        for pid, (ppid, _) in procs.items():
            kids.setdefault(ppid, []).append(pid)
        mine, stack = {me}, [root]
        while stack:
            q = stack.pop()
            mine.add(q)
            stack.extend(kids.get(q, []))
        cur = {pid: c for pid, (_, c) in procs.items() if pid not in mine}
        if prev is not None:
            total += sum(c - prev.get(pid, 0.0) for pid, c in cur.items() if c >= prev.get(pid, 0.0))
        prev = cur
        out.write(f"{t:.3f}\t{total:.3f}\n")
        time.sleep(0.5)
EOF
monitor=$!
# On the way out, also the phases still running in the background (a failed anchor leaves
# enginebench measuring).
trap 'kill $monitor $(jobs -p) 2>/dev/null || true' EXIT
uptime | tee "$OUT/uptime-start.txt" >&2
engines=()
[ "$TRANSFORMERS" = 0 ] || engines+=(--engine "transformers=$VENV_CPU")
[ "$TRANSFORMERS" = 0 ] || [ -z "$THREADS" ] || engines+=(--engine-env "transformers: OMP_NUM_THREADS=$THREADS")
if [ "$VLLM" = 1 ]; then
	engines+=(--engine "vllm=$VENV_VLLM" --engine-env 'vllm: VLLM_CPU_KVCACHE_SPACE=1' --engine-env 'vllm: VLLM_CPU_OMP_THREADS_BIND=nobind')
	[ -z "${VLLM_ARGS:-}" ] || engines+=(--engine-arg "vllm: $VLLM_ARGS")
	for kv in ${vllm_env[@]+"${vllm_env[@]}"}; do engines+=(--engine-env "vllm: $kv"); done
	# Two vLLMs at once: vLLM's CPU worker skips its own cut to one torch thread when it
	# binds threads, and two pools of spinning OpenMP threads on 2 cores run 3x slower.
	[ "$CONCURRENT" != 1 ] || [[ " ${VLLM_ENV:-} " == *" OMP_NUM_THREADS="* ]] || engines+=(--engine-env "vllm: OMP_NUM_THREADS=$THREADS")
fi
[ ${#engines[@]} -gt 0 ] || die "no engine: TRANSFORMERS=0 and no vLLM"
vllm_engines=()
for ((i = 0; i < ${#engines[@]}; i += 2)); do
	case ${engines[i + 1]} in vllm=* | "vllm: "*) vllm_engines+=("${engines[i]}" "${engines[i + 1]}") ;; esac
done

# swap PHASE_A PHASE_B: in the background, keeps the two phases' process trees on separate
# cores, swapped every SWAP_PERIOD seconds (lab/agreement/swap_cores.py says why).
swap() {
	[ "$SWAP_PERIOD" != 0 ] || return 0
	"$PY" lab/agreement/swap_cores.py --period "$SWAP_PERIOD" --log "$OUT/swap_cores.log" "$OUT/$1.pid" "$OUT/$2.pid" &
}

eb() {
	phase "round$1-enginebench" "$BIN" run "${engines[@]}" --model "$MODEL" --batch-sizes "$BATCH_SIZES" \
		--input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --reps "$REPS" --warmup "$WARMUP" \
		--temperature "$TEMPERATURE" --top-p 1 --out "$OUT/round$1/enginebench"
}
# anchors ROUND RUN_DIR: the anchors on RUN_DIR's workload and engine settings.
anchors() {
	local r=$1 src=$2
	mkdir -p "$OUT/round$r"
	if [ "$TRANSFORMERS" != 0 ]; then
		# OMP_NUM_THREADS as well, as enginebench's worker has it: the same thread pools.
		(
			[ -z "$THREADS" ] || export OMP_NUM_THREADS="$THREADS"
			phase "round$r-anchor-transformers" "$PY" lab/agreement/anchor_transformers.py "$src" ${THREADS:+--threads "$THREADS"} ${start_after:+--start-after "$start_after"} \
				--json "$OUT/round$r/anchor_transformers.json"
		)
	fi
	if [ "$VLLM" = 1 ]; then
		phase "round$r-anchor-vllm" "$VENV_VLLM/bin/python" lab/agreement/anchor_vllm.py "$src" --call "$VLLM_CALL" \
			${start_after:+--start-after "$start_after"} --json "$OUT/round$r/anchor_vllm.json"
	fi
}

# The anchors read the workload and the engine settings from an enginebench run, so round 1
# starts with enginebench; the even rounds run the anchors first, on round 1's workload and
# settings (same seed and flags: the same prompts, which the table checks by hash).
for ((r = 1; r <= ROUNDS; r++)); do
	if [ "$CONCURRENT" = 1 ]; then
		# The anchor loads its model beside enginebench and starts its cells once
		# enginebench has measured its first (warm-up) batch.
		# From round 2 on the anchors take the settings from round 1 (the same), so
		# they load their engine while enginebench loads its own.
		swap "round$r-enginebench" "round$r-anchor-$([ "$VLLM" = 1 ] && echo vllm || echo transformers)"
		eb "$r" &
		ebpid=$!
		src=$OUT/round1/enginebench
		((r > 1)) || src=$OUT/round$r/enginebench
		start_after=$OUT/round$r/enginebench/results.jsonl anchors "$r" "$src"
		wait "$ebpid"
	elif ((r % 2 == 1)); then
		eb "$r"; anchors "$r" "$OUT/round$r/enginebench"
	else
		anchors "$r" "$OUT/round1/enginebench"; eb "$r"
	fi
done

# The command, in fresh processes on both sides: enginebench runs vLLM alone on batches of
# the command's size, one warm-up and CLI_REPS measured, so its engine is as new as the
# command's; the two alternate (ABBA) so the machine's drift cancels.
cli_eb() {
	phase "cli$1-enginebench" "$BIN" run "${vllm_engines[@]}" --model "$MODEL" --batch-sizes "$CLI_BATCH_SIZES" \
		--input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --reps "$2" --warmup 1 \
		--temperature "$TEMPERATURE" --top-p 1 --out "$OUT/cli$1/enginebench"
}
cli_anchor() {
	phase "cli$1-anchor-vllm-cli" "$VENV_VLLM/bin/python" lab/agreement/anchor_vllm.py "$2" --mode cli ${start_after:+--start-after "$start_after"} \
		--cli-batch-sizes "$CLI_BATCH_SIZES" --cli-waves "$CLI_REPS" --tmp "$OUT/cli$1" --json "$OUT/cli$1/anchor_vllm_cli.json"
}
# cli_plain PAIR: the plain script in enginebench's place, on cli0's settings and prompts.
cli_plain() {
	mkdir -p "$OUT/cli$1/plain"
	phase "cli$1-plain" "$VENV_VLLM/bin/python" lab/agreement/anchor_vllm.py "$OUT/cli0/enginebench" --mode stream \
		--stream-batch-size "$CLI_BATCH_SIZES" --stream-engine "$PLAIN_ENGINE" --stream-reps "$CLI_EB_REPS" --stream-results "$OUT/cli$1/plain/stream.jsonl" \
		--json "$OUT/cli$1/plain/anchor_vllm_stream.json"
}
if [ "$VLLM" = 1 ] && [ "$CLI_PAIRS" -gt 0 ]; then
	# CLI_SIDE=plain: the settings and prompts both sides read, from one short enginebench run.
	if [ "$CLI_SIDE" = plain ]; then mkdir -p "$OUT/cli0" && cli_eb 0 1; fi
	for ((p = 1; p <= CLI_PAIRS; p++)); do
		mkdir -p "$OUT/cli$p"
		if [ "$CONCURRENT" = 1 ]; then
			# The side (enginebench, or the plain script) measures all through the
			# command's run; the batches it measured during the command's timed call
			# are its side of the pair. Once the command has ended, Ctrl-C stops it
			# (exit status 130): the rest of its batches would only lengthen the pair.
			settings=$OUT/cli$p/enginebench
			[ "$CLI_SIDE" = enginebench ] || settings=$OUT/cli0/enginebench
			swap "cli$p-$CLI_SIDE" "cli$p-anchor-vllm-cli"
			if [ "$CLI_SIDE" = plain ]; then stopped_rc=130 cli_plain "$p" & else stopped_rc=130 cli_eb "$p" "$CLI_EB_REPS" & fi
			sidepid=$!
			side_file=results.jsonl
			[ "$CLI_SIDE" = enginebench ] || side_file=stream.jsonl # the plain script's own records
			start_after=$OUT/cli$p/$CLI_SIDE/$side_file cli_anchor "$p" "$settings"
			kill -INT "$(cat "$OUT/cli$p-$CLI_SIDE.pid")" 2>/dev/null || true
			wait "$sidepid"
		elif ((p % 2 == 1)); then
			cli_eb "$p" "$CLI_REPS"; cli_anchor "$p" "$OUT/cli$p/enginebench"
		else
			cli_anchor "$p" "$OUT/cli1/enginebench"; cli_eb "$p" "$CLI_REPS"
		fi
	done
fi
uptime | tee "$OUT/uptime-end.txt" >&2

# The comparison.
kill $monitor 2>/dev/null || true
concurrent=()
[ "$CONCURRENT" != 1 ] || concurrent=(--concurrent)
"$PY" lab/agreement/agreement_report.py "$OUT" --rounds "$ROUNDS" --cli-pairs "$([ "$VLLM" = 1 ] && echo "$CLI_PAIRS" || echo 0)" \
	${concurrent[@]+"${concurrent[@]}"} --cli-side "$CLI_SIDE" --swap-period "$SWAP_PERIOD" --tolerance "$TOLERANCE" \
	--max-other-cores "${MAX_OTHER_CORES:-0.10}" --min-clean "${MIN_CLEAN:-3}"
