#!/usr/bin/env bash
# Checks that need a CUDA GPU, in one short script: run from the repository root on a GPU
# machine, e.g. `bash tools/gpu_check.sh`. Each section prints its numbers; the script stops
# at the first failure. Sections (other issues add theirs below):
#   gpu tests   the pytest tests marked gpu
#   training    ResNet-50 from ImageNet on openfield with the defaults (test error per
#               minute), and its training throughput against a bare loop (same network,
#               batch, input size, AMP and memory format)
# Settings: DATA (real data folder, default ../shared/data), OUT (scratch folder),
# MINUTES (training budget, default 5), WEIGHTS (imagenet, or a ResNet-50 state dict file
# such as resnet50-11ad3fa6.pth when the machine cannot download torchvision's weights).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD
PY=${PY:-python}
DATA=${DATA:-../shared/data}
OUT=${OUT:-$(mktemp -d /tmp/poseloop-gpu-check-XXXX)}
MINUTES=${MINUTES:-5}
WEIGHTS=${WEIGHTS:-imagenet}

$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print('device:', torch.cuda.get_device_name(0), 'torch', torch.__version__)"

echo "== gpu tests"
$PY -m pytest -m gpu -q -p no:cacheprovider tests

echo "== training: ResNet-50 from ImageNet on openfield, defaults, ${MINUTES} min"
if [ -f "$DATA/openfield/config.yaml" ]; then
    $PY tools/label_efficiency.py run "$DATA/openfield" --weights "$WEIGHTS" \
        --minutes "$MINUTES" --out "$OUT/train"
    $PY tools/label_efficiency.py plot "$OUT"/train/* --png "$OUT/openfield_gpu.png" \
        --title "openfield on $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
    grep -h "net\|amp\|channels_last\|batch_size\|crop_size" \
        "$OUT"/train/*/poseloop-models/iteration-0/*/train/pytorch_config.yaml | head -12
else
    echo "skipped: no $DATA/openfield"
fi

echo "== training throughput: trainer vs bare loop (ResNet-50, batch 8, 448x448, AMP)"
$PY tools/bench_train.py --device cuda --net resnet_50 --batch 8 --size 448 448 \
    --iters 20 --rounds 5 --threads 4
