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
# Written whole or not at all: the photographs go to a new folder beside $dir, which then
# takes $dir's name in one rename, so a test reading $dir never sees it half copied (a
# right folder short of its last views pairs the views wrongly and fails the test).
if [ ! -f "$dir/complete" ]; then
    mkdir -p "$(dirname "$dir")"
    tmp=$(mktemp -d "$dir.XXXXXX")
    chmod 755 "$tmp"
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --no-binary opencv-python-headless \
        "opencv-python-headless==$version" -d "$tmp/sdist" >&2
    # left.jpg / right.jpg are not calibration views: only the numbered ones
    tar -xzf "$tmp/sdist/opencv-python-headless-$version.tar.gz" -C "$tmp/sdist" \
        --wildcards "*/opencv/samples/data/left[0-9]*.jpg" "*/opencv/samples/data/right[0-9]*.jpg"
    mkdir -p "$tmp/left" "$tmp/right"
    cp "$tmp"/sdist/*/opencv/samples/data/left[0-9]*.jpg "$tmp/left/"
    cp "$tmp"/sdist/*/opencv/samples/data/right[0-9]*.jpg "$tmp/right/"
    rm -rf "$tmp/sdist"
    touch "$tmp/complete"
    rm -rf "$dir"
    mv -T "$tmp" "$dir"
fi
realpath "$dir"
