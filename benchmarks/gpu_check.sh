#!/usr/bin/env bash
# One GPU check of colorgan in one call (benchmarks/gpu_check.py says what it checks); writes gpu_check.md,
# gpu_check.json and gpu_check.log to $OUT (or to the folder given by GPU_CHECK_OUT, default /tmp/gpu_check_out).
#
#   bash benchmarks/gpu_check.sh             # on a GPU machine: about 7 minutes (--budget 420 s for the checks)
#   bash benchmarks/gpu_check.sh --dry-run   # here, on the CPU, at tiny sizes (about 2 minutes on 2 cores)
#
# On the lent GPU machine (device tool; 15 minutes of device time in all, 10 per command). First, here, in the
# repository root of the checkout the session runs from (the tool sends that checkout, so this script must be in
# it): `bash benchmarks/gpu_wheels.sh`, which fills the git-ignored .whl/ (kornia, jsonargparse, lpips, wandb, the
# Lite0 weights, ...; about 48 MiB, under the 64 MiB that may travel). Then one call:
#
#   run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=600)
#
# 600 s is the most one command may run: each check is cut at its own limit or when the 420 s of the checks are
# up, and the install takes about 20 s, so the report is written well inside it. It is rewritten after every
# check, so even a killed run brings back the checks done so far. Then give the machine back (give_back)
# and copy the numbers from gpu_check.md into docs/BENCHMARKS.md ("Training throughput", "GPU").
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DEST=${OUT:-${GPU_CHECK_OUT:-/tmp/gpu_check_out}}
mkdir -p "$DEST"
# The GPU machine's python has torch, Lightning and timm but not kornia & co.: install the carried wheels there.
if ! "$PYTHON" -c "import kornia, jsonargparse" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "installing .whl/*.whl failed: run benchmarks/gpu_wheels.sh and carry .whl" | tee "$DEST/gpu_check.log"; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1 WANDB_MODE=disabled
"$PYTHON" benchmarks/gpu_check.py --out "$DEST" --budget "${GPU_CHECK_BUDGET:-420}" "$@" 2>&1 | tee "$DEST/gpu_check.log"
