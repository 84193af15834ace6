#!/usr/bin/env bash
# Real calibration photographs for the tests: OpenCV's stereo checkerboard pairs
# (samples/data/left01..14.jpg, right01..14.jpg; 640x480, 9x6 inner corners), taken from the
# source distribution of opencv-python-headless on PyPI (about 95 MB, downloaded once).
#   tools/fetch_opencv_samples.sh [DIR]  -> DIR/left, DIR/right (default .cache/opencv-samples);
#   prints DIR. Then POSELOOP_OPENCV_SAMPLES=DIR runs
#   tests/calib/test_calibrate_photo.py::test_real_photographs_against_opencv.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.cache/opencv-samples}
version=4.10.0.84
if [ ! -f "$dir/right/right14.jpg" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --no-binary opencv-python-headless \
        "opencv-python-headless==$version" -d "$tmp" >&2
    # left.jpg / right.jpg are not calibration views: only the numbered ones
    tar -xzf "$tmp/opencv-python-headless-$version.tar.gz" -C "$tmp" \
        --wildcards "*/opencv/samples/data/left[0-9]*.jpg" "*/opencv/samples/data/right[0-9]*.jpg"
    mkdir -p "$dir/left" "$dir/right"
    cp "$tmp"/*/opencv/samples/data/left[0-9]*.jpg "$dir/left/"
    cp "$tmp"/*/opencv/samples/data/right[0-9]*.jpg "$dir/right/"
fi
realpath "$dir"
