#!/usr/bin/env bash
# Creates the interop environments, each with its tool's own pins, for tests/interop/:
#   .venv-dlc       DeepLabCut 3.0.x (pandas < 3, its torch)
#   .venv-movement  movement (with sleap-io, pynwb, ndx-pose as it pins them)
# Each is reused when complete (a stamp names what it holds); remove one to rebuild it.
#   tools/make_interop_env.sh            both
#   tools/make_interop_env.sh dlc        only DeepLabCut's
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DLC_VERSION=${DLC_VERSION:-3.0.2}
MOVEMENT_VERSION=${MOVEMENT_VERSION:-0.15.0}

fresh() {  # fresh VENV STAMP: true when VENV must be (re)built
    [ -f "$1/$2" ] && return 1
    rm -rf "$1"
    "$PY" -m venv "$1"
}

make_dlc() {
    local venv=.venv-dlc stamp=".installed-deeplabcut-$DLC_VERSION"
    fresh "$venv" "$stamp" || return 0
    local pip=("$venv/bin/python" -m pip install --quiet --no-input)
    # torch first, pinned to the release this machine image holds on disk, so pip does
    # not fetch a newer multi-GB build; torchvision must match it (timm, hence
    # DeepLabCut, imports it).
    case "$(uname -m)" in
        aarch64) "${pip[@]}" torch==2.9.1 torchvision==0.24.1 ;;
        *) "${pip[@]}" torch==2.14.1 torchvision==0.29.1 ;;
    esac
    local torch
    torch=$("$venv/bin/python" -c 'import torch; print(torch.__version__.split("+")[0])')
    "${pip[@]}" "deeplabcut==$DLC_VERSION" "torch==$torch"
    "$venv/bin/python" -c "import deeplabcut, pandas; assert pandas.__version__ < '3'" >/dev/null
    touch "$venv/$stamp"
}

make_movement() {
    local venv=.venv-movement stamp=".installed-movement-$MOVEMENT_VERSION"
    fresh "$venv" "$stamp" || return 0
    "$venv/bin/python" -m pip install --quiet --no-input "movement==$MOVEMENT_VERSION"
    "$venv/bin/python" -c "import movement.io.load_poses" >/dev/null
    touch "$venv/$stamp"
}

case "${1:-all}" in
    dlc) make_dlc ;;
    movement) make_movement ;;
    all) make_dlc; make_movement ;;
    *) echo "usage: tools/make_interop_env.sh [dlc|movement|all]" >&2; exit 2 ;;
esac
