#!/usr/bin/env bash
# Every GPU test and the GPU benchmarks, in under 8 minutes, ending with one table.
#   tools/gpu_check.sh            (on a machine with CUDA, from the repository root)
# Without CUDA it says so and exits 0 (nothing to check). Sections print as they run;
# the last lines are the table (pytest's result is its first row).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
export PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device here; nothing to check"
    exit 0
fi
start=$(date +%s)
tests=$(timeout 180 "$PY" -m pytest -m gpu -q -p no:cacheprovider 2>&1 | tee /dev/stderr | tail -1)
bench=$(timeout $((470 - ($(date +%s) - start))) "$PY" tools/bench_gpu.py "$@" 2>&1 \
        | tee /dev/stderr | sed -n '/^| what | result |$/,$p')
echo
echo "GPU check, $(($(date +%s) - start)) s: $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))')"
if [ -n "$bench" ]; then
    echo "$bench"
else
    echo "| what | result |"
    echo "|---|---|"
    echo "| benchmarks | did not finish in time (see the log above) |"
fi | sed "2a | GPU tests (pytest -m gpu) | ${tests//|/\/} |"
