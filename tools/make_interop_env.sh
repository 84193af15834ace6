#!/usr/bin/env bash
# Creates .venv-dlc: DeepLabCut 3.0.x in its own environment, with its own pins
# (pandas < 3), so the interop tests (tests/interop/) can run DeepLabCut's functions on
# files poseloop wrote. Reused when present and complete; remove .venv-dlc to rebuild.
#   tools/make_interop_env.sh [VENV]     (default .venv-dlc beside this repository's root)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-dlc}
PY=${PYTHON:-python3}
DLC_VERSION=${DLC_VERSION:-3.0.2}
stamp="$VENV/.installed-deeplabcut-$DLC_VERSION"
if [ -f "$stamp" ]; then
    exit 0
fi
rm -rf "$VENV"
"$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip install --quiet --no-input)
# torch first, pinned to the release this machine image holds on disk, so pip does not
# fetch a newer multi-GB build; torchvision must match it (timm, hence DeepLabCut, imports it).
case "$(uname -m)" in
    aarch64) "${pip[@]}" torch==2.9.1 torchvision==0.24.1 ;;
    *) "${pip[@]}" torch==2.14.1 torchvision==0.29.1 ;;
esac
"${pip[@]}" "deeplabcut==$DLC_VERSION" "torch==$("$VENV/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')"
"$VENV/bin/python" -c "import deeplabcut, pandas; assert pandas.__version__ < '3', pandas.__version__" >/dev/null
touch "$stamp"
