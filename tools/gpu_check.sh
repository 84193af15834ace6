#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one script, ending with one table. Run from the
# repository root on a GPU machine: `bash tools/gpu_check.sh`. Without CUDA it says so and
# exits 0 (nothing to check). Sections print as they run; the last lines are the table.
#   gpu tests   the pytest tests marked gpu (first row of the table)
#   live/batch  tools/bench_gpu.py: ResNet-50 at 640x480, analyze at batch 1/8/32 against
#               the fastest bare forward, live latency p50/p99 for one and four cameras at
#               100 fps with drops, AMP on/off, eager vs CUDA graphs vs torch.compile
#               (tests + these: under 8 minutes)
#   training    ResNet-50 from ImageNet on openfield with the defaults (test error per
#               minute), and its training throughput against a bare loop (same network,
#               batch, input size, AMP and memory format); TRAINING=0 leaves it out
# Settings: PY (python, default .venv/bin/python), DATA (real data folder, default
# ../shared/data), OUT (scratch folder), MINUTES (training budget, default 5), WEIGHTS
# (imagenet, or a ResNet-50 state dict file such as resnet50-11ad3fa6.pth when the machine
# cannot download torchvision's weights). Extra arguments go to tools/bench_gpu.py.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/data}
OUT=${OUT:-$(mktemp -d /tmp/poseloop-gpu-check-XXXX)}
MINUTES=${MINUTES:-5}
WEIGHTS=${WEIGHTS:-imagenet}
TRAINING=${TRAINING:-1}
export PYTHONPATH=$PWD QT_QPA_PLATFORM=offscreen
if ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: no CUDA device here; nothing to check"
    exit 0
fi
start=$(date +%s)

echo "== gpu tests"
tests=$(timeout 180 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests 2>&1 \
        | tee /dev/stderr | tail -1)

echo "== live and batch benchmarks (tools/bench_gpu.py)"
bench=$(timeout $((470 - ($(date +%s) - start))) "$PY" tools/bench_gpu.py "$@" 2>&1 \
        | tee /dev/stderr | sed -n '/^| what | result |$/,$p')
rows=()
if [ "$TRAINING" = 1 ]; then
    echo "== training: ResNet-50 from ImageNet on openfield, defaults, ${MINUTES} min"
    if [ -f "$DATA/openfield/config.yaml" ]; then
        "$PY" tools/label_efficiency.py run "$DATA/openfield" --weights "$WEIGHTS" \
            --minutes "$MINUTES" --out "$OUT/train" \
        && "$PY" tools/label_efficiency.py plot "$OUT"/train/* --png "$OUT/openfield_gpu.png" \
            --title "openfield on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" \
        && rows+=("| openfield training, ${MINUTES} min | plot $OUT/openfield_gpu.png |") \
        || rows+=("| openfield training | failed (see the log above) |")
        grep -h "net\|amp\|channels_last\|batch_size\|crop_size" \
            "$OUT"/train/*/poseloop-models/iteration-0/*/train/pytorch_config.yaml | head -12
    else
        rows+=("| openfield training | skipped: no $DATA/openfield |")
    fi
    echo "== training throughput: trainer vs bare loop (ResNet-50, batch 8, 448x448, AMP)"
    ratio=$("$PY" tools/bench_train.py --device cuda --net resnet_50 --batch 8 --size 448 448 \
            --iters 20 --rounds 5 --threads 4 2>&1 | tee /dev/stderr | tail -1)
    rows+=("| training throughput, trainer vs bare (ResNet-50, batch 8, 448x448) | ${ratio//|/\/} |")
fi

echo
echo "GPU check, $(($(date +%s) - start)) s: $("$PY" -c 'import torch; print(torch.cuda.get_device_name(0))')"
if [ -n "$bench" ]; then
    echo "$bench"
else
    echo "| what | result |"
    echo "|---|---|"
    echo "| benchmarks | did not finish in time (see the log above) |"
fi | sed "2a | GPU tests (pytest -m gpu) | ${tests//|/\/} |"
for r in "${rows[@]}"; do echo "$r"; done
