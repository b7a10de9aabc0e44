#!/usr/bin/env bash
# gpu-check.sh: run enginebench on a real NVIDIA GPU and check what it measured.
#
# Usage:
#   scripts/gpu-check.sh --enginebench BIN [--python PYTHON] [--out DIR]
#
# For a Linux machine with an NVIDIA GPU, its driver, and a python with torch
# and transformers; no vLLM, SGLang, Go or network needed. BIN is an
# enginebench binary built beforehand (`make build`) on the same CPU
# architecture. The script
#   1. stops with a clear message when there is no usable GPU;
#   2. builds a random-weight Llama of about 1 B parameters
#      (scripts/build_tiny_model.py --size 1b);
#   3. runs `enginebench run --engine transformers=PYTHON --require-gpu` over
#      batch sizes 1, 8 and 32, 128 input and 128 output tokens, 3 repetitions;
#   4. checks the run (scripts/gpu_check.py): the GPU in the manifest, NVML
#      peak memory above 0 in every measured row, energy above 0 where the
#      driver has the counter, the process tree's GPU memory or a reason it is
#      absent, a decode bound and 0 < MBU < 1.
# Everything goes into DIR (default gpu-check-<date>): the model, the run
# (report.txt, manifest.json, results.jsonl, summary.csv, charts), the checks
# (checks.txt), nvidia-smi's view of the machine and the python's libpython.
# Exit status: 0 all checks passed, 1 a check failed, 2 no GPU or bad usage.

set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="" python="${ENGINEBENCH_PYTHON:-python3}" out=""

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "gpu-check: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--enginebench) bin="${2:-}"; shift 2 ;;
	--python) python="${2:-}"; shift 2 ;;
	--out) out="${2:-}"; shift 2 ;;
	-h | --help) usage ;;
	*) echo "gpu-check: unknown argument $1" >&2; usage ;;
	esac
done
[ -n "$bin" ] || die "--enginebench BIN is required: build it first with \`make build\` (bin/enginebench) on a machine of this CPU architecture ($(uname -m))"
[ -x "$bin" ] || die "--enginebench $bin is not an executable file"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
command -v "$python" >/dev/null 2>&1 || die "--python $python: not found; give a python with torch and transformers"
python="$(command -v "$python")"
out="${out:-gpu-check-$(date -u +%Y%m%d-%H%M%S)}"

# 1. A GPU, or a clear stop.
if ! "$bin" version >/dev/null 2>&1; then
	die "$bin does not run here ($("$bin" version 2>&1 | head -1)): build it on a $(uname -m) machine"
fi
if ! command -v nvidia-smi >/dev/null 2>&1; then
	die "no NVIDIA GPU here: nvidia-smi is not installed (no driver). This script is for a machine with an NVIDIA GPU and its driver."
fi
if ! gpus="$(nvidia-smi -L 2>&1)" || [ -z "$gpus" ]; then
	die "no NVIDIA GPU here: nvidia-smi -L says: ${gpus:-nothing}"
fi
if ! cuda="$("$python" -c 'import torch, transformers; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())' 2>&1)"; then
	die "$python cannot import torch and transformers: $(echo "$cuda" | tail -1)"
fi
case "$cuda" in
*True) ;;
*) die "$python's torch ($cuda) sees no CUDA device: install a CUDA build of torch" ;;
esac

mkdir -p "$out"
out="$(cd "$out" && pwd)"
echo "gpu-check: $gpus; torch/CUDA/available: $cuda; writing $out" >&2
nvidia-smi -q >"$out/nvidia-smi.txt" 2>&1 || true
# Where the embedded interpreter comes from: a python without a shared
# libpython cannot be embedded, and enginebench says so.
"$python" - >"$out/python.txt" 2>&1 <<'EOF' || true
import sys, sysconfig
print("python", sys.version.replace("\n", " "))
print("executable", sys.executable)
for k in ("Py_ENABLE_SHARED", "LDLIBRARY", "INSTSONAME", "LIBDIR", "LIBPL", "MULTIARCH"):
    print(k, sysconfig.get_config_var(k))
EOF

# 2. The model.
"$python" "$here/build_tiny_model.py" --out "$out/model-1b" --size 1b

# 3. The run. Its exit status is checked below, after the checks ran.
status=0
"$bin" run --engine "transformers=$python" --model "$out/model-1b" --dtype bfloat16 \
	--batch-sizes 1,8,32 --input-len 128 --output-len 128 --reps 3 --warmup 1 --seed 0 \
	--require-gpu --out "$out/run" --load-timeout 10m --batch-timeout 10m \
	>"$out/run.stdout" 2>"$out/run.stderr" || status=$?
cat "$out/run.stdout"
if [ ! -f "$out/run/manifest.json" ]; then
	tail -20 "$out/run.stderr" >&2
	die "enginebench run stopped before it measured anything (exit $status); see $out/run.stderr"
fi

# Process-tree GPU memory needs the driver to list our PIDs; in a container
# without the host's PID namespace it lists the host's. A CUDA allocation of
# our own tells which.
note="$("$python" - 2>/dev/null <<'EOF' || true
import os, subprocess, torch
x = torch.empty(64 << 20, dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"], capture_output=True, text=True).stdout
pids = [p.strip() for p in out.splitlines() if p.strip()]
if str(os.getpid()) not in pids:
    print(f"the driver lists compute processes {pids or 'none'} but not this process ({os.getpid()}): "
          "a container without the host's PID namespace, so per-process GPU memory cannot be attributed")
EOF
)"

# 4. The checks.
checks=0
"$python" "$here/gpu_check.py" "$out/run" --process-memory-note "$note" | tee "$out/checks.txt" || checks=$?
if [ "$status" -ne 0 ]; then
	echo "gpu-check: enginebench run exited $status; see $out/run.stderr" >&2
	exit 1
fi
[ "$checks" -eq 0 ] || exit 1
echo "gpu-check: all checks passed; the run is in $out/run" >&2
