#!/usr/bin/env bash
# The noise floor of agreement.sh's both-at-once mode on this machine: two copies of the
# same plain script (lab/agreement/anchor_transformers.py, one torch thread each) side by side,
# in rounds that alternate between the cores left to the scheduler and the cores swapped
# every SWAP_PERIOD seconds (lab/agreement/swap_cores.py). Both copies do the same work, so any
# difference between them is the machine's; the smaller spread tells which mode to trust.
#
# Usage (from the repository root, after `make setup`):
#   lab/agreement/calibrate_cores.sh RUN_DIR [OUT_DIR]
# RUN_DIR: an enginebench --out directory of a transformers run (its workload.json and
# manifest.json give the model, dtype and prompts), e.g. an agreement run's round1/enginebench.
#
# Environment: ROUNDS [12] (half of them swapped), REPS [40] batches per copy and round,
# BATCH [1] batch size (taken from the workload's prompts), SWAP_PERIOD [0.05].
set -euo pipefail
prog=${0##*/}
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 2; }

cd "$(dirname "$0")/../.."
PY=$PWD/.venv/cpu/bin/python
[ -x "$PY" ] || die ".venv/cpu is missing: run \`make setup\` first"
RUN=${1:?usage: $prog RUN_DIR [OUT_DIR]}
[ -f "$RUN/workload.json" ] && [ -f "$RUN/manifest.json" ] || die "$RUN has no workload.json and manifest.json: give an enginebench --out directory"
OUT=${2:-results/calibrate-cores-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
ROUNDS=${ROUNDS:-12} REPS=${REPS:-40} BATCH=${BATCH:-1} SWAP_PERIOD=${SWAP_PERIOD:-0.05}

# One warm-up and REPS measured batches of BATCH prompts, from the run's own prompts.
"$PY" - "$RUN/workload.json" "$OUT/workload.json" "$REPS" "$BATCH" <<'EOF'
import json, sys
src, dst, reps, bs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with open(src) as f:
    wl = json.load(f)
need = (reps + 1) * bs
if len(wl["prompts"]) < need:
    sys.exit(f"calibrate_cores.sh: {src} has {len(wl['prompts'])} prompts, {need} needed: lower REPS or BATCH")
wl["cells"] = [{"batch_size": bs, "rep": max(i - 1, 0), "warmup": i == 0, "first": i * bs} for i in range(reps + 1)]
with open(dst, "w") as f:
    json.dump(wl, f)
EOF

export OMP_NUM_THREADS=1
for ((r = 1; r <= ROUNDS; r++)); do
	mode=free
	((r % 2 == 0)) || mode=swapped
	rm -f "$OUT/go$r"
	for side in a b; do
		"$PY" lab/agreement/anchor_transformers.py "$RUN" --workload "$OUT/workload.json" --threads 1 \
			--start-after "$OUT/go$r" --json "$OUT/round$r-$side.json" >/dev/null 2>"$OUT/round$r-$side.log" &
		echo $! >"$OUT/round$r-$side.pid"
	done
	[ "$mode" = free ] || "$PY" lab/agreement/swap_cores.py --period "$SWAP_PERIOD" --log "$OUT/swap_cores.log" "$OUT/round$r-a.pid" "$OUT/round$r-b.pid" &
	# Both copies load the model, then start together.
	sleep 15
	echo go >"$OUT/go$r"
	wait
	echo "$r $mode" >>"$OUT/modes.txt"
	printf '%s: round %d of %d (%s) done\n' "$prog" "$r" "$ROUNDS" "$mode" >&2
done

"$PY" - "$OUT" <<'EOF' | tee "$OUT/calibration.txt"
import json, os, statistics, sys
out = sys.argv[1]
by = {"free": [], "swapped": []}
print("round  cores    copy a tok/s  copy b tok/s  a/b - 1")
with open(os.path.join(out, "modes.txt")) as f:
    for line in f:
        r, mode = line.split()
        med = []
        for side in "ab":
            with open(os.path.join(out, f"round{r}-{side}.json")) as g:
                cells = [c for c in json.load(g)["cells"] if not c["warmup"]]
            med.append(statistics.median(c["output_tokens"] / c["wall_s"] for c in cells))
        d = (med[0] / med[1] - 1) * 100
        by[mode].append(d)
        print(f"{r:5}  {mode:<8} {med[0]:12.1f}  {med[1]:12.1f}  {d:+6.1f} %")
for mode, ds in by.items():
    if ds:
        print(f"{mode:<8} rounds {len(ds):2}: a/b - 1 from {min(ds):+.1f} to {max(ds):+.1f} %, median |a/b - 1| {statistics.median(abs(d) for d in ds):.1f} %")
EOF
